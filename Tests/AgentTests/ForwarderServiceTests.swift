import Agent
import Clocks
import EventModel
import EventStore
import Foundation
import Logging
import PlatformAPI
import ServiceLifecycleTestKit
import Synchronization
import TestSupport
import Testing
import Uplink

@Suite struct ForwarderServiceTests {
    let logger = Logger(label: "test.forwarder")

    func forwarder<C: Clock>(_ store: EventStore, _ sender: ScriptedSender, clock: C, batchSize: Int = 100) -> ForwarderService<C>
    where C.Duration == Duration {
        let policy = RetryPolicy(initial: .seconds(1), maximum: .seconds(30), jitter: 0)
        return ForwarderService(
            store: store, uplink: sender,
            lanes: [.alarm: .init(policy: policy, batchSize: batchSize), .normal: .init(policy: policy, batchSize: batchSize)],
            clock: clock, logger: logger)
    }

    @Test func deliversEveryEventOnceInSequenceOrderWithinEachLane() async throws {
        let store = try EventStore.inMemory()
        var taps = try await store.append(contentsOf: (0..<5).map { tap(String(format: "%010d", $0)) })
        let alarm = try await store.append(NewEvent(kind: .alarm, device: "button-1"))
        taps += try await store.append(contentsOf: (5..<11).map { tap(String(format: "%010d", $0)) })
        let sender = ScriptedSender { _, batch in ScriptedSender.acceptAll(batch) }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder(store, sender, clock: ContinuousClock(), batchSize: 4).run() }
            let drained = await eventually { try await store.summary().totalQueued == 0 }
            #expect(drained)
            group.cancelAll()
        }
        let batches = sender.batches
        #expect(batches.allSatisfy { batch in Set(batch.map(\.lane)).count == 1 })
        #expect(batches.allSatisfy { $0.count <= 4 })
        let normal = batches.filter { $0.first?.lane == .normal }.flatMap { $0 }.map(\.seq)
        #expect(normal == taps.map(\.seq))
        #expect(batches.filter { $0.first?.lane == .alarm }.flatMap { $0 }.map(\.seq) == [alarm.seq])
        #expect(try await store.events().allSatisfy { $0.outcome == .accepted })
    }

    /// A slow platform at shutdown: the lane keeps sending while it answers, but no longer than
    /// the drain limit; the rest stays queued for the next start.
    @Test func theShutdownDrainStopsAtItsTimeLimit() async throws {
        let store = try EventStore.inMemory()
        _ = try await store.append(contentsOf: (0..<50).map { tap(String(format: "%010d", $0)) })
        let clock = TestClock()
        let sender = ScriptedSender { _, batch in
            try? await clock.sleep(for: .seconds(1))  // each answer takes a second
            return ScriptedSender.acceptAll(batch)
        }
        let policy = RetryPolicy(initial: .seconds(1), maximum: .seconds(30), jitter: 0)
        let service = ForwarderService(
            store: store, uplink: sender, lanes: [.normal: .init(policy: policy, batchSize: 1)], clock: clock, logger: logger,
            drainLimit: .seconds(10))
        let stopped = Flag()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await service.run()
                    stopped.set()
                }
                #expect(await eventually { sender.batches.count == 1 })
                trigger.triggerGracefulShutdown()
                // One second at a time, each time once the lane has sent its next request (or
                // stopped): every advance releases exactly one answer.
                for _ in 0..<40 {
                    let before = sender.batches.count
                    await clock.advance(by: .seconds(1))
                    _ = await eventually { sender.batches.count > before || stopped.isSet }
                    if stopped.isSet { break }
                }
                try await group.waitForAll()
            }
        }
        let sent = sender.batches.count
        #expect(stopped.isSet)
        #expect(sent >= 10 && sent <= 12, "kept draining for the limit, 10 s of one-second answers: \(sent) requests")
        #expect(try await store.summary().totalQueued == 50 - (try await store.events()).filter { $0.outcome == .accepted }.count)
        #expect(try await store.summary().totalQueued > 0, "the rest waits for the next start")
    }

    @Test func waitsWhatRetryAfterSaysOnTheInjectedClock() async throws {
        let store = try EventStore.inMemory()
        _ = try await store.append(tap("0000000001"))
        let sender = ScriptedSender { call, batch in
            call == 0 ? .failure(UplinkError(.status(503), retryAfter: .seconds(60), message: "busy")) : ScriptedSender.acceptAll(batch)
        }
        let testClock = TestClock()
        let clock = RecordingClock(testClock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder(store, sender, clock: clock).run() }
            #expect(await eventually { sender.batches.count == 1 })
            // The lane's one wait after the 503 is exactly what Retry-After said (the alarm lane
            // waits on its doorbell, not on the clock), so nothing can go before it ran out.
            #expect(await eventually { !clock.sleeps.isEmpty })
            #expect(clock.sleeps == [.seconds(60)])
            await testClock.advance(by: .seconds(59))
            #expect(await eventually {
                await testClock.advance(by: .seconds(1))
                return sender.batches.count == 2
            })
            #expect(await eventually { try await store.summary().totalQueued == 0 })
            group.cancelAll()
        }
    }

    @Test func anAlarmIsDeliveredWhileATapBatchIsStuckInFlight() async throws {
        let store = try EventStore.inMemory()
        _ = try await store.append(contentsOf: (0..<50).map { tap(String(format: "%010d", $0)) })
        let release = AsyncStream<Void>.makeStream()
        let sender = ScriptedSender { _, batch in
            if batch.first?.lane == .normal {
                for await _ in release.stream { break }  // a platform that never answers this one
            }
            return ScriptedSender.acceptAll(batch)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder(store, sender, clock: ContinuousClock()).run() }
            #expect(await eventually { sender.batches.count == 1 })
            let alarm = try await store.append(NewEvent(kind: .alarm, device: "button-1"))
            #expect(await eventually { try await store.summary().lanes[.alarm]?.count == 0 })
            #expect(sender.batches.last?.map(\.seq) == [alarm.seq])
            #expect(try await store.summary().lanes[.normal]?.count == 50, "the tap batch is still in flight")
            release.continuation.finish()
            #expect(await eventually { try await store.summary().totalQueued == 0 })
            group.cancelAll()
        }
    }

    @Test func aPoisonedEventIsRejectedAloneAndEveryOtherEventIsDelivered() async throws {
        let store = try EventStore.inMemory()
        let uids = (0..<8).map { $0 == 4 ? "BAD0BAD0BA" : String(format: "%010d", $0) }
        let stored = try await store.append(contentsOf: uids.map { tap($0) })
        let sender = ScriptedSender { _, batch in
            if batch.contains(where: { $0.event.card?.uid == "BAD0BAD0BA" }) {
                return .failure(UplinkError(.refused(400), message: "events[0].card.uid is not acceptable"))
            }
            return ScriptedSender.acceptAll(batch)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder(store, sender, clock: ContinuousClock(), batchSize: 8).run() }
            #expect(await eventually { try await store.summary().totalQueued == 0 })
            group.cancelAll()
        }
        let records = try await store.events()
        for record in records {
            let expected: DeliveryStatus = record.event.seq == stored[4].seq ? .rejected : .accepted
            #expect(record.outcome == expected, "seq \(record.event.seq)")
        }
    }

    @Test func aDeadPlatformKeepsEverythingQueued() async throws {
        let store = try EventStore.inMemory()
        _ = try await store.append(contentsOf: (0..<3).map { tap(String(format: "%010d", $0)) })
        let sender = ScriptedSender { _, _ in .failure(UplinkError(.transport, message: "connection refused")) }
        let clock = TestClock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder(store, sender, clock: clock).run() }
            for _ in 0..<5 {
                let before = sender.batches.count
                // Keep time moving: the retry sleep may be registered just after an advance.
                #expect(await eventually {
                    await clock.advance(by: .seconds(30))
                    return sender.batches.count > before
                })
                let queued = try await store.summary().lanes[.normal]?.count
                #expect(queued == 3)
            }
            group.cancelAll()
        }
        #expect(try await store.summary().lanes[.normal]?.count == 3)
        #expect(sender.batches.count >= 5)
    }
}
