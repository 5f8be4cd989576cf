import EventModel
import Foundation
import Testing

@testable import SIADC09

struct ResponseTests {
    static let time = DC09Timestamp(year: 2026, month: 11, day: 24, hour: 10, minute: 15, second: 30)

    func sent(sequence: Int = 1665, receiver: String? = nil, account: String = "0000", encrypted: Bool = false) throws -> DC09Message {
        DC09Message(
            token: .siaDCS, isEncrypted: encrypted, sequence: try DC09Sequence(sequence), receiver: try receiver.map { r throws(DC09Error) in try DC09ReceiverNumber(r) },
            prefix: .zero, account: try DC09Account(account), data: "#\(account)|Nri0/RP0000", timestamp: Self.time)
    }

    /// The ACK a receiver sent in Supergiovane/node-red-contrib-sia-ultimate issue #2
    /// ("sending ... following message: 5BAD0012"ACK"1665L0#0000[]").
    @Test func publishedACKAnswersItsMessage() throws {
        let response = try DC09Response.parse(ascii(#"5BAD0012"ACK"1665L0#0000[]"#), key: nil)
        guard case .ack(let message) = response else {
            Issue.record("expected ACK, got \(response)")
            return
        }
        #expect(message.sequence.value == 1665)
        #expect(response.answers(try sent()))
        #expect(response.mismatch(with: try sent()) == nil)
    }

    @Test func mismatchedACKsDoNotCount() throws {
        let response = try DC09Response.parse(ascii(#"5BAD0012"ACK"1665L0#0000[]"#), key: nil)
        #expect(!response.answers(try sent(sequence: 1666)))
        #expect(response.mismatch(with: try sent(sequence: 1666))?.contains("sequence 1665") == true)
        #expect(!response.answers(try sent(account: "0001")))
        // A plain ACK must not count for an encrypted message.
        #expect(!response.answers(try sent(encrypted: true)))
    }

    /// A receiver field or line prefix that differs is tolerated (sequence and account match)
    /// and reported for the log.
    @Test func anotherReceiverOrPrefixStillAnswersAndIsNoted() throws {
        let response = try DC09Response.parse(ascii(#"5BAD0012"ACK"1665L0#0000[]"#), key: nil)
        #expect(response.oddities(with: try sent()) == nil)
        #expect(response.answers(try sent(receiver: "1")))
        #expect(response.oddities(with: try sent(receiver: "1")) == "receiver none (sent 1)")
        var otherPrefix = try sent()
        otherPrefix.prefix = try DC09LinePrefix("2")
        #expect(response.answers(otherPrefix))
        #expect(response.oddities(with: otherPrefix) == "prefix 0 (sent 2)")
    }

    /// A framed body with its CRC and length, as a receiver would send it.
    func framed(_ body: String) -> [UInt8] {
        let bytes = Array(body.utf8)
        let crc = String(decoding: DC09CRC.hexDigits(DC09CRC.compute(bytes[...])), as: UTF8.self)
        return [0x0A] + Array((crc + "0" + String(format: "%03X", bytes.count)).utf8) + bytes + [0x0D]
    }

    /// An open-source receiver answers a message without an `R` field with Python's `None` in its
    /// place: read past it, count the ACK, note the oddity.
    @Test func anACKWithANonCanonicalReceiverFieldAnswersItsMessage() throws {
        let response = try DC09Response.parse(framed(#""ACK"0001NoneL0#AAA[]"#), key: nil)
        guard case .ack(let message) = response else {
            Issue.record("expected ACK, got \(response)")
            return
        }
        #expect(message.nonCanonicalReceiver == "None")
        #expect(message.receiver == nil)
        #expect(message.account?.text == "AAA")
        let sentMessage = try sent(sequence: 1, account: "AAA")
        #expect(response.answers(sentMessage))
        #expect(response.oddities(with: sentMessage) == "receiver field 'None' is not R<hex> (sent no R field)")
        #expect(!response.answers(try sent(sequence: 2, account: "AAA")), "the sequence must still match")
        #expect(!response.answers(try sent(sequence: 1, account: "AAB")), "the account must still match")
    }

    @Test func readingPastAReceiverFieldHasLimits() throws {
        // No 'L' prefix at all, a field longer than 16 bytes, or brackets before the 'L': still refused.
        for body in [#""ACK"0001None#AAA[]"#, #""ACK"0001ABCDEFGHIJKLMNOPQRL0#AAA[]"#, #""ACK"0001[x]L0#AAA[]"#] {
            #expect(throws: DC09Error.self, "\(body)") { try DC09Response.parse(framed(body), key: nil) }
        }
    }

    @Test func nakCarriesTheReceiverTime() throws {
        let frame = try DC09Frame.encode(.nak(receiverTime: try #require(Self.time)), key: nil)
        let response = try DC09Response.parse(frame, key: nil)
        #expect(response == .nak(receiverTime: Self.time))
        #expect(response.answers(try sent()))  // a NAK names no message: it applies to the one in flight
    }

    @Test func duhAndRSP() throws {
        let message = try sent()
        let duh = try DC09Response.parse(try DC09Frame.encode(message.response(.duh, timestamp: try #require(Self.time)), key: nil), key: nil)
        guard case .duh = duh else {
            Issue.record("expected DUH, got \(duh)")
            return
        }
        #expect(duh.answers(message))
        let rsp = try DC09Response.parse(try DC09Frame.encode(message.response(.rsp, timestamp: try #require(Self.time)), key: nil), key: nil)
        guard case .ack = rsp else {
            Issue.record("expected RSP to acknowledge, got \(rsp)")
            return
        }
        #expect(rsp.answers(message))
    }

    @Test("encrypted ACK", arguments: [128, 192, 256])
    func encryptedACK(bits: Int) throws {
        let key = try DC09Key(hex: countingKeyHex(bits: bits))
        let message = try sent(encrypted: true)
        let ack = message.response(.ack, timestamp: try #require(Self.time))
        #expect(ack.isEncrypted && ack.timestamp == Self.time)
        let frame = try DC09Frame.encode(ack, key: key)
        #expect(show(frame).contains("\"*ACK\"1665L0#0000["))
        let response = try DC09Response.parse(frame, key: key)
        #expect(response.answers(message))
        #expect(throws: DC09Error.self) { try DC09Response.parse(frame, key: nil) }
    }

    @Test func eventsAreNotResponses() throws {
        let frame = try DC09Frame.encode(try sent(), key: nil)
        let error = #expect(throws: DC09Error.self) { try DC09Response.parse(frame, key: nil) }
        #expect(error?.code == .unexpectedResponse)
    }
}

struct EventMappingTests {
    @Test func kindTable() {
        let expected: [EventKind: (String, Int, Int)] = [
            .alarm: ("PA", 1, 120), .alarmReset: ("PH", 3, 120), .tamper: ("TA", 1, 137), .lowBattery: ("YT", 1, 302),
            .powerLoss: ("AT", 1, 301), .powerRestored: ("AR", 3, 301), .deviceFault: ("ET", 1, 333),
        ]
        for kind in EventKind.allCases {
            let code = DC09EventCode.forKind(kind)
            if let (sia, qualifier, event) = expected[kind] {
                #expect(code?.sia == sia && code?.cidQualifier == qualifier && code?.cidEvent == event, "\(kind)")
            } else {
                #expect(code == nil, "\(kind) must not be reported over DC-09")
            }
        }
    }

    @Test func dataFields() throws {
        let acct = try account("1234")
        let panic = try DC09Event(code: .panic, area: 1, zone: 1)
        #expect(panic.data(format: .siaDCS, account: acct) == "#1234|Nri1/PA001")
        #expect(panic.data(format: .admCID, account: acct) == "#1234|1120 01 001")
        let restore = try DC09Event(code: .panicRestore, area: 12, zone: 345)
        #expect(restore.data(format: .siaDCS, account: acct) == "#1234|Nri12/PH345")
        #expect(restore.data(format: .admCID, account: acct) == "#1234|3120 12 345")
        let test = try DC09Event(code: .periodicTest, area: 0, zone: 0)
        #expect(test.data(format: .admCID, account: acct) == "#1234|1602 00 000")
        #expect(test.data(format: .siaDCS, account: acct) == "#1234|Nri0/RP000")
    }

    @Test func fromStationEvents() throws {
        let occurred = try utc(2026, 11, 24, 10, 0, 0)
        let alarm = try #require(DC09Event(NewEvent(kind: .alarm, device: "button-1", occurredAt: occurred), zone: 7))
        #expect(alarm.code == .panic && alarm.zone == 7 && alarm.occurredAt == occurred)
        #expect(DC09Event(NewEvent(kind: .cardTap, device: "reader-1")) == nil)
        #expect(DC09Event(NewEvent(kind: .alarm, device: "button-1"), zone: 1000) == nil)
        #expect(throws: DC09Error.self) { try DC09Event(code: .panic, area: 100) }
        #expect(DC09EventCode.named("pa") == .panic && DC09EventCode.named("RP") == .periodicTest && DC09EventCode.named("ZZ") == nil)
    }
}

struct SequenceTests {
    @Test func wrapsFrom9999To0001() throws {
        #expect(try DC09Sequence(9998).next.value == 9999)
        #expect(try DC09Sequence(9999).next.value == 1)
        #expect(DC09Sequence.zero.next.value == 1)
        #expect(try DC09Sequence(42).text == "0042")
        // A full cycle visits every number once and never 0000.
        var seen = Set<Int>()
        var sequence = DC09Sequence.first
        for _ in 0..<9999 {
            seen.insert(sequence.value)
            sequence = sequence.next
        }
        #expect(seen.count == 9999 && !seen.contains(0) && sequence == .first)
    }

    @Test func counterSurvivesRestartsThroughTheStore() throws {
        let store = DC09InMemorySequenceStore(last: try DC09Sequence(9998))
        var counter = try DC09SequenceCounter(store: store)
        #expect(counter.next().sequence.value == 9999)
        #expect(counter.next().sequence.value == 1)
        var restarted = try DC09SequenceCounter(store: store)
        #expect(restarted.next().sequence.value == 2)
        #expect(store.saveCount == 3)
    }

    @Test func fileStorePersistsAcrossInstances() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dc09-seq-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("dc09.seq").path
        #expect(try DC09FileSequenceStore(path: path).loadLastSequence() == nil)
        var counter = try DC09SequenceCounter(store: DC09FileSequenceStore(path: path))
        for _ in 0..<3 { _ = counter.next() }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "0003\n")
        var again = try DC09SequenceCounter(store: DC09FileSequenceStore(path: path))
        #expect(again.next().sequence.value == 4)

        try "garbage".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: DC09Error.self) { try DC09SequenceCounter(store: DC09FileSequenceStore(path: path)) }
        #expect(error?.code == .sequenceStore)
    }

    @Test func aFailingStoreDoesNotStopTheAlarm() throws {
        struct Broken: DC09SequenceStore {
            func loadLastSequence() throws -> DC09Sequence? { try DC09Sequence(7) }
            func saveLastSequence(_ sequence: DC09Sequence) throws { throw DC09Error(.sequenceStore, "disk full") }
        }
        var counter = try DC09SequenceCounter(store: Broken())
        let (sequence, error) = counter.next()
        #expect(sequence.value == 8)
        #expect(error?.code == .sequenceStore)
    }
}
