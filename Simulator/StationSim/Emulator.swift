import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PlatformAPI
import PlatformEmulator
import SecretFile
import ServiceLifecycle
import UnixSignals

struct Emulator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the platform emulator (the ingest API of docs/platform-api.yaml) until SIGTERM/SIGINT.",
        discussion: "Prints `listening on http://HOST:PORT` on standard output once it accepts connections (use --port 0 for any free port).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8080
    @Option(help: "SQLite file for what it receives (default: in memory).") var db: String?
    @Option(help: "Require this bearer token on ingest requests.") var token: String?
    @Option(
        help: ArgumentHelp(
            "Require signed station requests: the HMAC key file (hex, mode 0600) of every station, or of one with STATION=FILE.",
            discussion: "Repeat for several stations; a FILE without STATION= is the key of every station not named.",
            valueName: "[STATION=]FILE"))
    var signingKey: [String] = []
    @Option(help: "Log level (trace, debug, info, notice, warning, error).") var logLevel = "info"

    func validate() throws {
        _ = try Self.keyring(signingKey)
    }

    /// Reads the `--signing-key` files: each must be private to its owner, and hold a hex key.
    static func keyring(_ options: [String]) throws -> SigningKeyring {
        var keys = SigningKeyring()
        for option in options {
            let (station, path): (String?, String)
            if let equals = option.firstIndex(of: "="), !option[..<equals].contains("/") {
                (station, path) = (String(option[..<equals]), String(option[option.index(after: equals)...]))
            } else {
                (station, path) = (nil, option)
            }
            let text: String
            do {
                text = try SecretFile.readText(path)
            } catch {
                throw ValidationError("--signing-key \(option): \(error)")
            }
            let key: HMACKey
            switch HMACKey.parse(hex: text) {
            case .success(let parsed): key = parsed
            case .failure(let problem): throw ValidationError("--signing-key \(option): \(path): \(problem.message)")
            }
            if let station {
                guard keys.stations[station] == nil else { throw ValidationError("--signing-key: station \(station) is given twice") }
                keys.stations[station] = key
            } else {
                guard keys.defaultKey == nil else { throw ValidationError("--signing-key: two keys without STATION=; name the stations") }
                keys.defaultKey = key
            }
        }
        return keys
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "station.platform")
        var configuration = EmulatorConfiguration(host: host, port: port, databasePath: db, token: token)
        configuration.signingKeys = try Self.keyring(signingKey)
        let store = try EmulatorStore(path: db)
        let host = self.host
        let app = buildEmulatorApplication(configuration: configuration, store: store, logger: logger) { port in
            FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [app], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        try await group.run()
    }
}
