import EventModel
import EventStore
import Foundation
import Testing

@Suite struct EventStoreTests {
    static func tap(_ uid: String, device: String = "reader-1") -> NewEvent {
        NewEvent(kind: .cardTap, device: device, purpose: "check-in", card: CardRead(uid: uid, format: "em4100"))
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "eventstore-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func writerRunsWithSynchronousFull() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory)
        #expect(try store.synchronousLevel() == 2)
    }

    @Test func appendAssignsIdsAndIncreasingSequenceNumbers() async throws {
        let store = try EventStore.inMemory()
        let first = try await store.append(Self.tap("0A0B0C0D0E"))
        let more = try await store.append(contentsOf: [Self.tap("1111111111"), Self.tap("2222222222")])
        #expect(first.seq == 1)
        #expect(more.map(\.seq) == [2, 3])
        #expect(Set([first.id] + more.map(\.id)).count == 3)
        #expect(first.id.count == 36)
        #expect(more[1].event.card?.uid == "2222222222")
    }

    @Test func concurrentAppendsAreGroupedAndAllStoredOnce() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory)
        let stored = try await withThrowingTaskGroup(of: StoredEvent.self) { group in
            for index in 0..<500 {
                group.addTask { try await store.append(Self.tap(String(format: "%010X", index), device: "reader-\(index % 4)")) }
            }
            var all: [StoredEvent] = []
            for try await event in group { all.append(event) }
            return all
        }
        #expect(stored.count == 500)
        #expect(Set(stored.map(\.seq)) == Set(1...500))
        #expect(Set(stored.map(\.id)).count == 500)
        // Each caller got back its own event.
        #expect(Set(stored.compactMap(\.event.card?.uid)).count == 500)
        let batch = try await store.nextBatch(lane: .normal, limit: 1000)
        #expect(batch.map(\.seq) == Array(1...500))
    }

    @Test func sequenceSurvivesRestartAndIsNeverReusedAfterPruning() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try EventStore.open(directory: directory)
            let stored = try await store.append(contentsOf: (0..<3).map { Self.tap("00000000\($0)0") })
            try await store.markDelivered(stored.map { DeliveryOutcome(seq: $0.seq, status: .accepted) })
            #expect(try await store.prune(deliveredBefore: Date().addingTimeInterval(60)) == 3)
        }
        let reopened = try EventStore.open(directory: directory)
        let next = try await reopened.append(Self.tap("AAAAAAAAAA"))
        #expect(next.seq == 4)
    }

    @Test func batchesAreSeparatedByLaneAndSkipDeliveredEvents() async throws {
        let store = try EventStore.inMemory()
        let tap1 = try await store.append(Self.tap("1111111111"))
        let alarm = try await store.append(NewEvent(kind: .alarm, device: "button-1"))
        let tap2 = try await store.append(Self.tap("2222222222"))
        #expect(try await store.nextBatch(lane: .alarm, limit: 10).map(\.seq) == [alarm.seq])
        #expect(try await store.nextBatch(lane: .normal, limit: 10).map(\.seq) == [tap1.seq, tap2.seq])
        #expect(try await store.nextBatch(lane: .normal, limit: 1).map(\.seq) == [tap1.seq])
        #expect(try await store.nextBatch(lane: .normal, limit: 10, afterSeq: tap1.seq).map(\.seq) == [tap2.seq])

        try await store.markDelivered([DeliveryOutcome(seq: tap1.seq, status: .duplicate)])
        #expect(try await store.nextBatch(lane: .normal, limit: 10).map(\.seq) == [tap2.seq])
        let records = try await store.events()
        #expect(records.first { $0.event.seq == tap1.seq }?.outcome == .duplicate)
        #expect(records.first { $0.event.seq == tap2.seq }?.deliveredAt == nil)
    }

    @Test func pruneKeepsUndeliveredAndRecentlyDeliveredEvents() async throws {
        let store = try EventStore.inMemory()
        let stored = try await store.append(contentsOf: (0..<10).map { Self.tap(String(format: "%010d", $0)) })
        let old = Date().addingTimeInterval(-3600)
        try await store.markDelivered(stored[0..<4].map { DeliveryOutcome(seq: $0.seq, status: .accepted) }, at: old)
        try await store.markDelivered(stored[4..<6].map { DeliveryOutcome(seq: $0.seq, status: .accepted) })
        let pruned = try await store.prune(deliveredBefore: Date().addingTimeInterval(-60), chunk: 3)
        #expect(pruned == 4)
        let left = try await store.events().map(\.event.seq)
        #expect(left == Array(stored[4...].map(\.seq)))
    }

    @Test func rejectedEventsAreNotRetriedAndKeepTheReason() async throws {
        let store = try EventStore.inMemory()
        let event = try await store.append(Self.tap("BADBADBAD0"))
        try await store.markDelivered([DeliveryOutcome(seq: event.seq, status: .rejected, reason: "unknown purpose")])
        #expect(try await store.nextBatch(lane: .normal, limit: 10).isEmpty)
        #expect(try await store.events().first?.outcome == .rejected)
    }

    @Test func summaryCountsQueuedEventsPerLaneAndDeviceStates() async throws {
        let store = try EventStore.inMemory()
        let taps = try await store.append(contentsOf: [Self.tap("1111111111"), Self.tap("2222222222")])
        _ = try await store.append(NewEvent(kind: .alarm, device: "button-1"))
        try await store.markDelivered([DeliveryOutcome(seq: taps[0].seq, status: .accepted)])
        try await store.deviceStates.set("reader-1", state: .online, detail: "/dev/pts/3")
        try await store.deviceStates.set("reader-2", state: .offline, detail: "hang-up")
        try await store.deviceStates.set("reader-2", state: .online, detail: nil)
        let summary = try await store.summary()
        #expect(summary.lanes[.normal]?.count == 1)
        #expect(summary.lanes[.alarm]?.count == 1)
        #expect(summary.totalQueued == 2)
        #expect(summary.lastSeq == 3)
        #expect(summary.lastDeliveryAt != nil)
        #expect(summary.devices.map(\.name) == ["reader-1", "reader-2"])
        #expect(summary.devices.map(\.state) == [.online, .online])
    }

    @Test func doorbellRingsForTheLaneThatGotAnEvent() async throws {
        let store = try EventStore.inMemory()
        _ = try await store.append(NewEvent(kind: .alarm, device: "button-1"))
        var alarmRings = store.doorbell.rings(of: .alarm).makeAsyncIterator()
        let rang: Void? = await alarmRings.next()
        #expect(rang != nil)
    }

    @Test func openingAMissingStateDirectoryNamesIt() throws {
        let missing = NSTemporaryDirectory() + "no-such-dir-" + UUID().uuidString
        let error = #expect(throws: EventStoreError.self) { try EventStore.open(directory: missing) }
        #expect(error?.code == .stateDirectoryMissing)
        #expect(error?.description.contains(missing) == true)
    }

    @Test func readOnlyOpenSeesWhatTheWriterCommitted() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try EventStore.open(directory: directory)
        _ = try await writer.append(Self.tap("0102030405"))
        let reader = try EventStore.openReadOnly(directory: directory)
        #expect(try await reader.summary().lanes[.normal]?.count == 1)
    }
}
