import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PlatformEmulator
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
    @Option(help: "Log level (trace, debug, info, notice, warning, error).") var logLevel = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "station.platform")
        let configuration = EmulatorConfiguration(host: host, port: port, databasePath: db, token: token)
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
