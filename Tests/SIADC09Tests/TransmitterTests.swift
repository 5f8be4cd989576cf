import Foundation
import Testing

@testable import SIADC09

typealias Action = DC09Transmitter.Action

extension Array where Element == DC09Transmitter.Action {
    var writes: [(frame: [UInt8], message: DC09Message, attempt: Int)] {
        compactMap { if case .write(let f, let m, let a) = $0 { (f, m, a) } else { nil } }
    }
    var scheduled: [(timer: DC09Transmitter.Timer, after: Duration)] {
        compactMap { if case .schedule(let t, let d) = $0 { (t, d) } else { nil } }
    }
    func timer(_ kind: DC09Transmitter.Timer.Kind) -> DC09Transmitter.Timer? {
        scheduled.first { $0.timer.kind == kind }?.timer
    }
    var delivered: [(id: String, sequence: DC09Sequence, attempts: Int)] {
        compactMap { if case .delivered(let i, let s, let a) = $0 { (i, s, a) } else { nil } }
    }
    var refused: [String] { compactMap { if case .refused(let i, _, _) = $0 { i } else { nil } } }
    var ignored: [String] { compactMap { if case .ignoredResponse(let r) = $0 { r } else { nil } } }
    var tolerated: [String] { compactMap { if case .toleratedResponse(let n) = $0 { n } else { nil } } }
}

struct TransmitterTests {
    let t0: Date
    let acct: DC09Account

    init() throws {
        t0 = try utc(2026, 11, 24, 10, 0, 0)
        acct = try DC09Account("1234")
    }

    func configuration(
        key: DC09Key? = nil, retry: Duration = .seconds(7), linkTest: Duration? = nil, format: DC09Format = .siaDCS
    ) throws -> DC09TransmitterConfiguration {
        try DC09TransmitterConfiguration(
            account: acct, receiver: try DC09ReceiverNumber("5"), prefix: .zero, format: format, key: key,
            responseTimeout: .seconds(3), retryInterval: retry, linkTestInterval: linkTest)
    }

    func transmitter(_ configuration: DC09TransmitterConfiguration, store: any DC09SequenceStore = DC09InMemorySequenceStore()) throws -> DC09Transmitter {
        try DC09Transmitter(configuration: configuration, sequenceStore: store, padSeed: 1)
    }

    func panic(at date: Date? = nil) throws -> DC09Event { try DC09Event(code: .panic, area: 1, zone: 1, occurredAt: date) }

    /// The receiver's answer to `message`, as bytes.
    func answer(_ token: DC09Token, to message: DC09Message, key: DC09Key? = nil, at date: Date) throws -> [UInt8] {
        try DC09Frame.encode(message.response(token, timestamp: DC09Timestamp(date)), key: key)
    }

    @Test func submitWritesAFrameAndArmsTheResponseTimer() throws {
        var tx = try transmitter(try configuration())
        let actions = tx.submit(try panic(at: t0), id: "e1", now: t0)
        let write = try #require(actions.writes.first)
        #expect(write.attempt == 1)
        #expect(write.frame == ascii("\n5455003C\"SIA-DCS\"0001R5L0#1234[#1234|Nri1/PA001]_10:00:00,11-24-2026\r"), "\(show(write.frame))")
        #expect(actions.scheduled.map(\.after) == [.seconds(3)])
        #expect(actions.timer(.response) != nil)
    }

    @Test func matchingACKDelivers() throws {
        var tx = try transmitter(try configuration(linkTest: .seconds(60)))
        let sent = tx.submit(try panic(), id: "e1", now: t0)
        let message = try #require(sent.writes.first?.message)
        let actions = tx.received(try answer(.ack, to: message, at: t0), now: t0 + 0.01)
        #expect(actions.delivered.map(\.id) == ["e1"])
        #expect(actions.delivered.first?.attempts == 1)
        #expect(actions.contains(.cancel(try #require(sent.timer(.response)))))
        #expect(actions.timer(.linkTest) != nil, "idle again: the link test is armed")
        #expect(tx.outstandingCount == 0)
    }

