import EventModel
import EventStore
import Foundation
import Testing

/// Rejected events are kept for an operator: never pruned, never evicted, listed with the
/// platform's reason, sent again when requeued; a refusal is not a delivery.
@Suite struct RejectedEventTests {
    @Test func rejectedEventsSurvivePruningAndAreListedWithTheReason() async throws {
        let store = try EventStore.inMemory()
        let stored = try await store.append(contentsOf: (0..<4).map { EventStoreTests.tap(String(format: "%010d", $0)) })
        let old = Date().addingTimeInterval(-30 * 86_400)
        try await store.markDelivered(
            [
                DeliveryOutcome(seq: stored[0].seq, status: .accepted), DeliveryOutcome(seq: stored[1].seq, status: .rejected, reason: "unknown purpose"),
                DeliveryOutcome(seq: stored[2].seq, status: .duplicate),
            ], at: old)
        #expect(try await store.prune(deliveredBefore: Date()) == 2)
        let rejected = try await store.rejectedEvents()
        #expect(rejected.map(\.event.seq) == [stored[1].seq])
        #expect(rejected.first?.reason == "unknown purpose")
        #expect(try await store.rejectedCounts() == [.normal: 1])
        #expect(try await store.events().map(\.event.seq) == [stored[1].seq, stored[3].seq])
    }

    @Test func aRefusalIsNotADelivery() async throws {
        let store = try EventStore.inMemory()
        let tap = try await store.append(EventStoreTests.tap("0000000001"))
        try await store.markDelivered([DeliveryOutcome(seq: tap.seq, status: .rejected, reason: "no")])
        #expect(try await store.summary().lastDeliveryAt == nil)
        let next = try await store.append(EventStoreTests.tap("0000000002"))
        try await store.markDelivered([DeliveryOutcome(seq: next.seq, status: .accepted)])
        #expect(try await store.summary().lastDeliveryAt != nil)
    }

    @Test func requeueSendsChosenOrAllRejectedEventsAgain() async throws {
        let store = try EventStore.inMemory()
        let stored = try await store.append(contentsOf: (0..<3).map { EventStoreTests.tap(String(format: "%010d", $0)) })
        try await store.markDelivered(stored.map { DeliveryOutcome(seq: $0.seq, status: .rejected, reason: "bad") })
        #expect(try await store.nextBatch(lane: .normal, limit: 10).isEmpty)
        #expect(try await store.requeueRejected(seqs: [stored[1].seq, 999]) == [stored[1].seq])
        #expect(try await store.nextBatch(lane: .normal, limit: 10).map(\.seq) == [stored[1].seq])
        #expect(try await store.requeueRejected() == [stored[0].seq, stored[2].seq])
        #expect(try await store.nextBatch(lane: .normal, limit: 10).map(\.seq) == stored.map(\.seq))
        #expect(try await store.rejectedEvents().isEmpty)
    }

    @Test func rejectedAlarmsAreRequeuedOnceTheirWaitIsOver() async throws {
        let store = try EventStore.inMemory()
        let alarm = try await store.append(NewEvent(kind: .alarm, device: "button-1"))
        let tap = try await store.append(EventStoreTests.tap("0000000009"))
        let rejectedAt = Date().addingTimeInterval(-120)
        try await store.markDelivered(
            [DeliveryOutcome(seq: alarm.seq, status: .rejected, reason: "x"), DeliveryOutcome(seq: tap.seq, status: .rejected, reason: "y")],
            at: rejectedAt)
        #expect(try await store.requeueRejected(lane: .alarm, rejectedBefore: rejectedAt).isEmpty, "not yet")
        #expect(try await store.requeueRejected(lane: .alarm, rejectedBefore: Date()) == [alarm.seq])
        #expect(try await store.nextBatch(lane: .alarm, limit: 10).map(\.seq) == [alarm.seq])
        #expect(try await store.rejectedEvents().map(\.event.seq) == [tap.seq], "only the alarm lane is requeued by itself")
    }

    @Test func theBudgetEvictsDeliveredEventsButNeverRejectedOnes() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory, policy: StoragePolicy(maxBytes: 400 << 10, alarmReserveBytes: 100 << 10))
        let first = try await store.append(contentsOf: (0..<50).map { StorageFaultTests.tap($0) })
        try await store.markDelivered(first.prefix(10).map { DeliveryOutcome(seq: $0.seq, status: .rejected, reason: "kept") })
        try await store.markDelivered(first.dropFirst(10).map { DeliveryOutcome(seq: $0.seq, status: .accepted) })
        for batch in 1..<50 {
            _ = try await store.append(contentsOf: (0..<50).map { StorageFaultTests.tap(batch * 50 + $0) })
        }
        #expect(try await store.evictionCounts().delivered > 0, "the budget did evict")
        #expect(try await store.rejectedEvents().map(\.event.seq) == first.prefix(10).map(\.seq))
    }
}
