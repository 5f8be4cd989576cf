import Foundation

extension StationConfiguration {
    /// A file the configuration names, with the line that names it (for `FILE:LINE: key:` errors
    /// about the file found only when it is read).
    public struct FileReference: Sendable, Hashable, CustomStringConvertible {
        /// Absolute path.
        public var path: String
        /// The configuration line of the key, if known.
        public var line: Int?

        public init(_ path: String, line: Int? = nil) {
            self.path = path
            self.line = line
        }

        public var description: String { path }

        /// The same file, wherever the configuration names it.
        public static func == (lhs: Self, rhs: Self) -> Bool { lhs.path == rhs.path }
        public func hash(into hasher: inout Hasher) { hasher.combine(path) }
    }

    /// `[platform] client_certificate_file` + `client_key_file`: the station's TLS client
    /// certificate (PEM), for a platform that requires mutual TLS.
    public struct ClientCertificate: Sendable, Hashable {
        public var certificateFile: FileReference
        /// The private key (PEM, unencrypted); mode 0600.
        public var keyFile: FileReference

        public init(certificateFile: FileReference, keyFile: FileReference) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// `[privacy]`: what the agent does with card numbers.
    public struct Privacy: Sendable, Hashable {
        /// `card_ids`: how card numbers are stored and sent.
        public var cardIDs: CardIDMode
        /// `district_key_file`: the district's pseudonym key (hex), mode 0600.
        public var districtKeyFile: FileReference?
        /// The line of the `[privacy]` table, if the file has one.
        public var line: Int?

        public init(cardIDs: CardIDMode = .pseudonym, districtKeyFile: FileReference? = nil, line: Int? = nil) {
            self.cardIDs = cardIDs
            self.districtKeyFile = districtKeyFile
            self.line = line
        }

        /// Equal settings, wherever the file has them.
        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.cardIDs == rhs.cardIDs && lhs.districtKeyFile == rhs.districtKeyFile
        }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(cardIDs)
            hasher.combine(districtKeyFile)
        }
    }

    /// `card_ids`.
    public enum CardIDMode: String, Sendable, Hashable, CaseIterable {
        /// A keyed pseudonym (HMAC-SHA256 with the district key) replaces the number before it
        /// is stored: the number never reaches the disk or the network.
        case pseudonym
        /// The number as the reader reported it.
        case raw
    }
}

/// Reads the secret files the configuration names (keys, tokens): refuses a file that users
/// other than its owner may read, and says how to fix it.
public enum KeyFile {
    /// The text of the secret file at `reference`.
    ///
    /// - Parameters:
    ///   - configurationFile: the configuration file, for the error's `FILE:LINE:`.
    ///   - key: the dotted key that names the file (`platform.signing_key_file`).
    ///   - purpose: why it must stay private, for the message (`the key signs this station's requests`).
    /// - Throws: a ``ConfigError`` naming the key when the file is missing, unreadable, or has
    ///   any group or other permission bit set (`chmod 600 FILE` is the fix).
    public static func readText(
        _ reference: StationConfiguration.FileReference, configurationFile: String, key: String, purpose: String
    ) throws(ConfigError) -> String {
        func fail(_ message: String) -> ConfigError {
            ConfigError(issues: [ConfigIssue(file: configurationFile, line: reference.line, key: key, message: message)])
        }
        try checkPrivate(reference, configurationFile: configurationFile, key: key, purpose: purpose)
        guard let data = FileManager.default.contents(atPath: reference.path) else {
            throw fail("cannot read \(reference.path) as user \(currentUser); let the service user read it (`chown`), mode 0600")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw fail("\(reference.path) is not text")
        }
        return text
    }

    /// Checks that `reference` exists and that neither its group nor other users have any
    /// permission on it.
    public static func checkPrivate(
        _ reference: StationConfiguration.FileReference, configurationFile: String, key: String, purpose: String
    ) throws(ConfigError) {
        var info = stat()
        guard stat(reference.path, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            throw ConfigError(issues: [ConfigIssue(
                file: configurationFile, line: reference.line, key: key,
                message: "cannot read \(reference.path): \(reason); create it (mode 0600, owned by the service user)")])
        }
        let others = info.st_mode & (S_IRWXG | S_IRWXO)
        guard others == 0 else {
            let who = others & S_IRWXO != 0 ? "every user" : "its group"
            throw ConfigError(issues: [ConfigIssue(
                file: configurationFile, line: reference.line, key: key,
                message: "\(reference.path) is open to \(who) (mode \(String(info.st_mode & 0o777, radix: 8))); "
                    + "run `chmod 600 \(reference.path)` (\(purpose))")])
        }
    }

    private static var currentUser: String {
        getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
    }
}