    @Test func ackWithWrongSequenceOrAccountIsNotCounted() throws {
        var tx = try transmitter(try configuration())
        let message = try #require(tx.submit(try panic(), id: "e1", now: t0).writes.first?.message)
        var wrongSequence = message
        wrongSequence = DC09Message(
            token: message.token, sequence: message.sequence.next, receiver: message.receiver, prefix: message.prefix, account: message.account,
            timestamp: message.timestamp)
        let first = tx.received(try answer(.ack, to: wrongSequence, at: t0), now: t0)
        #expect(first.delivered.isEmpty && first.ignored.count == 1)
        var wrongAccount = message
        wrongAccount.account = try DC09Account("4321")
        let second = tx.received(try answer(.ack, to: wrongAccount, at: t0), now: t0)
        #expect(second.delivered.isEmpty && second.ignored.count == 1)
        #expect(tx.received(ascii("garbage\r"), now: t0).ignored.count == 1)
        // The right one still counts.
        #expect(tx.received(try answer(.ack, to: message, at: t0), now: t0).delivered.map(\.id) == ["e1"])
    }

    /// Strict in what it sends, tolerant in what it reads: an ACK whose sequence and account
    /// match counts although its receiver field differs, and the oddity is reported for the log.
    @Test func ackWithAnotherReceiverFieldCountsAndIsNoted() throws {
        var tx = try transmitter(try configuration())
        let message = try #require(tx.submit(try panic(), id: "e1", now: t0).writes.first?.message)
        var noReceiver = message
        noReceiver.receiver = nil
        let actions = tx.received(try answer(.ack, to: noReceiver, at: t0), now: t0)
        #expect(actions.delivered.map(\.id) == ["e1"])
        #expect(actions.tolerated.count == 1)
        #expect(actions.tolerated.first?.contains("receiver none (sent 5)") == true, "\(actions.tolerated)")
        #expect(actions.ignored.isEmpty)
    }

    @Test func duhRefusesAndIsNotRepeated() throws {
        var tx = try transmitter(try configuration())
        let first = tx.submit(try panic(), id: "e1", now: t0)
        _ = tx.submit(try panic(), id: "e2", now: t0)
        let message = try #require(first.writes.first?.message)
        let actions = tx.received(try answer(.duh, to: message, at: t0), now: t0)
        #expect(actions.refused == ["e1"])
        // The next event goes out with the next sequence number; e1 never again.
        #expect(actions.writes.map(\.message.sequence.value) == [2])
        #expect(tx.timerFired(try #require(first.timer(.response)), now: t0 + 3).isEmpty, "the old response timer is stale")
        #expect(tx.outstandingCount == 1)
    }

    @Test func nakCorrectsTheClockAndResendsTheSameSequence() throws {
        var tx = try transmitter(try configuration())
        let occurred = t0
        let first = tx.submit(try panic(at: occurred), id: "e1", now: t0)
        let receiverTime = t0.addingTimeInterval(100)
        let nak = try DC09Frame.encode(.nak(receiverTime: DC09Timestamp(receiverTime)), key: nil)
        let actions = tx.received(nak, now: t0 + 0.2)
        #expect(actions.contains(.clockCorrected(offsetSeconds: 100)))
        #expect(actions.contains(.cancel(try #require(first.timer(.response)))))
        let resend = try #require(actions.writes.first)
        #expect(resend.attempt == 2)
        #expect(resend.message.sequence == first.writes.first?.message.sequence)
        #expect(resend.message.timestamp == DC09Timestamp(receiverTime))
        #expect(resend.frame != first.writes.first?.frame)
        #expect(tx.clockOffsetSeconds == 100)
        // Later events carry the corrected time too.
        #expect(tx.received(try answer(.ack, to: resend.message, at: receiverTime), now: t0 + 0.3).delivered.first?.attempts == 2)
        let next = tx.submit(try panic(at: t0 + 10), id: "e2", now: t0 + 10)
        #expect(next.writes.first?.message.timestamp == DC09Timestamp(t0.addingTimeInterval(110)))
    }

