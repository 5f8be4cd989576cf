import Foundation
import Testing

@testable import SIADC09

/// Byte-level encoding. Expected frames were computed independently (a Python CRC-16/ARC and
/// `len()`), not by this code.
struct EncodingTests {
    static let time = DC09Timestamp(year: 2026, month: 11, day: 24, hour: 10, minute: 15, second: 30)

    @Test("CRC-16/ARC vectors", arguments: [
        ("", UInt16(0x0000)),
        ("A", 0x30C0),
        ("123456789", 0xBB3D),  // the catalogued check value of CRC-16/ARC
    ])
    func crcVectors(input: String, expected: UInt16) {
        #expect(DC09CRC.compute(ascii(input)) == expected)
    }

    @Test func crcOverAllByteValues() {
        #expect(DC09CRC.compute((0...255).map { UInt8($0) }) == 0xBAD3)
        #expect(DC09CRC.hexDigits(0xBAD3) == ascii("BAD3"))
        #expect(DC09CRC.hexDigits(0x000A) == ascii("000A"))
    }

    @Test func siaDCSFrame() throws {
        let message = DC09Message(
            token: .siaDCS, sequence: .first, prefix: .zero, account: try account("1234"), data: "#1234|Nri1/PA001",
            timestamp: Self.time)
        let frame = try DC09Frame.encode(message, key: nil)
        #expect(frame == ascii("\nC310003A\"SIA-DCS\"0001L0#1234[#1234|Nri1/PA001]_10:15:30,11-24-2026\r"), "\(show(frame))")
    }

    @Test func admCIDFrameWithReceiverAndPrefix() throws {
        let message = DC09Message(
            token: .admCID, sequence: try DC09Sequence(2), receiver: try DC09ReceiverNumber("12"), prefix: try DC09LinePrefix("3"),
            account: try account("1234"), data: "#1234|1120 01 001", timestamp: Self.time)
        let frame = try DC09Frame.encode(message, key: nil)
        #expect(frame == ascii("\n5969003E\"ADM-CID\"0002R12L3#1234[#1234|1120 01 001]_10:15:30,11-24-2026\r"), "\(show(frame))")
    }

