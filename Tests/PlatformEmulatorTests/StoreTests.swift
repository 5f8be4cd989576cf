import Foundation
import PlatformAPI
import Testing

@testable import PlatformEmulator

@Suite("EmulatorStore on disk")
struct StoreTests {
    func temporaryPath() throws -> (directory: URL, file: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("emulator-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (directory, directory.appendingPathComponent("received.sqlite").path)
    }

    @Test("a file store uses WAL with synchronous=FULL on the writer, and keeps events across reopening")
    func fileStore() throws {
        let (directory, path) = try temporaryPath()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fixed = Date(timeIntervalSince1970: 1_800_000_000)
        do {
            let store = try EmulatorStore(path: path, now: { fixed })
            #expect(try store.writerSynchronousPragma() == 2)
            #expect(try store.journalMode() == "wal")
            #expect(try store.appliedMigrations() == ["v1-received-events", "v1-counters", "v2-alarm-loop", "v3-clock-fields", "v4-card-uid-kind"])
            let results = try store.ingest(stationID: "station-1", request: ingestRequest([wireEvent(1), wireEvent(2)]))
            #expect(results.map(\.status) == [.accepted, .accepted])
        }
        let reopened = try EmulatorStore(path: path)
        let page = try reopened.received(station: "station-1", after: 0, limit: 10)
        #expect(page.events.map(\.event) == [wireEvent(1), wireEvent(2)])
        #expect(page.events.first?.receivedAt == "2027-01-15T08:00:00.000Z")
        #expect(try reopened.ingest(stationID: "station-1", request: ingestRequest([wireEvent(1)])).map(\.status) == [.duplicate])
        #expect(try reopened.stats() == EmulatorStats(accepted: 2, duplicates: 1, rejected: 0, batches: 2, badRequests: 0))
    }

    @Test("an in-memory store has the same schema and answers the same way")
    func memoryStore() throws {
        let store = try EmulatorStore(path: nil)
        #expect(try store.appliedMigrations() == ["v1-received-events", "v1-counters", "v2-alarm-loop", "v3-clock-fields", "v4-card-uid-kind"])
        #expect(try store.ingest(stationID: "s", request: ingestRequest(station: "s", [wireEvent(1)])).map(\.status) == [.accepted])
        #expect(try store.received(station: "s", after: 0, limit: 1).next == 1)
    }

    @Test("a path in a missing directory fails with a message naming the path")
    func unopenable() {
        let path = "/nonexistent-\(UUID().uuidString)/received.sqlite"
        #expect {
            try EmulatorStore(path: path)
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("writable")
        }
    }

    @Test("the store validates what it is given directly")
    func storeValidates() throws {
        let store = try EmulatorStore(path: nil)
        #expect(throws: EmulatorRequestError.badRequest("events[0].seq: 0 is below 1; sequence numbers start at 1")) {
            try store.ingest(stationID: "station-1", request: ingestRequest([wireEvent(1, seq: 0)]))
        }
        #expect(throws: EmulatorRequestError.self) {
            try store.received(station: nil, after: 0, limit: 0)
        }
    }
}
