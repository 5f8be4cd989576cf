import DeviceProtocols
import Foundation
import SerialTransport
import StationConfig
import Uplink

/// A configuration that is valid TOML and valid schema but still cannot be used (a token file
/// that cannot be read or that others can read).
public struct SettingsError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var key: String
    public var message: String

    public var description: String { "\(file): \(key): \(message)" }
}

extension AgentSettings {
    /// Turns a validated configuration into the agent's settings: reads the token file, and
    /// combines each reader's profile with its `baud` override.
    public init(_ configuration: StationConfiguration) throws {
        var token: String?
        switch configuration.platform.credential {
        case .none:
            token = nil
        case .token(let secret):
            token = secret.value
        case .tokenFile(let path):
            token = try Self.readTokenFile(path, configFile: configuration.file)
        }
        let platform = configuration.platform
        self.init(
            stationID: configuration.station.id,
            location: configuration.station.location,
            stateDirectory: configuration.station.stateDirectory,
            platformURL: platform.url.absoluteString,
            token: token,
            caFile: platform.caFile,
            requestTimeout: platform.timeout,
            batchSize: platform.batchSize,
            retry: RetryPolicy(initial: platform.retryInitial, maximum: platform.retryMax),
            retention: configuration.store.retention,
            readers: configuration.devices.map { device in
                let line = device.profile.line
                let settings = SerialSettings(
                    baud: device.baud ?? line.baud, dataBits: line.dataBits, parity: SerialParity(line.parity),
                    stopBits: line.stopBits)
                return CardReaderDevice(
                    name: device.name, purpose: device.purpose, profile: device.profile, port: device.port,
                    settings: settings, dedupWindow: device.dedupWindow,
                    reopen: RetryPolicy(initial: device.reopenInitial, maximum: device.reopenMax))
            }
        )
    }

    /// Reads the platform token from its file; refuses a file that other users can read (the
    /// token lets anyone post events as this station).
    static func readTokenFile(_ path: String, configFile: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SettingsError(
                file: configFile, key: "platform.token_file",
                message: "cannot read \(path): \(String(cString: strerror(errno))); create it (mode 0600, owned by the agent's user)")
        }
        guard info.st_mode & S_IROTH == 0 else {
            throw SettingsError(
                file: configFile, key: "platform.token_file",
                message: "\(path) is readable by every user; run `chmod 600 \(path)` (the token lets anyone post events as this station)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SettingsError(
                file: configFile, key: "platform.token_file",
                message: "cannot read \(path) as UTF-8 text; check its owner and mode (0600, the agent's user)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw SettingsError(file: configFile, key: "platform.token_file", message: "\(path) is empty; put the station's token in it")
        }
        return trimmed
    }
}

extension SerialParity {
    init(_ parity: LineSettings.Parity) {
        switch parity {
        case .none: self = .none
        case .odd: self = .odd
        case .even: self = .even
        }
    }
}
