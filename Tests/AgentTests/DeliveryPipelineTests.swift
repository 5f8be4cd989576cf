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

/// The normal lane reads ahead and commits verdicts while the next request is in flight; these
/// check that this never reorders, skips or loses an event.
@Suite struct DeliveryPipelineTests {
    let logger = Logger(label: "test.pipeline")
    let policy = RetryPolicy(initial: .seconds(1), maximum: .seconds(30), jitter: 0)

    func forwarder<C: Clock>(_ store: EventStore, _ sender: ScriptedSender, clock: C, batchSize: Int) -> ForwarderService<C>
    where C.Duration == Duration {
        ForwarderService(
            store: store, uplink: sender,
            lanes: [.alarm: .init(policy: policy, batchSize: batchSize), .normal: .init(policy: policy, batchSize: batchSize)],
            clock: clock, logger: logger)
    }

    @Test func theReadAheadIsUsedOnlyWhenEveryEventWasAnsweredAndTheNextGoesAtOnce() {
        let all = DeliveryPlanner.Action(outcomes: [DeliveryOutcome(seq: 1, status: .accepted), DeliveryOutcome(seq: 2, status: .rejected)], next: .sendNow)
        #expect(all.mayContinue(batchCount: 2))
        #expect(!all.mayContinue(batchCount: 3), "an unanswered event must go again first")
        let waiting = DeliveryPlanner.Action(outcomes: all.outcomes, next: .wait(.seconds(1)))
        #expect(!waiting.mayContinue(batchCount: 2))
        let split = DeliveryPlanner.Action(outcomes: [], next: .sendNow)
        #expect(!split.mayContinue(batchCount: 4))
        #expect(!split.mayContinue(batchCount: 0))
    }

    @Test func aPartialAnswerSendsTheUnansweredEventsBeforeAnythingReadAhead() async throws {
        let store = try EventStore.inMemory()
        let taps = try await store.append(contentsOf: (0..<40).map { tap(String(format: "%010d", $0)) })
        // The second request is answered for its first half only; everything else in full.
        let sender = ScriptedSender { call, batch in
            if call == 1 { return ScriptedSender.acceptAll(Array(batch.prefix(batch.count / 2))) }
            return ScriptedSender.acceptAll(batch)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder(store, sender, clock: TestClock(), batchSize: 10).run() }
            #expect(await eventually { try await store.summary().totalQueued == 0 })
            group.cancelAll()
        }
        let batches = sender.batches.filter { $0.first?.lane == .normal }
        #expect(batches.count >= 5)
        // Request 2 left its second half unanswered: request 3 starts with exactly those.
        #expect(batches[2].first?.seq == batches[1][batches[1].count / 2].seq)
        // Delivered once each, in order, apart from the resent half.
        var seen: [Int64] = []
        for (index, batch) in batches.enumerated() {
            let counted = index == 1 ? Array(batch.prefix(batch.count / 2)) : batch
            seen += counted.map(\.seq)
        }
        #expect(seen == taps.map(\.seq))
        #expect(try await store.events().allSatisfy { $0.outcome == .accepted })
    }

    @Test func verdictsCommittedWhileTheNextRequestIsInFlightAreAllThereAtTheEnd() async throws {
        let store = try EventStore.inMemory()
        let taps = try await store.append(contentsOf: (0..<95).map { tap(String(format: "%010d", $0)) })
        let inFlight = Mutex(0)
        let sender = ScriptedSender { _, batch in
            inFlight.withLock { $0 += 1 }
            defer { inFlight.withLock { $0 -= 1 } }
            #expect(inFlight.withLock { $0 } == 1, "one request at a time per lane")
            await Task.yield()
            return ScriptedSender.acceptAll(batch)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder(store, sender, clock: TestClock(), batchSize: 10).run() }
            #expect(await eventually { try await store.summary().totalQueued == 0 })
            group.cancelAll()
        }
        let sent = sender.batches.flatMap { $0 }.map(\.seq)
        #expect(sent == taps.map(\.seq), "each event once, in sequence order")
        #expect(try await store.events().allSatisfy { $0.outcome == .accepted && $0.deliveredAt != nil })
    }

    @Test func aFailureAfterReadAheadSendsTheSameEventsAgain() async throws {
        let store = try EventStore.inMemory()
        let taps = try await store.append(contentsOf: (0..<30).map { tap(String(format: "%010d", $0)) })
        let sender = ScriptedSender { call, batch in
            call == 1 ? .failure(UplinkError(.status(503), message: "busy")) : ScriptedSender.acceptAll(batch)
        }
        let clock = TestClock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await forwarder(store, sender, clock: clock, batchSize: 10).run() }
            #expect(await eventually {
                await clock.advance(by: .seconds(1))
                return try await store.summary().totalQueued == 0
            })
            group.cancelAll()
        }
        let batches = sender.batches
        #expect(batches.count == 4)
        #expect(batches[1].map(\.seq) == batches[2].map(\.seq), "the failed batch goes again, not the one read ahead")
        #expect(Array(batches.enumerated().filter { $0.offset != 1 }.flatMap { $0.element }.map(\.seq)) == taps.map(\.seq))
    }
}
