import EventModel
import EventStore
import Foundation
import Testing

@Suite struct DrainCountsTests {
    static func tap(_ uid: String) -> NewEvent {
        NewEvent(kind: .cardTap, device: "reader-1", purpose: "check-in", card: CardRead(uid: uid, format: "em4100"))
    }

    @Test func theBacklogStartsWhereTheQueueWasLastEmpty() async throws {
        let store = try EventStore.inMemory()
        let base = Date()
        // Two taps delivered (an hour ago, as far as the store knows) before anything else was
        // stored: the queue was empty after each.
        let early = try await store.append(Self.tap("01"))
        try await store.markDelivered([DeliveryOutcome(seq: early.seq, status: .accepted)], at: base.addingTimeInterval(-3600))
        let second = try await store.append(Self.tap("02"))
        try await store.markDelivered([DeliveryOutcome(seq: second.seq, status: .accepted)], at: base.addingTimeInterval(-3600))
        // Then a backlog of ten builds; four of it go (one rejected: a verdict all the same),
        // after all ten were stored.
        var backlog: [StoredEvent] = []
        for index in 0..<10 { backlog.append(try await store.append(Self.tap(String(format: "1%d", index)))) }
        let alarm = try await store.append(NewEvent(kind: .alarm, device: "button-1"))
        try await store.markDelivered(
            backlog.prefix(4).map { DeliveryOutcome(seq: $0.seq, status: $0.seq == backlog[2].seq ? .rejected : .accepted) }
                + [DeliveryOutcome(seq: alarm.seq, status: .accepted)],
            // An hour ahead of the wall clock, so that however slowly a loaded machine stores
            // the backlog, none of it was stored after these verdicts.
            at: base.addingTimeInterval(3600))

        let counts = try await store.drainCounts(now: base.addingTimeInterval(3610))
        #expect(counts.drained == 4, "the backlog's delivered events, not the two before it, not the alarm")
        #expect(counts.deliveredLastMinute == 4, "normal-lane verdicts of the last minute")
        #expect(counts.deliveredLastTenMinutes == 4)
        #expect(try await store.summary().lanes[.normal]?.count == 6)

        // Later the last minute is empty, the last ten are not; later still, neither.
        let later = try await store.drainCounts(now: base.addingTimeInterval(3690))
        #expect(later.deliveredLastMinute == 0)
        #expect(later.deliveredLastTenMinutes == 4)
        #expect(later.drained == 4)
        #expect(try await store.drainCounts(now: base.addingTimeInterval(4290)).deliveredLastTenMinutes == 0)
    }

    @Test func anEmptyQueueHasNoBacklog() async throws {
        let store = try EventStore.inMemory()
        #expect(try await store.drainCounts() == DrainCounts(drained: 0, deliveredLastMinute: 0, deliveredLastTenMinutes: 0))
        let one = try await store.append(Self.tap("01"))
        try await store.markDelivered([DeliveryOutcome(seq: one.seq, status: .accepted)])
        #expect(try await store.drainCounts() == DrainCounts(drained: 0, deliveredLastMinute: 1, deliveredLastTenMinutes: 1))
    }

    @Test func aBacklogFromTheFirstEventCountsEverythingDelivered() async throws {
        let store = try EventStore.inMemory()
        var events: [StoredEvent] = []
        for index in 0..<5 { events.append(try await store.append(Self.tap("2\(index)"))) }
        try await store.markDelivered(events.prefix(2).map { DeliveryOutcome(seq: $0.seq, status: .accepted) }, at: Date().addingTimeInterval(10))
        #expect(try await store.drainCounts().drained == 2)
    }
}
