import Foundation
import GRDB
import Logging

/// What the store did with a corrupt database it found at start.
public struct SalvageReport: Sendable, Hashable, CustomStringConvertible {
    /// Why the file was judged corrupt (the integrity check's first finding or SQLite's error).
    public var reason: String
    /// Where the corrupt file now lives (its `-wal`/`-shm`, if any, next to it).
    public var movedTo: String
    /// Events copied into the fresh store, with their ids, sequence numbers and delivery state.
    public var salvagedEvents: Int
    /// The highest sequence number the old file showed (new events continue above it).
    public var highestOldSeq: Int64
    /// Sequence numbers up to `highestOldSeq` that could not be read (some may have been pruned
    /// before the corruption, so this is an upper bound on what was lost).
    public var unreadableSeqs: Int64
    public var at: Date

    public var description: String {
        "moved the corrupt event database to \(movedTo) (\(reason)); salvaged \(salvagedEvents) events up to seq \(highestOldSeq), \(unreadableSeqs) sequence numbers unreadable"
    }
}

extension EventStore {
    /// Moves the corrupt file (and its `-wal`/`-shm`) aside, creates a fresh store at `path`,
    /// and copies in every event row that can still be read, plus the readable meta values and
    /// latches.
    static func recover(path: String, problem: String, logger: Logger) throws -> SalvageReport {
        let now = Date()
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let aside = path + ".corrupt-" + formatter.string(from: now)
        logger.error(
            "event database corrupt: salvaging into a fresh store",
            metadata: ["store.path": "\(path)", "store.problem": "\(problem)"])
        var configuration = Configuration()
        configuration.readonly = true
        // The fresh store is built under a staging name and renamed into place only when it is
        // complete: a crash half-way leaves the corrupt file in place and the work is redone.
        let staging = stagingPath(path)
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(staging + suffix) }
        var old = try? DatabaseQueue(path: path, configuration: configuration)
        var fresh: DatabaseQueue? = try DatabaseQueue(path: staging)
        defer {
            try? old?.close()
            try? fresh?.close()
        }
        let report = try salvage(from: old, into: fresh!, problem: problem, movedTo: aside, at: now)
        try old?.close()
        old = nil
        try fresh?.close()
        fresh = nil
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            guard rename(path + suffix, aside + suffix) == 0 else {
                throw EventStoreError(
                    .openFailed, path: path + suffix,
                    "the event database is corrupt (\(problem)) and cannot be moved aside: \(String(cString: strerror(errno))); move it away by hand")
            }
        }
        guard rename(staging, path) == 0 else {
            throw EventStoreError(
                .openFailed, path: staging,
                "cannot put the salvaged store in place: \(String(cString: strerror(errno))); rename it to \(fileName) by hand")
        }
        logger.error(
            "event database salvaged",
            metadata: [
                "store.moved_to": "\(aside)", "store.salvaged": "\(report.salvagedEvents)", "store.highest_seq": "\(report.highestOldSeq)",
                "store.unreadable": "\(report.unreadableSeqs)",
            ])
        return report
    }

    /// Where a salvage builds the fresh store before renaming it into place.
    static func stagingPath(_ path: String) -> String { path + ".salvage" }

    /// Finishes a salvage that was interrupted after the corrupt file was moved aside and before
    /// the fresh store was renamed into place (the staging file is complete at that point).
    static func finishInterruptedSalvage(path: String) {
        let staging = stagingPath(path)
        if !FileManager.default.fileExists(atPath: path) && FileManager.default.fileExists(atPath: staging) {
            _ = rename(staging, path)
        }
    }

    private static func salvage(from old: DatabaseQueue?, into fresh: DatabaseQueue, problem: String, movedTo aside: String, at now: Date) throws -> SalvageReport {
        try migrator.migrate(fresh)

        var highest: Int64 = 0
        if let old {
            let fromSequence = (try? old.read { try Int64.fetchOne($0, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'events'") }) ?? nil
            let fromMax = (try? old.read { try Int64.fetchOne($0, sql: "SELECT MAX(seq) FROM events") }) ?? nil
            highest = max(fromSequence ?? 0, fromMax ?? 0)
        }
        var salvaged = 0
        var highestSalvaged: Int64 = 0
        if let old {
            let salvageColumns = readableColumns(of: old)
            var after: Int64 = 0
            let chunk: Int64 = 1000
            while true {
                let rows: [Row]
                do {
                    rows = try old.read { db in
                        try Row.fetchAll(db, sql: "SELECT \(salvageColumns) FROM events WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [after, chunk])
                    }
                } catch {
                    // A damaged page in this range: read it row by row, keeping what can be read.
                    var single: [Row] = []
                    for seq in (after + 1)...(after + chunk) {
                        if let row = try? old.read({ db in
                            try Row.fetchOne(db, sql: "SELECT \(salvageColumns) FROM events WHERE seq = ?", arguments: [seq])
                        }) {
                            single.append(row)
                        }
                    }
                    try copy(single, into: fresh, salvaged: &salvaged, highest: &highestSalvaged)
                    after += chunk
                    if after >= highest { break }
                    continue
                }
                guard let last = rows.last else { break }
                try copy(rows, into: fresh, salvaged: &salvaged, highest: &highestSalvaged)
                after = last["seq"]
            }
            // Small tables, best effort.
            if let meta = try? old.read({ try Row.fetchAll($0, sql: "SELECT key, value FROM meta") }) {
                try fresh.write { db in
                    for row in meta {
                        try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", arguments: [row["key"], row["value"]])
                    }
                }
            }
            if let latches = try? old.read({ try Row.fetchAll($0, sql: "SELECT * FROM alarm_latches") }) {
                try fresh.write { db in
                    for row in latches {
                        try db.execute(
                            sql: """
                                INSERT OR IGNORE INTO alarm_latches(event_id, seq, device, stage, latched_at_ms, updated_at_ms)
                                VALUES (?, ?, ?, ?, ?, ?)
                                """,
                            arguments: [row["event_id"], row["seq"], row["device"], row["stage"], row["latched_at_ms"], row["updated_at_ms"]])
                    }
                }
            }
        }
        highest = max(highest, highestSalvaged)
        let report = SalvageReport(
            reason: problem, movedTo: aside, salvagedEvents: salvaged, highestOldSeq: highest,
            unreadableSeqs: max(0, highest - Int64(salvaged)), at: now)
        try fresh.write { db in
            // New sequence numbers continue above every number the old file handed out.
            try db.execute(sql: "DELETE FROM sqlite_sequence WHERE name = 'events'")
            try db.execute(sql: "INSERT INTO sqlite_sequence(name, seq) VALUES ('events', ?)", arguments: [highest])
            try db.execute(
                sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                arguments: [MetaKey.lastSalvage, report.description])
        }
        return report
    }

    /// The columns a salvage copies, in the order of `copy`'s INSERT.
    private static let salvagedColumnNames = [
        "seq", "id", "kind", "lane", "device", "purpose", "card_uid", "card_format", "detail", "related", "occurred_at_ms",
        "monotonic_ns", "boot_id", "stored_at_ms", "delivered_at_ms", "outcome", "outcome_reason",
        // v5-clock-status and v7-station-id: absent from a file older than those migrations,
        // read as NULL then.
        "clock_synchronized", "original_occurred_at_ms", "station_id",
    ]
    private static let salvageColumns = salvagedColumnNames.joined(separator: ", ")

    /// The SELECT list for the old file: every salvaged column, with `NULL` for the ones its
    /// schema does not have (a file from before a migration), or every column as is when the
    /// schema cannot be read.
    private static func readableColumns(of old: DatabaseQueue) -> String {
        guard let present = try? old.read({ db in Set(try db.columns(in: "events").map(\.name)) }), !present.isEmpty else {
            return salvageColumns
        }
        return salvagedColumnNames.map { present.contains($0) ? $0 : "NULL AS \($0)" }.joined(separator: ", ")
    }

    private static func copy(_ rows: [Row], into fresh: DatabaseQueue, salvaged: inout Int, highest: inout Int64) throws {
        guard !rows.isEmpty else { return }
        let inserted = try fresh.write { db -> (Int, Int64) in
            let statement = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO events (\(salvageColumns)) VALUES (\(Array(repeating: "?", count: salvagedColumnNames.count).joined(separator: ", ")))")
            var count = 0
            var top: Int64 = 0
            for row in rows {
                let values: [(any DatabaseValueConvertible)?] = (0..<salvagedColumnNames.count).map { row[$0] as DatabaseValue }
                try statement.execute(arguments: StatementArguments(values))
                if db.changesCount > 0 {
                    count += 1
                    top = max(top, row["seq"])
                }
            }
            return (count, top)
        }
        salvaged += inserted.0
        highest = max(highest, inserted.1)
    }

    /// The last salvage's summary, if the store was ever salvaged (kept in `meta`).
    public func lastSalvage() async throws -> String? {
        try await meta.value(MetaKey.lastSalvage)
    }
}
