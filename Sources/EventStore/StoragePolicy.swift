import EventModel
import Foundation
import GRDB

/// How much space the queue may take, and what makes room when it is full.
///
/// - With a budget (`maxBytes > 0`), a commit of normal-lane events that would take the
///   database's used pages past `maxBytes - alarmReserveBytes` first evicts, oldest first:
///   delivered normal-lane events, then undelivered card taps. Alarm-lane events (alarms, resets,
///   tamper) are never evicted, and a commit that holds one may use the reserve up to `maxBytes`
///   (and past it: an alarm is never refused for the budget's sake).
/// - Without a budget, the disk is the limit: when SQLite reports the disk (or the file) full and
///   the commit holds an alarm, the store evicts as above to free pages inside the file and
///   tries once more, so an alarm finds room as long as there are taps or delivered events to drop.
public struct StoragePolicy: Sendable, Hashable {
    /// The size budget of the database file's used pages, in bytes (0 = no budget).
    public var maxBytes: Int64
    /// Space inside the budget that only alarm-lane events may use, in bytes.
    public var alarmReserveBytes: Int64
    /// Whether ``EventStore/open(directory:policy:logger:)`` runs `PRAGMA quick_check` first.
    public var integrityCheckAtOpen: Bool

    public init(maxBytes: Int64 = 0, alarmReserveBytes: Int64 = 8 << 20, integrityCheckAtOpen: Bool = true) {
        self.maxBytes = max(0, maxBytes)
        self.alarmReserveBytes = max(0, alarmReserveBytes)
        self.integrityCheckAtOpen = integrityCheckAtOpen
    }

    /// No budget; integrity check at open.
    public static let unlimited = StoragePolicy()

    /// The used-bytes ceiling for a commit with or without alarm-lane events (nil = no ceiling).
    func ceiling(includesAlarm: Bool) -> Int64? {
        guard maxBytes > 0 else { return nil }
        return includesAlarm ? maxBytes : max(0, maxBytes - alarmReserveBytes)
    }
}

/// How many events the store dropped to stay within its space, since it was created.
public struct EvictionCounts: Sendable, Hashable {
    /// Delivered (or rejected) normal-lane events dropped before their retention ran out.
    public var delivered: Int64
    /// Card taps dropped before the platform had them: these are lost to the platform.
    public var undeliveredTaps: Int64

    public init(delivered: Int64, undeliveredTaps: Int64) {
        self.delivered = delivered
        self.undeliveredTaps = undeliveredTaps
    }

    public var total: Int64 { delivered + undeliveredTaps }
}

extension EventStore {
    enum MetaKey {
        static let evictedDelivered = "evicted_delivered"
        static let evictedUndeliveredTaps = "evicted_undelivered_taps"
        static let lastSalvage = "last_salvage"
    }

    /// The eviction counters (kept in the `meta` table, surviving restarts).
    public func evictionCounts() async throws -> EvictionCounts {
        try await live.read { db in
            EvictionCounts(
                delivered: try Self.metaInt(MetaKey.evictedDelivered, db), undeliveredTaps: try Self.metaInt(MetaKey.evictedUndeliveredTaps, db))
        }
    }

    /// Bytes in the database file's used pages (pages in the free list do not count).
    public func usedBytes() async throws -> Int64 {
        try await live.read { db in try Self.usedBytes(db) }
    }

