import Crypto
import Foundation
import _CryptoExtras

/// An AES key for DC-09 encryption: 128, 192 or 256 bits, configured as 32, 48 or 64 hex digits.
///
/// Its description never shows the key itself.
///
/// Some receivers (pysiaalarm, for one) take the key as 16, 24 or 32 *characters* and use their
/// ASCII codes as the key bytes; the same key here is the hex of those characters:
/// `AAAAAAAAAAAAAAAA` there is `41414141414141414141414141414141` here.
public struct DC09Key: Sendable, Hashable, CustomStringConvertible {
    let bytes: [UInt8]

    /// A key from hex digits (either case; spaces are not allowed).
    public init(hex: String) throws(DC09Error) {
        guard [32, 48, 64].contains(hex.utf8.count), let bytes = DC09Hex.decode(Array(hex.utf8)) else {
            throw DC09Error(
                .invalidKey,
                "the DC-09 key is \(hex.utf8.count) characters; it must be 32, 48 or 64 hex digits (AES-128/192/256) exactly as configured at the receiver")
        }
        self.bytes = bytes
    }

    /// A key from raw bytes (16, 24 or 32 of them).
    public init(bytes: [UInt8]) throws(DC09Error) {
        guard [16, 24, 32].contains(bytes.count) else {
            throw DC09Error(.invalidKey, "a DC-09 key has 16, 24 or 32 bytes, not \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// 128, 192 or 256.
    public var bitCount: Int { bytes.count * 8 }

    public var description: String { "AES-\(bitCount) key" }

    var symmetricKey: SymmetricKey { SymmetricKey(data: bytes) }
}

/// AES-CBC as DC-09 uses it: zero IV, no PKCS#7 padding; instead a pad field of pseudo-random
/// characters and a `|` terminator go in front of the plaintext so that pad + `|` + data +
/// extended data + timestamp is a multiple of 16 bytes (1...16 pad characters; a region that is
/// already a multiple of 16 gets 16). The ciphertext travels as upper-case hex after the `[`.
enum DC09Cipher {
    static let blockSize = 16

    /// How many pad characters a region of `contentLength` bytes needs (1...16).
    static func padCount(contentLength: Int) -> Int {
        let remainder = (contentLength + 1) % blockSize
        return remainder == 0 ? blockSize : blockSize - remainder
    }

    /// The pad alphabet: printable ASCII without `|`, `[` and `]` (the spec forbids those three;
    /// printable characters keep a decrypted message loggable at any receiver).
    static let padAlphabet: [UInt8] = (0x21...0x7E).compactMap { byte -> UInt8? in
        let b = UInt8(byte)
        return b == UInt8(ascii: "|") || b == UInt8(ascii: "[") || b == UInt8(ascii: "]") ? nil : b
    }

    /// Pads, encrypts and hex-encodes `content` (everything after the data field's `[`, through
    /// the last timestamp character).
    static func seal<Generator: RandomNumberGenerator>(
        _ content: [UInt8], key: DC09Key, generator: inout Generator
    ) throws(DC09Error) -> [UInt8] {
        var plaintext: [UInt8] = []
        let pad = padCount(contentLength: content.count)
        plaintext.reserveCapacity(pad + 1 + content.count)
        for _ in 0..<pad {
            plaintext.append(padAlphabet[Int(generator.next(upperBound: UInt32(padAlphabet.count)))])
        }
        plaintext.append(UInt8(ascii: "|"))
        plaintext += content
        return try encrypt(plaintext, key: key)
    }

    /// Encrypts whole blocks (no padding added) and hex-encodes the result.
    static func encrypt(_ plaintext: [UInt8], key: DC09Key) throws(DC09Error) -> [UInt8] {
        do {
            return DC09Hex.encode(try AES._CBC.encrypt(plaintext, using: key.symmetricKey, iv: zeroIV(), noPadding: true))
        } catch {
            throw DC09Error(.invalidKey, "AES-CBC encryption of \(plaintext.count) bytes failed (\(error)); it needs whole 16-byte blocks and a 128/192/256-bit key")
        }
    }

    /// Decrypts hex ciphertext and removes the pad field; returns what followed the pad
    /// terminator (data, `]`, extended data, timestamp).
    ///
    /// A message whose pad has no `|` terminator (seen from some panels in NULL messages) is read
    /// as pad followed directly by the closing `]` of an empty data field.
    static func open<Text: Collection>(_ hex: Text, key: DC09Key) throws(DC09Error) -> [UInt8] where Text.Element == UInt8 {
        let bytes = try decrypt(hex, key: key)
        let close = bytes.firstIndex(of: UInt8(ascii: "]")) ?? bytes.endIndex
        if let bar = bytes[..<close].firstIndex(of: UInt8(ascii: "|")) {
            return Array(bytes[(bar + 1)...])
        }
        guard close < bytes.endIndex else {
            throw DC09Error(.decryptionFailed, "the decrypted message has no ']' closing its data field: wrong key, or a corrupted frame")
        }
        return Array(bytes[close...])
    }

    /// Decrypts hex ciphertext, pad included.
    static func decrypt<Text: Collection>(_ hex: Text, key: DC09Key) throws(DC09Error) -> [UInt8] where Text.Element == UInt8 {
        guard !hex.isEmpty, hex.count % (2 * blockSize) == 0, let ciphertext = DC09Hex.decode(hex) else {
            throw DC09Error(
                .decryptionFailed,
                "the encrypted part is \(hex.count) characters; it must be hex digits in whole 16-byte blocks (32 digits each)")
        }
        do {
            return Array(try AES._CBC.decrypt(ciphertext, using: key.symmetricKey, iv: zeroIV(), noPadding: true))
        } catch {
            throw DC09Error(.decryptionFailed, "AES-CBC decryption failed (\(error)); check the key")
        }
    }

    static func zeroIV() throws -> AES._CBC.IV {
        try AES._CBC.IV(ivBytes: [UInt8](repeating: 0, count: blockSize))
    }
}