    @Test func repeatedNAKsFallBackToTheRetryInterval() throws {
        var tx = try transmitter(try configuration())
        _ = tx.submit(try panic(), id: "e1", now: t0)
        let nak = try DC09Frame.encode(.nak(receiverTime: DC09Timestamp(t0)), key: nil)
        #expect(tx.received(nak, now: t0).writes.count == 1)
        #expect(tx.received(nak, now: t0).writes.count == 1)
        let third = tx.received(nak, now: t0)
        #expect(third.writes.isEmpty)
        let retry = try #require(third.scheduled.first)
        #expect(retry.timer.kind == .retry && retry.after == .seconds(7))
        let again = tx.timerFired(retry.timer, now: t0 + 7)
        #expect(again.writes.first?.attempt == 4)
    }

    @Test func noAnswerRetriesAfterTheInterval() throws {
        var tx = try transmitter(try configuration(retry: .seconds(7)))
        let occurred = t0
        let first = tx.submit(try panic(at: occurred), id: "e1", now: t0)
        let responseTimer = try #require(first.timer(.response))
        // Timer fires 3 s later: connection closed, retry in 7 s.
        let timeout = tx.timerFired(responseTimer, now: t0 + 3)
        #expect(timeout.first == .closeConnection)
        #expect(timeout.contains { if case .attemptFailed("e1", _, _, .seconds(7)) = $0 { true } else { false } })
        let retryTimer = try #require(timeout.timer(.retry))
        #expect(timeout.scheduled.first?.after == .seconds(7))
        #expect(timeout.writes.isEmpty)
        // The retry 10 s after the event: same sequence, fresh timestamp, original time in [H].
        let retry = tx.timerFired(retryTimer, now: t0 + 10)
        let write = try #require(retry.writes.first)
        #expect(write.attempt == 2)
        #expect(write.message.sequence.value == 1)
        #expect(write.message.timestamp == DC09Timestamp(t0 + 10))
        #expect(write.message.originalTime == DC09Timestamp(occurred))
        #expect(show(write.frame).contains("[H10:00:00,11-24-2026]_10:00:10,11-24-2026"))
        // Firing the old timers again changes nothing.
        #expect(tx.timerFired(responseTimer, now: t0 + 11).isEmpty)
        #expect(tx.timerFired(retryTimer, now: t0 + 11).isEmpty)
    }