    /// Caps the database file at `pages` pages (`PRAGMA max_page_count` on the writer): writes
    /// past it fail as if the disk were full. For fault tests, and for a hard cap on a shared disk.
    /// Returns the cap SQLite applied (it never goes below the current page count).
    @discardableResult
    public func capPageCount(_ pages: Int) throws -> Int {
        try writer.writeWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(max(1, pages))") ?? -1
        }
    }

    /// Copies the WAL into the database file and truncates the WAL (`wal_checkpoint(TRUNCATE)`),
    /// so that the file alone holds every commit. Returns false if readers kept it from finishing.
    @discardableResult
    public func checkpoint() throws -> Bool {
        try writer.writeWithoutTransaction { db in
            guard let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") else { return false }
            return (row[0] as Int?) == 0
        }
    }

    static func usedBytes(_ db: Database) throws -> Int64 {
        let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
        let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        let size = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
        return (pages - free) * size
    }

    static func metaInt(_ key: String, _ db: Database) throws -> Int64 {
        try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]).flatMap(Int64.init) ?? 0
    }

    static func addMeta(_ key: String, _ amount: Int64, _ db: Database) throws {
        guard amount > 0 else { return }
        try db.execute(
            sql: """
                INSERT INTO meta(key, value) VALUES (?, ?)
                ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT)
                """,
            arguments: [key, String(amount), amount])
    }

    /// A rough size of one event row with its index entries, to keep room for the commit itself.
    static func estimatedBytes(_ events: [NewEvent]) -> Int64 {
        Int64(events.count) * 400
    }

    /// Makes room for `events` under the policy's budget, inside the commit's transaction.
    static func makeRoom(for events: [NewEvent], policy: StoragePolicy, db: Database) throws {
        let includesAlarm = events.contains { $0.lane == .alarm }
        guard let ceiling = policy.ceiling(includesAlarm: includesAlarm) else { return }
        let needed = estimatedBytes(events)
        _ = try evict(db: db) { try usedBytes(db) + needed > ceiling }
    }

    /// Evicts oldest first (delivered normal-lane events, then undelivered card taps) while
    /// `overBudget()` holds, in small chunks. Rejected events are never evicted: they wait for
    /// an operator. Returns how many rows went.
    static func evict(db: Database, chunk: Int = 64, while overBudget: () throws -> Bool) throws -> Int64 {
        var total: Int64 = 0
        while try overBudget() {
            try db.execute(
                sql: """
                    DELETE FROM events WHERE seq IN (
                      SELECT seq FROM events
                      WHERE delivered_at_ms IS NOT NULL AND lane = 'normal' AND outcome != 'rejected' ORDER BY seq LIMIT ?)
                    """,
                arguments: [chunk])
            var deleted = Int64(db.changesCount)
            if deleted > 0 {
                try addMeta(MetaKey.evictedDelivered, deleted, db)
            } else {
                let seqs = try Int64.fetchAll(
                    db,
                    sql: """
                        DELETE FROM events WHERE seq IN (
                          SELECT seq FROM events WHERE delivered_at_ms IS NULL AND lane = 'normal' AND kind = ?
                          ORDER BY seq LIMIT ?)
                        RETURNING seq
                        """,
                    arguments: [EventKind.cardTap.rawValue, chunk])
                deleted = Int64(seqs.count)
                try addMeta(MetaKey.evictedUndeliveredTaps, deleted, db)
                try noteUnreportedTapEvictions(seqs, db)
            }
            if deleted == 0 { break }
            total += deleted
        }
        return total
    }

    /// Maps a SQLite failure of a write to an ``EventStoreError`` that says what to do.
    static func writeError(_ error: any Error, path: String?) -> any Error {
        guard let database = error as? DatabaseError else { return error }
        let where_ = path ?? ":memory:"
        switch database.resultCode {
        case .SQLITE_FULL:
            return EventStoreError(
                .storageFull, path: where_,
                "the disk (or the store's page cap) is full; the event was not stored. Free space on the state directory's filesystem or lower [store] max_mb; the agent keeps retrying (\(database.message ?? "SQLITE_FULL"))")
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return EventStoreError(
                .corrupt, path: where_,
                "the event database is corrupt (\(database.message ?? "SQLITE_CORRUPT")); restart the agent: at start it moves the file aside and salvages what it can read")
        case .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
            return EventStoreError(
                .writeFailed, path: where_,
                "the write failed at the storage layer (\(database.resultCode), \(database.message ?? "")); check the disk and the state directory's mount (read-only remount after I/O errors?)")
        default:
            return error
        }
    }
}
