import SecretFile
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A secure channel base key (SCBK, AES-128): 16 bytes that never appear in logs.
///
/// `description`, `debugDescription` and reflection (`dump`, string interpolation) show
/// `OSDPSecureChannelKey(redacted)`. Equality is computed in constant time.
///
/// ```swift
/// let key = try OSDPSecureChannelKey.load(fromFile: "/etc/station-agent/osdp/reader-1.key")
/// let installKey = OSDPSecureChannelKey.defaultInstallKey  // SCBK-D, 30 31 ... 3F
/// ```
public struct OSDPSecureChannelKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The key length in bytes.
    public static let byteCount = 16

    /// SCBK-D, the default key of SIA OSDP 2.2 (bytes 0x30...0x3F), used only in install mode to
    /// move a reader to its own key with `osdp_KEYSET`. It is public: a session under it is not secret.
    public static let defaultInstallKey = OSDPSecureChannelKey(validated: Array(0x30...0x3F))

    private let bytes: [UInt8]

    private init(validated bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Wraps 16 key bytes.
    /// - Throws: ``OSDPKeyError`` when `bytes` is not 16 bytes long.
    public init(bytes: [UInt8]) throws(OSDPKeyError) {
        guard bytes.count == Self.byteCount else {
            throw OSDPKeyError(
                path: nil, message: "a secure channel key has 16 bytes, got \(bytes.count)",
                hint: "Give 32 hex digits (16 bytes).")
        }
        self.bytes = bytes
    }

    /// Parses 32 hex digits; spaces, tabs, newlines and colons between them are ignored.
    /// - Throws: ``OSDPKeyError`` without echoing the text (it may be a key).
    public init(hex: String) throws(OSDPKeyError) {
        var nibbles: [UInt8] = []
        for scalar in hex.unicodeScalars {
            switch scalar {
            case "0"..."9": nibbles.append(UInt8(scalar.value - 0x30))
            case "a"..."f": nibbles.append(UInt8(scalar.value - 0x61 + 10))
            case "A"..."F": nibbles.append(UInt8(scalar.value - 0x41 + 10))
            case " ", "\t", "\n", "\r", ":": continue
            default:
                throw OSDPKeyError(
                    path: nil, message: "the key text contains a character that is not a hex digit",
                    hint: "Write the key as 32 hex digits, e.g. produced by `openssl rand -hex 16`.")
            }
        }
        guard nibbles.count == Self.byteCount * 2 else {
            throw OSDPKeyError(
                path: nil, message: "the key text has \(nibbles.count) hex digits, 32 are needed",
                hint: "Write the key as 32 hex digits, e.g. produced by `openssl rand -hex 16`.")
        }
        try self.init(bytes: stride(from: 0, to: nibbles.count, by: 2).map { nibbles[$0] << 4 | nibbles[$0 + 1] })
    }

    /// A new random key from the system's cryptographically secure generator.
    public static func random() -> OSDPSecureChannelKey {
        var generator = SystemRandomNumberGenerator()
        return OSDPSecureChannelKey(validated: (0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Calls `body` with the key bytes. Keep them out of logs, errors and files other than a 0600 key file.
    public func withUnsafeKeyBytes<Result, Failure: Error>(_ body: ([UInt8]) throws(Failure) -> Result) throws(Failure) -> Result {
        try body(bytes)
    }

    /// True when this is SCBK-D.
    public var isDefaultInstallKey: Bool { self == Self.defaultInstallKey }

    /// Always `OSDPSecureChannelKey(redacted)`.
    public var description: String { "OSDPSecureChannelKey(redacted)" }
    /// Always `OSDPSecureChannelKey(redacted)`.
    public var debugDescription: String { description }
    /// No children, so `dump` and `Mirror` show nothing of the key.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// Constant-time comparison.
    public static func == (lhs: OSDPSecureChannelKey, rhs: OSDPSecureChannelKey) -> Bool {
        constantTimeEqual(lhs.bytes, rhs.bytes)
    }

    /// Hashes the length only, so that hash values reveal nothing of the key.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
    }

    // MARK: Key files

    /// Reads a key file: 32 hex digits (whitespace allowed), readable by the agent's user and by
    /// nobody else (``SecretFile``, the check every secret file goes through).
    ///
    /// - Throws: ``OSDPKeyError`` naming the path when the file is missing, is readable or writable
    ///   by group or others (mode must be 0600 or 0400), or does not hold a key. The key text is
    ///   never part of an error.
    public static func load(fromFile path: String) throws(OSDPKeyError) -> OSDPSecureChannelKey {
        let content: [UInt8]
        do {
            content = try SecretFile.read(path, limit: 4096)
        } catch {
            let hint: String
            switch error.kind {
            case .missing: hint = "Create it with `(umask 077; openssl rand -hex 16 > \(path))`."
            case .openToOthers: hint = "Run `chmod 600 \(path)`; keys must be readable by the agent's user only."
            default: hint = "The fix: \(error.fix)."
            }
            let message = error.kind == .openToOthers ? "the key file is \(error.reason)" : error.message
            throw OSDPKeyError(path: path, message: message, hint: hint)
        }
        do {
            return try OSDPSecureChannelKey(hex: String(decoding: content, as: UTF8.self))
        } catch {
            throw OSDPKeyError(path: path, message: error.message, hint: error.hint)
        }
    }

    /// Writes the key as 32 hex digits and a newline to a new file created with mode 0600
    /// (written to a temporary name, `fsync`ed, then renamed over `path`).
    /// - Throws: ``OSDPKeyError`` naming the path.
    public func save(toFile path: String) throws(OSDPKeyError) {
        let temporary = "\(path).tmp-\(getpid())"
        _ = unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw OSDPKeyError(
                path: temporary, message: "cannot create the key file: \(errorText(errno))",
                hint: "Check that the directory exists and the agent's user may write to it.")
        }
        var text = Array((bytes.osdpHex + "\n").utf8)
        defer {
            for index in text.indices { text[index] = 0 }
        }
        var offset = 0
        while offset < text.count {
            let written = text.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                _ = close(fd)
                _ = unlink(temporary)
                throw OSDPKeyError(path: temporary, message: "write failed: \(errorText(code))", hint: "Check free space.")
            }
            offset += written
        }
        // fchmod as well: a umask cannot widen 0600, but an inherited ACL default could.
        guard fchmod(fd, 0o600) == 0, fsync(fd) == 0 else {
            let code = errno
            _ = close(fd)
            _ = unlink(temporary)
            throw OSDPKeyError(path: temporary, message: "fchmod/fsync failed: \(errorText(code))", hint: "Check the file system.")
        }
        _ = close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            _ = unlink(temporary)
            throw OSDPKeyError(path: path, message: "rename failed: \(errorText(code))", hint: "Check the directory's permissions.")
        }
    }

    /// A diversified SCBK as SIA OSDP 2.2 Annex D describes it: AES-128 under the master key of
    /// the reader's client UID followed by its bitwise complement.
    public static func diversified(masterKey: OSDPSecureChannelKey, clientUID: [UInt8]) throws(OSDPSecureChannelError)
        -> OSDPSecureChannelKey
    {
        guard clientUID.count == 8 else { throw OSDPSecureChannelError.badLength("client UID must be 8 bytes") }
        let block = clientUID + clientUID.map { ~$0 }
        return OSDPSecureChannelKey(validated: try AES128.encryptBlock(block, key: masterKey.bytes))
    }
}

/// A key that could not be read, parsed or written. Never contains key material.
public struct OSDPKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key file, when one was involved.
    public var path: String?
    /// What went wrong.
    public var message: String
    /// What to do about it.
    public var hint: String

    /// Creates an error.
    public init(path: String?, message: String, hint: String) {
        self.path = path
        self.message = message
        self.hint = hint
    }

    /// `OSDP key <path>: <message>. <hint>`
    public var description: String {
        "OSDP key\(path.map { " \($0)" } ?? ""): \(message). \(hint)"
    }
}

/// Compares two byte arrays in time independent of where they differ.
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}

private func errorText(_ code: Int32) -> String {
    "\(String(cString: strerror(code))) (errno \(code))"
}
