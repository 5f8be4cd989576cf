import Agent
import Clocks
import EventModel
import EventStore
import Foundation
import Logging
import PlatformAPI
import Synchronization
import TestSupport
import Testing
import Uplink

/// Days offline with a large backlog, on a controlled clock: delivery resumes by itself,
/// drains in order within each lane in full batches, and new alarms still go first.
@Suite struct LongOutageTests {
    @Test func aDaysLongBacklogDrainsInOrderWhileNewAlarmsGoFirst() async throws {
        let directory = NSTemporaryDirectory() + "outage-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory)

        // Three days of taps (one every 30 s) and an alarm every 6 hours, all while offline.
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        var backlog: [NewEvent] = []
        for index in 0..<(3 * 24 * 120) {
            let at = start.addingTimeInterval(Double(index) * 30)
            if index % 720 == 0 {
                backlog.append(NewEvent(kind: .alarm, device: "button-1", detail: "press \(index)", occurredAt: at))
            }
            backlog.append(
                NewEvent(
                    kind: .cardTap, device: "reader-1", purpose: "check-in",
                    card: CardRead(uid: String(format: "%010d", index), format: "em4100"), occurredAt: at))
        }
        let stored = try await store.append(contentsOf: backlog)
        let tapSeqs = stored.filter { $0.lane == .normal }.map(\.seq)
        let oldAlarmSeqs = stored.filter { $0.lane == .alarm }.map(\.seq)

        let online = Atomic<Bool>(false)
        let delivered = Mutex<[(lane: Lane, seqs: [Int64])]>([])
        let newAlarm = Mutex<StoredEvent?>(nil)
        let pressed = Atomic<Bool>(false)
        let sender = ScriptedSender { _, batch in
            guard online.load(ordering: .relaxed) else {
                return .failure(UplinkError(.transport, message: "connection refused"))
            }
            if batch.first?.lane == .normal {
                // A platform busy with a backlog answers each tap batch in 20 ms (real time).
                try? await Task.sleep(for: .milliseconds(20))
            }
            let count = delivered.withLock { list in
                list.append((batch.first!.lane, batch.map(\.seq)))
                return list.filter { $0.lane == .normal }.count
            }
            // Someone presses the alarm while the backlog drains: once (both lanes' requests see
            // the third tap batch, so the press is claimed before it is stored).
            if count == 3, pressed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
                let alarm = try? await store.append(NewEvent(kind: .alarm, device: "button-1", detail: "new press"))
                newAlarm.withLock { $0 = alarm }
            }
            return ScriptedSender.acceptAll(batch)
        }

        let clock = TestClock()
        // Backoff capped at an hour, like a normal lane long into an outage; one retry per hour of
        // test time keeps the test light next to the others running in parallel.
        let policy = RetryPolicy(initial: .seconds(1), maximum: .seconds(3600), jitter: 0)
        let forwarder = ForwarderService(
            store: store, uplink: sender,
            lanes: [.alarm: .init(policy: policy, batchSize: 50), .normal: .init(policy: policy, batchSize: 500)],
            clock: clock, logger: Logger(label: "test.outage"))

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder.run() }
            // Three days pass in steps of an hour: the forwarder keeps trying (at most an hour
            // apart), nothing is lost or delivered.
            for _ in 0..<72 {
                let before = sender.batches.count
                #expect(await eventually {
                    await clock.advance(by: .seconds(3600))
                    return sender.batches.count > before
                })
            }
            let queued = try await store.summary().totalQueued
            #expect(queued == stored.count)
            // The network is back: the next retry drains everything without further help.
            online.store(true, ordering: .relaxed)
            #expect(await eventually(timeout: .seconds(120)) {
                await clock.advance(by: .seconds(3600))
                return try await store.summary().totalQueued == 0
            })
            group.cancelAll()
        }

        let batches = delivered.withLock { $0 }
        // In order within each lane, each event once, taps in full batches of 500.
        let normal = batches.filter { $0.lane == .normal }
        #expect(normal.flatMap(\.seqs) == tapSeqs)
        #expect(normal.dropLast().allSatisfy { $0.seqs.count == 500 })
        let alarmBatches = batches.filter { $0.lane == .alarm }
        let alarm = try #require(newAlarm.withLock { $0 })
        #expect(alarmBatches.flatMap(\.seqs) == oldAlarmSeqs + [alarm.seq])
        // The backlog's alarms went before most of the tap backlog, and the new alarm did not
        // wait for the tap backlog: it was delivered while most tap batches were still to go.
        let newAlarmIndex = try #require(batches.firstIndex { $0.lane == .alarm && $0.seqs.contains(alarm.seq) })
        let tapBatchesBefore = batches[..<newAlarmIndex].filter { $0.lane == .normal }.count
        #expect(tapBatchesBefore <= 10, "the new alarm waited behind \(tapBatchesBefore) tap batches")
        #expect(normal.count == (tapSeqs.count + 499) / 500)
        #expect(try await store.events(limit: 100_000).allSatisfy { $0.outcome == .accepted })
    }
}
