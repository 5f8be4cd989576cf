import DC09Receiver
import Foundation
import Logging
import SeededRandom
import TestSupport
import Testing

@testable import SIADC09

struct FrameSplitterTests {
    static let frames: [[UInt8]] = [
        ascii("\nB40B0039\"SIA-DCS\"0004L0#AAA[#AAA|Nri0/RP0000]_09:10:30,02-20-2023\r"),
        ascii("\n5BAD0012\"ACK\"1665L0#0000[]\r"),
        ascii("\nD3440015\"NULL\"0000L0#008312[]\r"),
    ]

    @Test func allAtOnceByteByByteAndEveryCutting() {
        let stream = Self.frames.flatMap { $0 }
        // The frames, then nothing left pending once the last one is out.
        let failures = chunkingFailures(decoding: stream, expecting: Self.frames + [[]]) {
            var splitter = DC09FrameSplitter()
            return ({ chunk in splitter.append(chunk) }, { [Array(repeating: 0, count: splitter.pendingByteCount)] })
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func noiseBeforeLFIsDroppedAndRunawayInputDiscarded() {
        var splitter = DC09FrameSplitter()
        let frames = splitter.append(ascii("noise") + Self.frames[1])
        #expect(frames == [Self.frames[1]])
        #expect(splitter.discardedByteCount == 5)
        let runaway = splitter.append([UInt8](repeating: UInt8(ascii: "A"), count: DC09Frame.maximumFrameLength + 10))
        #expect(runaway.isEmpty && splitter.discardedByteCount > DC09Frame.maximumFrameLength)
        #expect(splitter.append(Self.frames[2]) == [Self.frames[2]])
    }
}

struct ReceiverLogicTests {
    let now: Date
    let acct: DC09Account

    init() throws {
        now = try utc(2026, 11, 24, 12, 0, 0)
        acct = try DC09Account("1234")
    }

    func frame(at date: Date?, account: String = "1234", key: DC09Key? = nil) throws -> [UInt8] {
        let message = DC09Message(
            token: .siaDCS, isEncrypted: key != nil, sequence: try DC09Sequence(17), prefix: .zero, account: try DC09Account(account),
            data: "#\(account)|Nri1/PA001", timestamp: date.map(DC09Timestamp.init))
        return try DC09Frame.encode(message, key: key)
    }

    @Test func acknowledgesAGoodMessage() throws {
        let (response, record) = DC09ReceiverLogic.answer(to: try frame(at: now), policy: .init(accounts: [acct: nil]), now: now)
        #expect(response?.token == .ack && response?.sequence.value == 17 && response?.account == acct)
        #expect(record.answer == .ack && record.message?.data == "#1234|Nri1/PA001")
    }

    @Test("timestamp window: 40 s behind, 20 s ahead", arguments: [(-40.0, true), (-41.0, false), (20.0, true), (21.0, false)])
    func timeWindow(skew: Double, accepted: Bool) throws {
        let (response, record) = DC09ReceiverLogic.answer(to: try frame(at: now + skew), policy: .init(accounts: [acct: nil]), now: now)
        #expect(response?.token == (accepted ? .ack : .nak))
        if !accepted {
            #expect(response?.timestamp == DC09Timestamp(now), "the NAK carries the receiver's time")
            #expect(record.reason?.contains("timestamp") == true)
        }
    }

    @Test func duhForUnknownAccountsAndEncryptionMismatch() throws {
        let key = try DC09Key(hex: countingKeyHex(bits: 128))
        let unknown = DC09ReceiverLogic.answer(to: try frame(at: now, account: "9999"), policy: .init(accounts: [acct: nil]), now: now)
        #expect(unknown.response?.token == .duh && unknown.response?.account?.text == "9999")
        #expect(unknown.record.reason?.contains("unknown account") == true)
        let plainToEncrypted = DC09ReceiverLogic.answer(to: try frame(at: now), policy: .init(accounts: [acct: key]), now: now)
        #expect(plainToEncrypted.response?.token == .duh)
        let wrongKey = DC09ReceiverLogic.answer(
            to: try frame(at: now, key: try DC09Key(hex: countingKeyHex(bits: 256))), policy: .init(accounts: [acct: key]), now: now)
        #expect(wrongKey.response?.token == .duh)
        let good = DC09ReceiverLogic.answer(to: try frame(at: now, key: key), policy: .init(accounts: [acct: key]), now: now)
        #expect(good.response?.token == .ack && good.response?.isEncrypted == true)
    }

    @Test func corruptFramesGetNAKOrSilence() throws {
        var bytes = try frame(at: now)
        bytes[30] ^= 0x01
        let nak = DC09ReceiverLogic.answer(to: bytes, policy: .init(accounts: [acct: nil]), now: now)
        #expect(nak.response?.token == .nak)
        #expect(nak.record.reason?.contains("CRC") == true)
        let silent = DC09ReceiverLogic.answer(to: bytes, policy: .init(accounts: [acct: nil], nakCorruptFrames: false), now: now)
        #expect(silent.response == nil)
    }
}

/// Real sockets on loopback, port 0.
@Suite(.timeLimit(.minutes(1)))
struct LoopbackTests {
    let acct: DC09Account
    let logger = Logger(label: "test.dc09")

    init() throws {
        acct = try DC09Account("1234")
    }

    func configuration(key: DC09Key? = nil, responseTimeout: Duration = .seconds(2)) throws -> DC09TransmitterConfiguration {
        try DC09TransmitterConfiguration(
            account: acct, key: key, responseTimeout: responseTimeout, retryInterval: .seconds(5), linkTestInterval: nil)
    }

    @Test("connection exchange against the receiver", arguments: [nil, 128, 192, 256])
    func exchange(bits: Int?) async throws {
        let key = try bits.map { b throws(DC09Error) in try DC09Key(hex: countingKeyHex(bits: b)) }
        let receiver = try await DC09ReceiverServer.start(policy: .init(accounts: [acct: key]), logger: logger)
        var tx = try DC09Transmitter(configuration: try configuration(key: key), sequenceStore: DC09InMemorySequenceStore())
        let write = try #require(tx.submit(try DC09Event(code: .panic), id: "e1", now: Date()).writes.first)
        let answer = try await DC09Connection.exchange(write.frame, host: "127.0.0.1", port: receiver.port)
        let actions = tx.received(answer, now: Date())
        #expect(actions.delivered.map(\.id) == ["e1"], "\(show(answer))")
        let received = receiver.received
        #expect(received.count == 1 && received.first?.message?.data == "#1234|Nri1/PA001" && received.first?.answer == .ack)
        await receiver.shutdown()
    }

    @Test func linkDeliversThroughNAKsAndClockSkew() async throws {
        // The receiver's clock is 300 s ahead and it NAKs the first message regardless.
        let receiver = try await DC09ReceiverServer.start(
            policy: .init(accounts: [acct: nil]), clock: { Date().addingTimeInterval(300) }, logger: logger)
        receiver.nakNext(1)
        let link = try DC09Link(
            configuration: try configuration(), host: "127.0.0.1", port: receiver.port, sequenceStore: DC09InMemorySequenceStore(),
            logger: logger)
        let event = try DC09Event(code: .panic)
        let outcome = await withTaskGroup(of: DC09Link.Outcome?.self) { group in
            group.addTask { await link.run(); return nil }
            group.addTask { await link.deliver(event, id: "alarm-1") }
            var result: DC09Link.Outcome?
            for await value in group {
                if let value {
                    result = value
                    group.cancelAll()
                }
            }
            return result
        }
        // First frame: timestamp 300 s behind → NAK with the receiver's time (the forced NAK is
        // kept for a message it would have acknowledged); second: clock corrected, but the forced
        // NAK; third: ACK. All three with the same sequence number.
        #expect(outcome == .delivered(sequence: .first, attempts: 3))
        let status = await link.currentStatus
        #expect(abs(status.clockOffsetSeconds - 300) <= 1)
        let answers = receiver.received.map(\.answer)
        #expect(answers == [.nak, .nak, .ack])
        #expect(receiver.received.first?.reason?.contains("timestamp") == true)
        #expect(receiver.received.dropFirst().first?.reason?.contains("told to NAK") == true)
        #expect(receiver.received.map { $0.message?.sequence.value } == [1, 1, 1])
        await receiver.shutdown()
    }

    @Test func linkStoppedAnswersStopped() async throws {
        let link = try DC09Link(
            configuration: try configuration(), host: "127.0.0.1", port: 9, sequenceStore: DC09InMemorySequenceStore(), logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await link.run() }
            group.cancelAll()
        }
        #expect(await link.deliver(try DC09Event(code: .panic), id: "late") == .stopped)
    }

    @Test func probeReportsACKDUHAndTimeout() async throws {
        let receiver = try await DC09ReceiverServer.start(policy: .init(accounts: [acct: nil]), logger: logger)
        let ok = await DC09Probe.run(event: try DC09Event(code: .periodicTest), configuration: try configuration(), host: "127.0.0.1", port: receiver.port)
        #expect(ok.passed, "\(ok.steps)")
        #expect(ok.verdict.hasPrefix("PASS"))
        #expect(ok.steps.count >= 3)

        var other = try configuration()
        other.account = try DC09Account("ABC")
        let refused = await DC09Probe.run(event: try DC09Event(code: .panic), configuration: other, host: "127.0.0.1", port: receiver.port)
        #expect(refused.result == .refused("the receiver answered DUH (cannot process this message)"))

        receiver.setSilent(true)
        let silent = await DC09Probe.run(
            event: try DC09Event(code: .panic), configuration: try configuration(responseTimeout: .seconds(1)), host: "127.0.0.1", port: receiver.port)
        guard case .noAnswer = silent.result else {
            Issue.record("expected a timeout, got \(silent.result)")
            return
        }
        #expect(silent.verdict.hasPrefix("FAIL"))
        await receiver.shutdown()

        let closed = await DC09Probe.run(event: try DC09Event(code: .panic), configuration: try configuration(), host: "127.0.0.1", port: receiver.port)
        guard case .failed(let reason) = closed.result else {
            Issue.record("expected a connection failure, got \(closed.result)")
            return
        }
        #expect(reason.contains("cannot connect"))
    }
}
