import Foundation
import SecretFile

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

/// Reads the secret files the configuration names (keys, tokens) through ``SecretFile``, the
/// one check for all of them, and turns its problem into a ``ConfigError`` naming the key.
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
        do {
            return try SecretFile.readText(reference.path)
        } catch {
            throw configError(error, reference: reference, configurationFile: configurationFile, key: key, purpose: purpose)
        }
    }

    /// Checks that `reference` can be read and that neither its group nor other users have any
    /// permission on it (for a file another library reads: the TLS client key).
    public static func checkPrivate(
        _ reference: StationConfiguration.FileReference, configurationFile: String, key: String, purpose: String
    ) throws(ConfigError) {
        _ = try readText(reference, configurationFile: configurationFile, key: key, purpose: purpose)
    }

    /// `FILE:LINE: KEY: what is wrong; what to do (why it matters)`: the purpose is said where
    /// the file is open to others, the reason to fix it.
    static func configError(
        _ problem: SecretFile.Problem, reference: StationConfiguration.FileReference, configurationFile: String, key: String,
        purpose: String
    ) -> ConfigError {
        let why = problem.kind == .openToOthers ? " (\(purpose))" : ""
        return ConfigError(issues: [ConfigIssue(
            file: configurationFile, line: reference.line, key: key, message: "\(problem.message); \(problem.fix)\(why)")])
    }
}
