import Crypto
import Foundation

/// A secret key for HMAC-SHA256: a station's request-signing key, or the district's card
/// pseudonym key. Never printed (`description` is `<redacted>`).
///
/// Key files hold the key as hex (32 to 128 hex digits, 16 to 64 bytes; surrounding whitespace
/// is ignored). `openssl rand -hex 32 > FILE` makes one.
public struct HMACKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Kept as bytes (`SymmetricKey` is not `Sendable`); the key is made per use.
    let bytes: [UInt8]

    /// The shortest and longest keys accepted, in bytes.
    public static let byteCounts = 16...64

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses a key written as hex; nil (with the reason) when it is not 32 to 128 hex digits.
    public static func parse(hex text: String) -> Result<HMACKey, KeyProblem> {
        let digits = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !digits.isEmpty else { return .failure(KeyProblem(message: "the file is empty; write the key as hex (`openssl rand -hex 32`)")) }
        guard digits.count.isMultiple(of: 2), digits.unicodeScalars.allSatisfy(\.properties.isASCIIHexDigit) else {
            return .failure(KeyProblem(message: "expected the key as hex digits (`openssl rand -hex 32`); the file holds something else"))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        guard byteCounts.contains(bytes.count) else {
            return .failure(KeyProblem(
                message: "the key has \(bytes.count) bytes; expected \(byteCounts.lowerBound) to \(byteCounts.upperBound) (32 to 128 hex digits)"))
        }
        return .success(HMACKey(bytes: bytes))
    }

    /// Lower-case hex of HMAC-SHA256(key, message).
    public func authenticationCode(for message: some DataProtocol) -> String {
        HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: bytes)).hexString
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// Why a key file's content is not a usable key.
public struct KeyProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// How every request a station makes to the platform is signed (`docs/platform-api.md`,
/// "Signed requests"): HMAC-SHA256 with the station's key over a canonical string of six lines
/// joined by `\n` (no trailing newline):
///
/// ```
/// STATION-HMAC-SHA256
/// 1764032400                                  (X-Station-Timestamp: Unix seconds)
/// 4f1c0a9e2b7d4c3a8e6f5a1b2c3d4e5f            (X-Station-Nonce: 16 to 64 of A-Z a-z 0-9 - _)
/// POST                                        (the method, upper case)
/// /v1/stations/ST-1/events                    (the request target: path and query, as sent)
/// e3b0c44298fc1c149afbf4c8996fb92427ae41e4...  (X-Station-Content-SHA256: hex SHA-256 of the body bytes)
/// ```
///
/// The signature goes in `X-Station-Signature` as 64 lower-case hex digits. The platform
/// rejects a request whose timestamp is more than ``window`` seconds from its own clock, and a
/// nonce it has already seen from the station within that window (a replay).
public enum RequestSignature {
    /// The first line of the canonical string: names the scheme and its version.
    public static let scheme = "STATION-HMAC-SHA256"
    public static let timestampHeader = "X-Station-Timestamp"
    public static let nonceHeader = "X-Station-Nonce"
    public static let contentHashHeader = "X-Station-Content-SHA256"
    public static let signatureHeader = "X-Station-Signature"
    /// How far (seconds) a request's timestamp may be from the platform's clock, either way.
    public static let window: Int64 = 300

    /// Lower-case hex SHA-256 of the exact body bytes (of nothing, for a request without a body).
    public static func contentHash(_ body: some DataProtocol) -> String {
        SHA256.hash(data: body).hexString
    }

    /// The string that is signed.
    public static func canonicalString(timestamp: Int64, nonce: String, method: String, target: String, contentHash: String) -> String {
        [scheme, String(timestamp), nonce, method.uppercased(), target, contentHash].joined(separator: "\n")
    }

    /// The `X-Station-Signature` value for a request.
    public static func signature(
        key: HMACKey, timestamp: Int64, nonce: String, method: String, target: String, contentHash: String
    ) -> String {
        key.authenticationCode(
            for: Array(canonicalString(timestamp: timestamp, nonce: nonce, method: method, target: target, contentHash: contentHash).utf8))
    }

    /// Whether `nonce` has the allowed shape: 16 to 64 of `A-Z a-z 0-9 - _`.
    public static func isValidNonce(_ nonce: String) -> Bool {
        (16...64).contains(nonce.utf8.count)
            && nonce.unicodeScalars.allSatisfy { scalar in
                switch scalar {
                case "A"..."Z", "a"..."z", "0"..."9", "-", "_": true
                default: false
                }
            }
    }
}

/// Card numbers are personal data: by default a station sends a keyed pseudonym instead
/// (`docs/platform-api.md`, "Card identifiers").
///
/// The pseudonym is the lower-case hex HMAC-SHA256, under the district's key, of the card's
/// `uid` exactly as the station would otherwise send it (UTF-8). A platform that holds the
/// district key computes the same function over the card numbers it enrols and so links a
/// pseudonym to a card without ever receiving the number.
public struct CardPseudonymizer: Sendable {
    let key: HMACKey

    public init(key: HMACKey) {
        self.key = key
    }

    public func pseudonym(of uid: String) -> String {
        key.authenticationCode(for: Array(uid.utf8))
    }
}

extension Sequence<UInt8> {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