    @Test func originalTimeExtendedField() throws {
        let occurred = try #require(DC09Timestamp(year: 2026, month: 11, day: 24, hour: 10, minute: 14, second: 0))
        let message = DC09Message(
            token: .siaDCS, sequence: try DC09Sequence(3), prefix: .zero, account: try account("1234"), data: "#1234|Nri1/PA001",
            extended: [.originalTime(occurred)], timestamp: Self.time)
        let frame = try DC09Frame.encode(message, key: nil)
        #expect(
            frame == ascii("\nD4E10050\"SIA-DCS\"0003L0#1234[#1234|Nri1/PA001][H10:14:00,11-24-2026]_10:15:30,11-24-2026\r"),
            "\(show(frame))")
        let decoded = try DC09Frame.decode(frame, key: nil)
        #expect(decoded.originalTime == occurred)
        #expect(decoded == message)
    }

    @Test func nullFrame() throws {
        let message = DC09Message(token: .null, sequence: try DC09Sequence(4), prefix: .zero, account: try account("1234"), timestamp: Self.time)
        #expect(try DC09Frame.encode(message, key: nil) == ascii("\nC5320027\"NULL\"0004L0#1234[]_10:15:30,11-24-2026\r"))
    }

    @Test func nakFrameHasTheSpecLayout() throws {
        let frame = try DC09Frame.encode(.nak(receiverTime: try #require(Self.time)), key: nil)
        #expect(frame == ascii("\n9BAA0025\"NAK\"0000R0L0A0[]_10:15:30,11-24-2026\r"), "\(show(frame))")
    }

    @Test func ackFrameWithoutTimestamp() throws {
        let sent = DC09Message(token: .siaDCS, sequence: .first, prefix: .zero, account: try account("1234"), data: "x", timestamp: Self.time)
        let ack = sent.response(.ack, timestamp: try #require(Self.time))
        #expect(try DC09Frame.encode(ack, key: nil) == ascii("\n1BC10012\"ACK\"0001L0#1234[]\r"))
    }

    @Test func lengthFieldIsZeroAndThreeHexDigits() throws {
        let data = String(repeating: "A", count: 200)
        let message = DC09Message(token: .siaDCS, sequence: .first, prefix: .zero, account: try account("123"), data: data, timestamp: nil)
        let frame = try DC09Frame.encode(message, key: nil)
        let body = frame.count - 10
        #expect(Array(frame[5..<9]) == ascii(String(format: "0%03X", body)))
        #expect(body == 221)  // 20 header bytes, 200 data bytes, the closing ']'
    }

    @Test func oversizedAndInvalidDataIsRejected() throws {
        let big = DC09Message(
            token: .siaDCS, sequence: .first, prefix: .zero, account: try account("123"), data: String(repeating: "A", count: 4100), timestamp: nil)
        #expect(throws: DC09Error.self) { try DC09Frame.encode(big, key: nil) }
        let bracket = DC09Message(token: .siaDCS, sequence: .first, prefix: .zero, account: try account("123"), data: "a]b", timestamp: nil)
        #expect(throws: DC09Error.self) { try DC09Frame.encode(bracket, key: nil) }
    }

    @Test func identifiersAreValidated() throws {
        #expect(throws: DC09Error.self) { try DC09Account("12") }
        #expect(throws: DC09Error.self) { try DC09Account("12345678901234567") }
        #expect(throws: DC09Error.self) { try DC09Account("12G4") }
        #expect(throws: DC09Error.self) { try DC09ReceiverNumber("1234567") }
        #expect(throws: DC09Error.self) { try DC09LinePrefix("") }
        #expect(throws: DC09Error.self) { try DC09Sequence(10000) }
        #expect((try? DC09Account("00abcd"))?.text == "00ABCD")
        #expect(try DC09ReceiverNumber("0") == (try DC09ReceiverNumber("00")))
    }

    @Test func malformedFramesAreRejected() {
        let cases = [
            "",
            "1234",
            "ZZZZ0010\"SIA-DCS\"0001L0#123[]",
        ]
        for text in cases {
            #expect(throws: DC09Error.self, "\(text)") { try DC09Frame.parseEnvelope(ascii(text)) }
        }
        // Valid CRC and length around a body with an unknown token, a short sequence, no prefix.
        for body in ["\"FOO\"0001L0#123[]", "\"SIA-DCS\"01L0#123[]", "\"SIA-DCS\"0001#123[]", "\"SIA-DCS\"0001L0#12[]", "\"SIA-DCS\"0001L0#123"] {
            let bytes = ascii(body)
            let frame = DC09CRC.hexDigits(DC09CRC.compute(bytes)) + ascii("0") + DC09Hex.digits(UInt64(bytes.count), width: 3) + bytes
            let error = #expect(throws: DC09Error.self, "\(body)") { try DC09Frame.parseEnvelope(frame) }
            #expect(error?.code == .malformedFrame)
        }
    }
}

struct TimestampTests {
    @Test func formatsUTC() throws {
        let date = try utc(2026, 2, 3, 4, 5, 6)
        #expect(DC09Timestamp(date).text == "04:05:06,02-03-2026")
        #expect(DC09Timestamp(date.addingTimeInterval(0.999)).text == "04:05:06,02-03-2026")
    }

    @Test func roundTripsOverYearsAndLeapDays() throws {
        // Every 7 hours 13 minutes over ~40 years: parse(format(d)) == d and the Foundation
        // calendar agrees on the fields.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var date = try utc(1999, 12, 31, 23, 59, 59)
        let end = try utc(2040, 3, 1, 0, 0, 0)
        var checked = 0
        while date < end {
            let stamp = DC09Timestamp(date)
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            #expect(stamp.year == parts.year && stamp.month == parts.month && stamp.day == parts.day)
            #expect(stamp.hour == parts.hour && stamp.minute == parts.minute && stamp.second == parts.second)
            #expect(DC09Timestamp(text: stamp.text) == stamp)
            #expect(stamp.date == date)
            date += 7 * 3600 + 13 * 60
            checked += 1
        }
        #expect(checked > 40_000)
        #expect(DC09Timestamp(year: 2024, month: 2, day: 29, hour: 0, minute: 0, second: 0) != nil)
        #expect(DC09Timestamp(year: 2023, month: 2, day: 29, hour: 0, minute: 0, second: 0) == nil)
    }

    @Test("invalid timestamps", arguments: ["24:00:00,01-01-2026", "10:60:00,01-01-2026", "10:00:00,13-01-2026", "10:00:00,04-31-2026", "10:00:00,01-01-26", "10-00-00,01-01-2026", "_10:00:00,01-01-2026"])
    func invalid(text: String) {
        #expect(DC09Timestamp(text: text) == nil)
    }
}