    @Test func transportFailureRetriesAndLateACKStillCounts() throws {
        var tx = try transmitter(try configuration())
        let first = tx.submit(try panic(), id: "e1", now: t0)
        let failed = tx.transportFailed("connection refused", now: t0 + 0.01)
        #expect(failed.timer(.retry) != nil)
        #expect(failed.contains(.cancel(try #require(first.timer(.response)))))
        #expect(tx.transportFailed("again", now: t0 + 0.02).isEmpty, "nothing in flight to fail")
        // An ACK for the abandoned attempt arrives before the retry: delivered, retry cancelled.
        let late = tx.received(try answer(.ack, to: try #require(first.writes.first?.message), at: t0), now: t0 + 1)
        #expect(late.delivered.map(\.id) == ["e1"])
        #expect(late.contains(.cancel(try #require(failed.timer(.retry)))))
    }

    @Test func eventsQueueInOrderOneInFlight() throws {
        var tx = try transmitter(try configuration())
        let a = tx.submit(try panic(), id: "a", now: t0)
        #expect(tx.submit(try panic(), id: "b", now: t0).isEmpty)
        #expect(tx.submit(try panic(), id: "c", now: t0).isEmpty)
        #expect(tx.outstandingCount == 3)
        var message = try #require(a.writes.first?.message)
        var order: [String] = []
        for _ in 0..<3 {
            let actions = tx.received(try answer(.ack, to: message, at: t0), now: t0)
            order += actions.delivered.map(\.id)
            if let next = actions.writes.first { message = next.message }
        }
        #expect(order == ["a", "b", "c"])
    }

    @Test func linkTestWhenIdle() throws {
        var tx = try transmitter(try configuration(linkTest: .seconds(30)))
        let start = tx.start(now: t0)
        let linkTimer = try #require(start.timer(.linkTest))
        #expect(start.scheduled.first?.after == .seconds(30))
        let test = tx.timerFired(linkTimer, now: t0 + 30)
        let null = try #require(test.writes.first)
        #expect(null.message.token == .null && null.message.data == "" && null.message.sequence.value == 1)
        #expect(show(null.frame) == "<LF>E6DD0029\"NULL\"0001R5L0#1234[]_10:00:30,11-24-2026<CR>")
        let acked = tx.received(try answer(.ack, to: null.message, at: t0), now: t0 + 30)
        #expect(acked.contains(.linkTestPassed(sequence: null.message.sequence)))
        #expect(acked.timer(.linkTest) != nil)
        // A submitted event cancels the pending link test and restarts supervision after it.
        let next = try #require(acked.timer(.linkTest))
        let event = tx.submit(try panic(), id: "e1", now: t0 + 40)
        #expect(event.contains(.cancel(next)))
        #expect(tx.timerFired(next, now: t0 + 60).isEmpty)
    }

    @Test func failedLinkTestIsReportedAndRescheduledSooner() throws {
        var tx = try transmitter(try configuration(retry: .seconds(7), linkTest: .seconds(30)))
        let linkTimer = try #require(tx.start(now: t0).timer(.linkTest))
        let test = tx.timerFired(linkTimer, now: t0 + 30)
        let failed = tx.timerFired(try #require(test.timer(.response)), now: t0 + 33)
        #expect(failed.contains { if case .linkTestFailed = $0 { true } else { false } })
        #expect(failed.timer(.linkTest) != nil)
        #expect(failed.scheduled.first { $0.timer.kind == .linkTest }?.after == .seconds(7))
    }

    @Test func sequenceContinuesAcrossRestartsAndWraps() throws {
        let store = DC09InMemorySequenceStore(last: try DC09Sequence(9998))
        var tx = try transmitter(try configuration(), store: store)
        let first = try #require(tx.submit(try panic(), id: "a", now: t0).writes.first?.message)
        #expect(first.sequence.value == 9999)
        #expect(tx.received(try answer(.ack, to: first, at: t0), now: t0).delivered.count == 1)
        let second = try #require(tx.submit(try panic(), id: "b", now: t0).writes.first?.message)
        #expect(second.sequence.value == 1)
        #expect(show(try DC09Frame.encode(second, key: nil)).contains("\"SIA-DCS\"0001R5"))
        // A new transmitter on the same store (a restart) continues the numbering.
        var restarted = try transmitter(try configuration(), store: store)
        #expect(restarted.submit(try panic(), id: "c", now: t0).writes.first?.message.sequence.value == 2)
    }

    @Test func encryptedTransmitterNeedsEncryptedACKs() throws {
        let key = try DC09Key(hex: countingKeyHex(bits: 192))
        var tx = try transmitter(try configuration(key: key, format: .admCID))
        let write = try #require(tx.submit(try panic(), id: "e1", now: t0).writes.first)
        #expect(write.message.isEncrypted && write.message.data == "#1234|1120 01 001")
        #expect(try DC09Frame.decode(write.frame, key: key) == write.message)
        // A plain ACK (anyone can forge one) is not counted; the encrypted one is.
        var plain = write.message
        plain.isEncrypted = false
        #expect(tx.received(try answer(.ack, to: plain, at: t0), now: t0).delivered.isEmpty)
        #expect(tx.received(try answer(.ack, to: write.message, key: key, at: t0), now: t0).delivered.count == 1)
    }

    @Test func configurationRanges() throws {
        #expect(throws: DC09Error.self) { try configuration(retry: .seconds(4)) }
        #expect(throws: DC09Error.self) { try configuration(retry: .seconds(61)) }
        #expect(throws: DC09Error.self) { try configuration(linkTest: .seconds(5)) }
        #expect(try configuration(retry: .seconds(5)).retryInterval == .seconds(5))
        #expect(try configuration(retry: .seconds(60)).retryInterval == .seconds(60))
    }
}
