import EventModel
import EventStore
import Foundation
import Testing

/// The store under storage faults: a size budget, a full disk (simulated with
/// `PRAGMA max_page_count`), a corrupt file at start, an unusable state directory.
@Suite struct StorageFaultTests {
    static func tap(_ index: Int) -> NewEvent {
        NewEvent(
            kind: .cardTap, device: "reader-1", purpose: "check-in",
            card: CardRead(uid: String(format: "%010X", index), format: "em4100"), detail: String(repeating: "x", count: 100))
    }

    static func alarm(_ index: Int) -> NewEvent {
        NewEvent(kind: .alarm, device: "alarm-1", detail: "press \(index)")
    }

    static func allRecords(_ store: EventStore) async throws -> [StoredRecord] {
        var all: [StoredRecord] = []
        var after: Int64 = 0
        while true {
            let page = try await store.events(afterSeq: after, limit: 5000)
            guard let last = page.last else { return all }
            all += page
            after = last.event.seq
        }
    }

    // MARK: Budget

    @Test func budgetEvictsDeliveredFirstThenOldestTapsAndNeverAlarms() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = StoragePolicy(maxBytes: 400 << 10, alarmReserveBytes: 100 << 10)
        let store = try EventStore.open(directory: directory, policy: policy)

        // 300 taps, delivered; then alarms and taps until well past the budget.
        let first = try await store.append(contentsOf: (0..<300).map(Self.tap))
        try await store.markDelivered(first.map { DeliveryOutcome(seq: $0.seq, status: .accepted) })
        var alarms: [StoredEvent] = []
        var tapSeqs: [Int64] = []
        for index in 0..<3000 {
            if index % 100 == 0 { alarms.append(try await store.append(Self.alarm(index))) }
            tapSeqs.append(try await store.append(Self.tap(1000 + index)).seq)
        }

        let used = try await store.usedBytes()
        #expect(used <= policy.maxBytes)
        let counts = try await store.evictionCounts()
        #expect(counts.delivered == 300, "every delivered event goes before any undelivered tap")
        #expect(counts.undeliveredTaps > 0)

