import Foundation
import SeededRandom
import Testing

@testable import SIADC09

struct CipherTests {
    static let time = DC09Timestamp(year: 2026, month: 11, day: 24, hour: 10, minute: 15, second: 30)

    /// Ciphertexts made with `openssl enc -aes-N-cbc -K <00 01 02 ...> -iv 0 -nopad` of
    /// `ABCDEFGHIJ|#1234|Nri1/PA001]_10:15:30,11-24-2026` (10 pad characters, the terminator,
    /// then 37 bytes: 48 in all).
    static let openSSLVectors: [(bits: Int, hex: String)] = [
        (128, "E02392A9D8A6A2D424C364C14DF2AEBBC18EBDA91A58469BF39A3A3E5C70D9B1CFB098119A21F52430F3CB24629A5060"),
        (192, "ED495719A6D4567C40BC3D6C2DEEB052119E9FCFB65FD80643D6C1756E388A3E66C027F7D764D28733717AE1E07FC0AD"),
        (256, "387916DC59A8796C6DE8D903768006257F652354562A102FE98BC1CDF103930FF30FF94FF440AEF256E1B86BF7D02669"),
    ]

    @Test("decrypts what OpenSSL encrypted", arguments: openSSLVectors)
    func openSSLInterop(vector: (bits: Int, hex: String)) throws {
        let key = try DC09Key(hex: countingKeyHex(bits: vector.bits))
        #expect(key.bitCount == vector.bits)
        let content = try DC09Cipher.open(ascii(vector.hex), key: key)
        #expect(content == ascii("#1234|Nri1/PA001]_10:15:30,11-24-2026"))
        // A whole frame around the same ciphertext decodes to the message.
        let body = ascii("\"*SIA-DCS\"0001L0#1234[" + vector.hex)
        let frame = [0x0A] + DC09CRC.hexDigits(DC09CRC.compute(body)) + ascii("0") + DC09Hex.digits(UInt64(body.count), width: 3) + body + [0x0D]
        let message = try DC09Frame.decode(frame, key: key)
        #expect(message.data == "#1234|Nri1/PA001")
        #expect(message.timestamp == Self.time)
    }

    @Test("encrypt/decrypt round trip", arguments: [128, 192, 256])
    func roundTrip(bits: Int) throws {
        let key = try DC09Key(hex: countingKeyHex(bits: bits))
        for (index, data) in ["", "#1234|Nri1/PA001", "#1234|1120 01 001", String(repeating: "x", count: 15), String(repeating: "y", count: 16)].enumerated() {
            let message = DC09Message(
                token: data.isEmpty ? .null : .siaDCS, isEncrypted: true, sequence: try DC09Sequence(index + 1),
                receiver: try DC09ReceiverNumber("AB"), prefix: .zero, account: try account("1234"), data: data,
                extended: index == 2 ? [.originalTime(try #require(Self.time))] : [], timestamp: Self.time)
            let frame = try DC09Frame.encode(message, key: key)
            #expect(show(frame).contains("\"*\(message.token)\""))
            #expect(!show(frame).contains(data.isEmpty ? "_10:15:30" : data), "plaintext leaked: \(show(frame))")
            #expect(try DC09Frame.decode(frame, key: key) == message)
        }
    }

    @Test func padMakesWholeBlocksOfOneToSixteenCharacters() throws {
        for length in 0...64 {
            let pad = DC09Cipher.padCount(contentLength: length)
            #expect((1...16).contains(pad))
            #expect((pad + 1 + length) % 16 == 0)
        }
        #expect(DC09Cipher.padCount(contentLength: 15) == 16)  // already a multiple of 16: 16 pad characters
    }

    @Test func padCharactersAvoidTheDelimiters() throws {
        let key = try DC09Key(hex: countingKeyHex(bits: 128))
        var generator = SplitMix64(seed: 7)
        for length in 0..<48 {
            let content = ascii(String(repeating: "z", count: length))
            let hex = try DC09Cipher.seal(content, key: key, generator: &generator)
            #expect(hex.count % 32 == 0)
            let plaintext = try decryptRaw(hex, key: key)
            let pad = plaintext.prefix(DC09Cipher.padCount(contentLength: length))
            #expect(!pad.contains(UInt8(ascii: "|")) && !pad.contains(UInt8(ascii: "[")) && !pad.contains(UInt8(ascii: "]")))
            #expect(plaintext[pad.count] == UInt8(ascii: "|"))
            #expect(Array(plaintext.dropFirst(pad.count + 1)) == content)
        }
    }

    @Test func sameSeedGivesTheSameFrameAndPadsVary() throws {
        let key = try DC09Key(hex: countingKeyHex(bits: 256))
        let message = DC09Message(
            token: .siaDCS, isEncrypted: true, sequence: .first, prefix: .zero, account: try account("1234"), data: "#1234|Nri1/PA001",
            timestamp: Self.time)
        var a = SplitMix64(seed: 42)
        var b = SplitMix64(seed: 42)
        let first = try DC09Frame.encode(message, key: key, generator: &a)
        #expect(first == (try DC09Frame.encode(message, key: key, generator: &b)))
        #expect(first != (try DC09Frame.encode(message, key: key, generator: &a)))
    }

    @Test func keysAreValidated() {
        #expect(throws: DC09Error.self) { try DC09Key(hex: "00") }
        #expect(throws: DC09Error.self) { try DC09Key(hex: String(repeating: "G", count: 32)) }
        #expect(throws: DC09Error.self) { try DC09Key(hex: String(repeating: "0", count: 40)) }
        #expect((try? DC09Key(hex: String(repeating: "a", count: 64)))?.bitCount == 256)
        #expect((try? DC09Key(hex: countingKeyHex(bits: 128)))?.description == "AES-128 key")
    }

    @Test func encryptedMessagesNeedAKeyAndATimestamp() throws {
        var message = DC09Message(token: .siaDCS, isEncrypted: true, sequence: .first, prefix: .zero, account: try account("1234"), timestamp: Self.time)
        #expect(throws: DC09Error.self) { try DC09Frame.encode(message, key: nil) }
        message.timestamp = nil
        #expect(throws: DC09Error.self) { try DC09Frame.encode(message, key: try DC09Key(hex: countingKeyHex(bits: 128))) }
    }

    private func decryptRaw(_ hex: [UInt8], key: DC09Key) throws -> [UInt8] {
        let full = try DC09Cipher.decrypt(hex, key: key)
        let content = try DC09Cipher.open(hex, key: key)
        #expect(Array(full.suffix(content.count)) == content)
        return full
    }
}
