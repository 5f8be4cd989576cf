import Foundation
import Testing

@testable import SIADC09

/// Frames that real panels and receivers exchanged, copied from public bug reports and test
/// suites. Their CRC and length fields were computed by other implementations, so they check
/// ours independently.
struct KnownFrameTests {
    struct Sample: Sendable, CustomTestStringConvertible {
        let frame: String
        let source: String
        var testDescription: String { source }
    }

    static let plainFrames: [Sample] = [
        // Ajax hub periodic test, logged by pysiaalarm in home-assistant/core issue #88474
        // ("SIA Alarm Systems - Bug with unknown code"): "CRC: B40B, Calc CRC: B40B".
        Sample(frame: #"B40B0039"SIA-DCS"0004L0#AAA[#AAA|Nri0/RP0000]_09:10:30,02-20-2023"#, source: "home-assistant/core#88474"),
        // Raw bytes of a panel's message in Supergiovane/node-red-contrib-sia-ultimate issue #2
        // ("Acknowledge for SIA"): data [10,55,48,67,...,13], crc 28868 (0x70C4), len 59.
        Sample(frame: "\n70C4003B\"SIA-DCS\"1707L0#0000[#0000|Nri0/RP0000]_13:36:41,12-22-2021\r", source: "node-red-contrib-sia-ultimate#2 (1707)"),
        // Same thread, an earlier message.
        Sample(frame: #"9331003B"SIA-DCS"1666L0#0000[#0000|Nri0/RP0000]_12:43:02,12-22-2021"#, source: "node-red-contrib-sia-ultimate#2 (1666)"),
        // The ACK that receiver sent back in the same thread.
        Sample(frame: #"5BAD0012"ACK"1665L0#0000[]"#, source: "node-red-contrib-sia-ultimate#2 (ACK)"),
        // Pima Force 144 remote arm/disarm, eavanvalkenburg/pysiaalarm pull request #55 ("ADM-CID 407 & 408").
        Sample(frame: #"7449003F"ADM-CID"0078R1L0#AAAA[#00AAAA|3407 01 001]_01:59:16,09-21-2023"#, source: "pysiaalarm#55 (407)"),
        Sample(frame: #"9B2F0041"ADM-CID"1285R1L0#AAAAAA[#AAAAAA|3408 01 000]_13:26:16,10-04-2023"#, source: "pysiaalarm#55 (408)"),
        // Contact ID without timestamp, home-assistant/core issue #131728 ("SIA alarm compliant with C-ID not working").
        Sample(frame: #"77880027"ADM-CID"0068R0L0#AAA[#AAA|3401 01 070]"#, source: "home-assistant/core#131728"),
        // Unencrypted link test without timestamp, sequence 0000: Sigma S PRO 32MB in
        // eavanvalkenburg/pysiaalarm issue #72 ("CRC: D344, Calc CRC: D344").
        Sample(frame: #"D3440015"NULL"0000L0#008312[]"#, source: "pysiaalarm#72"),
    ]

    @Test("published frames pass CRC and length, and decode", arguments: plainFrames)
    func publishedFramesDecode(sample: Sample) throws {
        let message = try DC09Frame.decode(ascii(sample.frame), key: nil)
        #expect(message.isEncrypted == false)
        #expect(message.account != nil)
    }

    @Test("re-encoding a decoded published frame gives the same bytes", arguments: plainFrames)
    func publishedFramesRoundTrip(sample: Sample) throws {
        let message = try DC09Frame.decode(ascii(sample.frame), key: nil)
        var expected = ascii(sample.frame)
        if expected.first != 0x0A { expected.insert(0x0A, at: 0) }
        if expected.last != 0x0D { expected.append(0x0D) }
        let encoded = try DC09Frame.encode(message, key: nil)
        #expect(encoded == expected, "\(show(encoded)) != \(show(expected))")
    }

    @Test func fieldsOfAPublishedFrame() throws {
        let message = try DC09Frame.decode(ascii(#"7449003F"ADM-CID"0078R1L0#AAAA[#00AAAA|3407 01 001]_01:59:16,09-21-2023"#), key: nil)
        #expect(message.token == .admCID)
        #expect(message.sequence.value == 78)
        #expect(message.receiver?.text == "1")
        #expect(message.prefix.text == "0")
        #expect(message.account?.text == "AAAA")
        #expect(message.data == "#00AAAA|3407 01 001")
        #expect(message.extended.isEmpty)
        #expect(message.timestamp == DC09Timestamp(year: 2023, month: 9, day: 21, hour: 1, minute: 59, second: 16))
    }

    @Test func aCorruptedPublishedFrameFailsTheCRC() throws {
        var bytes = ascii(#"B40B0039"SIA-DCS"0004L0#AAA[#AAA|Nri0/RP0000]_09:10:30,02-20-2023"#)
        bytes[40] = UInt8(ascii: "X")
        let error = #expect(throws: DC09Error.self) { try DC09Frame.parseEnvelope(bytes) }
        #expect(error?.code == .crcMismatch)
    }

    @Test func aWrongLengthFieldIsReported() throws {
        // The pysiaalarm test suite's "E5D50078" frame: its CRC is right, its length field is not
        // (the body has 0x34 bytes).
        let error = #expect(throws: DC09Error.self) {
            try DC09Frame.parseEnvelope(ascii(#"E5D50078"SIA-DCS"6002L0#AAA[|Nri1/CL501]_14:12:04,09-25-2019"#))
        }
        #expect(error?.code == .lengthMismatch)
    }

    /// An encrypted Ajax frame from home-assistant/core issue #127538 ("Impossible to add a SIA
    /// Ajax alarm"). The key is not public, so only CRC, length and header are checked.
    @Test func publishedEncryptedFrameEnvelope() throws {
        let frame = #"339C0075"*SIA-DCS"0016L0#AAA[A35682013F7FBD6096EADC2D129828751746607BEB44EA21688FEC6F0D05D96386F22D2747AA05500B9D2254D309D04A"#
        let envelope = try DC09Frame.parseEnvelope(ascii(frame))
        #expect(envelope.isEncrypted)
        #expect(envelope.token == .siaDCS)
        #expect(envelope.sequence.value == 16)
        #expect(envelope.account?.text == "AAA")
        #expect(envelope.payload.count == 96)
        let error = #expect(throws: DC09Error.self) { try envelope.open(key: nil) }
        #expect(error?.code == .missingKey)
    }

    /// The encrypted link test in pysiaalarm's test suite (tests/test_sia_package_cases.py,
    /// `case_null`), whose key is the suite's `KEY = "AAAAAAAAAAAAAAAA"` (tests/test_utils.py),
    /// used there as 16 ASCII bytes: hex 41 x 16. This panel sends no `|` after the pad.
    @Test func publishedEncryptedNullDecrypts() throws {
        let frame = #"76D80055"*NULL"0000R0L0#AAAB[B4BC8B40D0E6D959D6BEA78E88CC0B2155741A3C44FBB96D476A3E557CAD64D9"#
        let key = try DC09Key(hex: String(repeating: "41", count: 16))
        let message = try DC09Frame.decode(ascii(frame), key: key)
        #expect(message.token == .null)
        #expect(message.isEncrypted)
        #expect(message.account?.text == "AAAB")
        #expect(message.data == "")
        #expect(message.timestamp == DC09Timestamp(year: 2020, month: 7, day: 5, hour: 18, minute: 24, second: 52))

        let wrong = try DC09Key(hex: String(repeating: "42", count: 16))
        let error = #expect(throws: DC09Error.self) { try DC09Frame.decode(ascii(frame), key: wrong) }
        #expect(error?.code == .decryptionFailed)
    }
}

/// Answers seen from pysiaalarm 3.2.2 (the receiver behind Home Assistant's SIA integration)
/// during a manual interoperability run.
struct PeerQuirkTests {
    @Test func nakWithFieldsOutOfOrderIsStillANAK() throws {
        // Its answer to a frame it could not decrypt.
        let response = try DC09Response.parse(ascii("\n53500025\"NAK\"0000L0R0A0[]_23:10:37,11-24-2026\r"), key: nil)
        #expect(response == .nak(receiverTime: DC09Timestamp(year: 2026, month: 11, day: 24, hour: 23, minute: 10, second: 37)))
    }

    @Test func encryptedACKWithoutPadTerminator() throws {
        // pysiaalarm pads its encrypted ACK with '0's and no '|'; simulate that layout.
        let key = try DC09Key(hex: String(repeating: "41", count: 16))
        let plaintext = ascii("0000000000]_23:10:37,11-24-2026")  // 10 + 21 = 31: pad to 32
        let padded = [UInt8(ascii: "0")] + plaintext
        let cipher = try DC09Cipher.encrypt(padded, key: key)
        let body = ascii("\"*ACK\"0001R5L0#ABCD[") + cipher
        let frame = DC09CRC.hexDigits(DC09CRC.compute(body)) + ascii("0") + DC09Hex.digits(UInt64(body.count), width: 3) + body
        let response = try DC09Response.parse(frame, key: key)
        let sent = DC09Message(
            token: .siaDCS, isEncrypted: true, sequence: .first, receiver: try DC09ReceiverNumber("5"), prefix: .zero,
            account: try DC09Account("ABCD"), data: "#ABCD|Nri1/PA001", timestamp: nil)
        #expect(response.answers(sent))
    }
}