        let records = try await Self.allRecords(store)
        let seqs = Set(records.map(\.event.seq))
        // Alarms are all still there.
        #expect(alarms.allSatisfy { seqs.contains($0.seq) })
        // The remaining taps are the newest ones: every evicted tap is older than every kept one.
        let keptTaps = records.filter { $0.event.event.kind == .cardTap }.map(\.event.seq)
        #expect(!keptTaps.isEmpty)
        #expect(keptTaps == Array(tapSeqs.suffix(keptTaps.count)))
        #expect(Int64(3300 - keptTaps.count) == counts.total)
    }

    @Test func alarmsUseTheReserveWhenTapsNoLongerFit() async throws {
        let store = try EventStore.inMemory(policy: StoragePolicy(maxBytes: 300 << 10, alarmReserveBytes: 150 << 10))
        for index in 0..<1500 { _ = try await store.append(Self.tap(index)) }
        let before = try await store.usedBytes()
        #expect(before <= 150 << 10)
        // Alarms go into the reserve without evicting anything.
        let evictedBefore = try await store.evictionCounts().total
        for index in 0..<100 { _ = try await store.append(Self.alarm(index)) }
        #expect(try await store.evictionCounts().total == evictedBefore)
        #expect(try await store.usedBytes() > 150 << 10)
    }

    // MARK: Disk full

    @Test func fullDiskThrowsStorageFullThenAlarmsStillFitAndTapsRecover() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory)
        for index in 0..<1000 { _ = try await store.append(Self.tap(index)) }
        try store.capPageCount(1)  // SQLite keeps the cap at the current page count

        var fullError: EventStoreError?
        for index in 1000..<5000 {
            do {
                _ = try await store.append(Self.tap(index))
            } catch let error as EventStoreError {
                fullError = error
                break
            }
        }
        let error = try #require(fullError, "appends must fail once the file is capped")
        #expect(error.code == .storageFull)
        #expect(error.description.contains(directory))
        #expect(error.description.contains("Free space"))

        // Alarms still go in, again and again: the oldest taps make room.
        var alarms: [StoredEvent] = []
        for index in 0..<100 { alarms.append(try await store.append(Self.alarm(index))) }
        #expect(try await store.evictionCounts().undeliveredTaps > 0)
        #expect(try await store.nextBatch(lane: .alarm, limit: 1000).map(\.seq) == alarms.map(\.seq))
        let alarm = try #require(alarms.last)

        // Space returns: taps are stored again, no restart needed.
        try store.capPageCount(1_000_000)
        let recovered = try await store.append(Self.tap(9999))
        #expect(recovered.seq > alarm.seq)
    }

    // MARK: Corruption at start

    @Test func corruptPagesAreMovedAsideAndReadableRowsSalvagedWithTheirIds() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var original: [StoredEvent] = []
        do {
            let store = try EventStore.open(directory: directory)
            store.clockSynchronized = true
            original = try await store.append(contentsOf: (0..<3000).map(Self.tap))
            try await store.markDelivered(original.prefix(1000).map { DeliveryOutcome(seq: $0.seq, status: .accepted) })
            try store.checkpoint()
        }
        let path = directory + "/" + EventStore.fileName
        // Overwrite two pages in the middle of the file.
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 8192))
        try handle.close()

        let reopened = try EventStore.open(directory: directory)
        let salvage = try #require(reopened.salvage)
        #expect(salvage.movedTo.hasPrefix(path + ".corrupt-"))
        #expect(FileManager.default.fileExists(atPath: salvage.movedTo))
        #expect(salvage.salvagedEvents > 2000)
        #expect(salvage.salvagedEvents < 3000)
        #expect(salvage.highestOldSeq == 3000)
        #expect(salvage.unreadableSeqs == Int64(3000 - salvage.salvagedEvents))

        // Salvaged rows keep id, seq and delivery state.
        let records = try await Self.allRecords(reopened)
        #expect(records.count == salvage.salvagedEvents)
        let byID = Dictionary(uniqueKeysWithValues: original.map { ($0.id, $0) })
        for record in records {
            let before = try #require(byID[record.event.id])
            #expect(before.seq == record.event.seq)
            #expect(before.event.card == record.event.event.card)
            #expect((record.deliveredAt != nil) == (record.event.seq <= 1000))
            #expect(record.event.event.clockSynchronized == true, "the clock stamp survives the salvage")
        }
        // New events continue above the old numbers.
        let next = try await reopened.append(Self.tap(5000))
        #expect(next.seq == 3001)
        #expect(try await reopened.lastSalvage()?.contains("salvaged \(salvage.salvagedEvents) events") == true)
    }

    @Test func aFileThatIsNotADatabaseIsReplacedAndKept() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/" + EventStore.fileName
        let garbage = Data((0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))

        let store = try EventStore.open(directory: directory)
        let salvage = try #require(store.salvage)
        #expect(salvage.salvagedEvents == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: salvage.movedTo)) == garbage, "the bad file is kept byte for byte")
        let first = try await store.append(Self.tap(1))
        #expect(first.seq == 1)
    }

    @Test func aSoundStoreIsNotTouchedByTheCheck() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try EventStore.open(directory: directory)
            _ = try await store.append(contentsOf: (0..<50).map(Self.tap))
        }
        let store = try EventStore.open(directory: directory)
        #expect(store.salvage == nil)
        #expect(try await store.summary().lastSeq == 50)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(!names.contains { $0.contains("corrupt") })
    }

    @Test func aSalvageInterruptedBeforeTheFinalRenameIsFinishedAtTheNextStart() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/" + EventStore.fileName
        do {
            let store = try EventStore.open(directory: directory)
            _ = try await store.append(contentsOf: (0..<20).map(Self.tap))
            try store.checkpoint()
        }
        // The state a crash leaves between "corrupt file moved aside" and "staging renamed".
        try FileManager.default.moveItem(atPath: path, toPath: path + ".salvage")
        let store = try EventStore.open(directory: directory)
        #expect(store.salvage == nil)
        #expect(try await store.summary().lastSeq == 20)
        #expect(!FileManager.default.fileExists(atPath: path + ".salvage"))
    }

    @Test func aStaleStagingFileFromACrashDuringSalvageIsRedone() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/" + EventStore.fileName
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path))
        try Data(repeating: 0x17, count: 3000).write(to: URL(fileURLWithPath: path + ".salvage"))
        let store = try EventStore.open(directory: directory)
        #expect(store.salvage != nil)
        #expect(try await store.append(Self.tap(1)).seq == 1)
    }

    // MARK: Unusable state directory

    @Test func aDatabasePathThatCannotBeOpenedIsReportedAndLeftAlone() throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A directory where the database file should be: not corruption, so nothing is moved.
        let path = directory + "/" + EventStore.fileName
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path + "/inside"))
        #expect {
            _ = try EventStore.open(directory: directory)
        } throws: { error in
            (error as? EventStoreError)?.code == .openFailed && "\(error)".contains(path)
        }
        #expect(try String(contentsOfFile: path + "/inside", encoding: .utf8) == "keep me")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(!names.contains { $0.contains("corrupt") })
    }
}
