import Foundation
import GRDB
import PlatformAPI
import Testing

@testable import PlatformEmulator

@Suite("Schema migration from v1")
struct MigrationTests {
    @Test("a database made by the v1 schema keeps its events, receipts and counters, and takes the new kinds")
    func upgradeKeepsEvents() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("emulator-migration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("received.sqlite").path

        // The previous release: only the v1 migrations, rows written as its code wrote them.
        do {
            let pool = try DatabasePool(path: path)
            try EmulatorStore.migrator.migrate(pool, upTo: "v1-counters")
            try pool.write { db in
                #expect(try db.columns(in: "received_event").map(\.name).contains("related") == false)
                for (number, kind) in [(1, "card_tap"), (2, "alarm"), (3, "device_offline")] {
                    try db.execute(
                        sql: """
                            INSERT INTO received_event
                                (station_id, event_id, seq, kind, lane, occurred_at, device, purpose, card_uid, card_format,
                                 detail, monotonic_nanos, received_at, deliveries)
                            VALUES ('station-1', ?, ?, ?, ?, '2026-11-24T10:15:30.123Z', 'reader-1', 'check-in', ?, ?, NULL, ?,
                                    '2026-11-24T10:15:31.000Z', ?)
                            """,
                        arguments: [
                            uuid(number), number, kind, kind == "alarm" ? "alarm" : "normal",
                            kind == "card_tap" ? "04A1B2C3" : nil, kind == "card_tap" ? "hex" : nil, number * 1_000_000,
                            number == 1 ? 2 : 1,
                        ]
                    )
                }
                // The v1 schema refused the kinds that came later: the reason for the migration.
                #expect(throws: DatabaseError.self) {
                    try db.execute(
                        sql: """
                            INSERT INTO received_event (station_id, event_id, seq, kind, lane, occurred_at, device, received_at)
                            VALUES ('station-1', ?, 4, 'tamper', 'alarm', '2026-11-24T10:15:30.123Z', 'box', '2026-11-24T10:15:31.000Z')
                            """,
                        arguments: [uuid(4)]
                    )
                }
                try db.execute(sql: "UPDATE counter SET value = 3 WHERE name = 'accepted'")
                try db.execute(sql: "UPDATE counter SET value = 1 WHERE name = 'duplicates'")
                try db.execute(sql: "UPDATE counter SET value = 2 WHERE name = 'batches'")
            }
            try pool.close()
        }

        let store = try EmulatorStore(path: path, now: { Date(timeIntervalSince1970: 1_800_000_000) })
        #expect(try store.appliedMigrations() == ["v1-received-events", "v1-counters", "v2-alarm-loop", "v3-clock-fields", "v4-card-uid-kind"])
        let before = try store.received(station: nil, after: 0, limit: 10)
        #expect(before.events.map(\.receipt) == [1, 2, 3])
        #expect(before.events.map(\.event.id) == [uuid(1), uuid(2), uuid(3)])
        #expect(before.events.map(\.event.kind) == ["card_tap", "alarm", "device_offline"])
        #expect(before.events.map(\.deliveries) == [2, 1, 1])
        // Cards received before `card_uid_kind` existed were raw numbers, and read back so.
        #expect(before.events.first?.event.card == WireCard(uid: "04A1B2C3", format: "hex", uidKind: "raw"))
        #expect(before.events.allSatisfy { $0.event.related == nil && $0.receivedAt == "2026-11-24T10:15:31.000Z" })
        #expect(try store.stats() == EmulatorStats(accepted: 3, duplicates: 1, rejected: 0, batches: 2, badRequests: 0))
        #expect(try store.writerSynchronousPragma() == 2)

        // The alarm received under v1 was backfilled so an operator can still take it.
        #expect(try store.alarms(station: nil, state: nil).map(\.eventId) == [uuid(2)])
        #expect(try store.alarm(uuid(2))?.state == .received)

        // New kinds are stored, receipts continue, duplicates are still recognised.
        let results = try store.ingest(
            stationID: "station-1",
            request: ingestRequest([wireEvent(1), wireEvent(4, kind: "tamper"), wireEvent(5, kind: "alarm_reset", related: uuid(2))])
        )
        #expect(results.map(\.status) == [.duplicate, .accepted, .accepted])
        let after = try store.received(station: nil, after: 3, limit: 10)
        #expect(after.events.map(\.receipt) == [4, 5])
        #expect(try store.alarm(uuid(2))?.state == .reset)
    }
}
