import EventModel
import EventStore
import Foundation
import Testing

/// Corruption found while the store is open: the integrity check after start, and the
/// recovery that moves the file aside and salvages it without a restart.
@Suite struct RunTimeCorruptionTests {
    /// Overwrites `bytes` in the middle of the file behind SQLite's back.
    static func corruptMiddle(of path: String, bytes: Int = 8192) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: bytes))
        try handle.synchronize()
        try handle.close()
    }

    /// The ids an independent reader can still read from the damaged file, row by row.
    static func readableIDs(directory: String, upTo highest: Int64) async throws -> Set<String> {
        let reader = try EventStore.openReadOnly(directory: directory)
        var ids: Set<String> = []
        for seq in 1...highest {
            if let page = try? await reader.events(afterSeq: seq - 1, limit: 1), let first = page.first, first.event.seq == seq {
                ids.insert(first.event.id)
            }
        }
        return ids
    }

    @Test func theCheapCheckAtOpenLetsDamagedPagesThroughAndTheFullCheckFindsThem() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try EventStore.open(directory: directory)
            _ = try await store.append(contentsOf: (0..<3000).map(StorageFaultTests.tap))
            try store.checkpoint()
        }
        try Self.corruptMiddle(of: directory + "/" + EventStore.fileName)
        let store = try EventStore.open(directory: directory, policy: StoragePolicy(integrityCheckAtOpen: false))
        #expect(store.salvage == nil)
        let problem = try #require(try await store.integrityProblem())
        #expect(!problem.isEmpty)
    }

    @Test func corruptionFoundWhileOpenIsMovedAsideSalvagedAndTheStoreGoesOn() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/" + EventStore.fileName
        let store = try EventStore.open(directory: directory, policy: StoragePolicy(integrityCheckAtOpen: false))
        let original = try await store.append(contentsOf: (0..<3000).map(StorageFaultTests.tap))
        try await store.markDelivered(original.prefix(1000).map { DeliveryOutcome(seq: $0.seq, status: .accepted) })
        try store.checkpoint()
        #expect(try await store.integrityProblem() == nil)
        #expect(try await store.checkIntegrityAndRecover() == nil)

        // The file is damaged under the running store.
        try Self.corruptMiddle(of: path)
        let readable = try await Self.readableIDs(directory: directory, upTo: 3000)
        #expect(readable.count > 2000)
        #expect(readable.count < 3000)

        let report = try #require(try await store.checkIntegrityAndRecover())
        #expect(report.movedTo.hasPrefix(path + ".corrupt-"))
        #expect(FileManager.default.fileExists(atPath: report.movedTo))
        #expect(report.highestOldSeq == 3000)
        #expect(store.runTimeSalvages == [report])

        // Nothing readable is lost: every row an independent reader could read is in the fresh
        // store, with its sequence number and delivery state.
        let records = try await StorageFaultTests.allRecords(store)
        let byID = Dictionary(uniqueKeysWithValues: records.map { ($0.event.id, $0) })
        for event in original where readable.contains(event.id) {
            let record = try #require(byID[event.id])
            #expect(record.event.seq == event.seq)
            #expect((record.deliveredAt != nil) == (event.seq <= 1000))
        }
        #expect(report.salvagedEvents >= readable.count)
        // The recovery is reported as an event, and the same store object keeps taking events
        // above the old numbers, durably, in the fresh file.
        let fault = try #require(records.first { $0.event.kind == .deviceFault })
        #expect(fault.event.event.device == "event-store")
        #expect(fault.event.event.detail == report.description)
        #expect(fault.event.seq == 3001)
        let next = try await store.append(StorageFaultTests.tap(9999))
        #expect(next.seq == 3002)
        #expect(try store.synchronousLevel() == 2)
        #expect(try await store.integrityProblem() == nil)
        let pending = try await store.nextBatch(lane: .normal, limit: 5000)
        #expect(pending.first.map { $0.seq > 1000 } == true)
        #expect(pending.last?.seq == 3002)

        // A second check finds the fresh file sound and leaves it alone.
        #expect(try await store.checkIntegrityAndRecover() == nil)
        let reopened = try EventStore.open(directory: directory)
        #expect(reopened.salvage == nil)
        #expect(try await reopened.summary().lastSeq == 3002)
    }

    @Test func aReadThatMeetsCorruptionRecoversAndIsAnsweredFromTheFreshStore() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/" + EventStore.fileName
        var original: [StoredEvent] = []
        do {
            let writer = try EventStore.open(directory: directory, policy: StoragePolicy(integrityCheckAtOpen: false))
            original = try await writer.append(contentsOf: (0..<3000).map(StorageFaultTests.tap))
            try writer.checkpoint()
        }
        // A store whose connections have cached none of the pages about to be damaged (a cached
        // page is served from memory and would hide the damage from this read).
        let store = try EventStore.open(directory: directory, policy: StoragePolicy(integrityCheckAtOpen: false))
        try Self.corruptMiddle(of: path)
        let readable = try await Self.readableIDs(directory: directory, upTo: 3000)

        // The forwarder's read meets the damaged pages: the store recovers under it and answers
        // from the fresh file instead of failing (no crash, no restart).
        let pending = try await store.nextBatch(lane: .normal, limit: 5000)
        let report = try #require(store.runTimeSalvages.first)
        #expect(store.runTimeSalvages.count == 1)
        #expect(report.movedTo.hasPrefix(path + ".corrupt-"))
        let pendingIDs = Set(pending.map(\.id))
        #expect(original.filter { readable.contains($0.id) }.allSatisfy { pendingIDs.contains($0.id) })
        #expect(pending.contains { $0.kind == .deviceFault && $0.event.detail == report.description })
        #expect(try await store.append(StorageFaultTests.tap(1)).seq == 3002)
    }

    @Test func evictedUndeliveredTapsAreReportedOnceWithTheirRange() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory, policy: StoragePolicy(maxBytes: 400 << 10, alarmReserveBytes: 100 << 10))
        #expect(try await store.reportEvictedTaps() == nil)
        var seqs: [Int64] = []
        for batch in 0..<50 {
            seqs += try await store.append(contentsOf: (0..<50).map { StorageFaultTests.tap(batch * 50 + $0) }).map(\.seq)
        }
        let present = Set(try await StorageFaultTests.allRecords(store).map(\.event.seq))
        let evicted = seqs.filter { !present.contains($0) }
        #expect(!evicted.isEmpty)
        let counts = try await store.evictionCounts()
        #expect(counts.undeliveredTaps == Int64(evicted.count))

        let report = try #require(try await store.reportEvictedTaps(occurredAt: Date(timeIntervalSince1970: 1_800_000_000)))
        #expect(report.kind == .eventsEvicted)
        #expect(report.lane == .normal)
        #expect(report.event.device == "event-store")
        #expect(
            report.event.detail
                == "count=\(evicted.count) first_seq=\(evicted.min()!) last_seq=\(evicted.max()!) total=\(evicted.count)")
        // Reported once.
        #expect(try await store.reportEvictedTaps() == nil)
    }
}
