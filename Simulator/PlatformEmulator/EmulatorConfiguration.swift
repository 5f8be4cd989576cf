/// How the platform emulator listens and whom it lets in.
///
/// ```swift
/// let configuration = EmulatorConfiguration(port: 0, databasePath: nil, token: "demo-token")
/// ```
public struct EmulatorConfiguration: Sendable {
    /// Address to bind, `127.0.0.1` by default (the emulator is meant for one machine).
    public var host: String = "127.0.0.1"
    /// TCP port to bind; `0` asks the system for a free port (reported through `onListening`).
    public var port: Int = 8080
    /// SQLite file for what the emulator receives; `nil` keeps it in memory.
    public var databasePath: String?
    /// Bearer token every station request (ingest, command long-poll, heartbeat) must carry;
    /// `nil` or empty accepts requests without one.
    public var token: String?
    /// Station request-signing keys: when any is set, every station request (ingest, command
    /// long-poll, heartbeat) must be signed (``SignatureVerifier``), or it gets 401.
    public var signingKeys = SigningKeyring()
    /// Largest ingest request body accepted, in bytes (8 MiB); larger bodies get 413.
    public var maxBodyBytes: Int = EmulatorConfiguration.defaultMaxBodyBytes

    /// The default limit on an ingest request body: 8 MiB.
    public static let defaultMaxBodyBytes = 8 * 1024 * 1024

    public init(
        host: String = "127.0.0.1", port: Int = 8080, databasePath: String? = nil, token: String? = nil,
        maxBodyBytes: Int = EmulatorConfiguration.defaultMaxBodyBytes
    ) {
        self.host = host
        self.port = port
        self.databasePath = databasePath
        self.token = token
        self.maxBodyBytes = maxBodyBytes
    }

    /// The token to enforce, or `nil` when authentication is off.
    var requiredToken: String? {
        guard let token, !token.isEmpty else { return nil }
        return token
    }
}
