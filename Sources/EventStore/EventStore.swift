import EventModel
import Foundation
import GRDB
import Logging
import Synchronization

/// The kiosk's durable queue: every event the agent accepts lives here until the platform
/// acknowledges it, and for `retention` after that.
///
/// - Durability: the writer runs with `synchronous=FULL` in WAL mode, so a commit returns only
///   after the WAL is synced. ``append(_:)`` returns only after that commit: a caller that got a
///   ``StoredEvent`` back may tell the device, the person or a counter "accepted".
/// - Group commit: appends that arrive while a commit is in flight share the next one (see
///   ``GroupCommitter``), so durability does not cap throughput at one sync per event.
/// - One writer: all writes go through GRDB's single writer connection; reads (``nextBatch``,
///   ``summary()``) use the pool's reader connections and never block it.
/// - Ids: each event gets a UUID and a sequence number (`INTEGER PRIMARY KEY AUTOINCREMENT`, so a
///   number is never reused, even after pruning) in the same commit.
public final class EventStore: Sendable {
    /// The file inside the state directory.
    public static let fileName = "events.sqlite"

    /// The database in use: swapped for a fresh one when run-time corruption is recovered
    /// (see EventStore+RunTimeRecovery.swift), so every access goes through ``writer``.
    let live: LiveDatabase
    var writer: any DatabaseWriter { live.writer }
    private let committer: GroupCommitter
    let logger: Logger
    /// Rings when an event is committed in a lane; the forwarder waits on it when idle.
    public let doorbell: LaneDoorbell
    /// The id of the boot the agent runs in (Linux `boot_id`), stored with every event.
    public let bootID: String?
    /// Where the database lives (`nil` for an in-memory store).
    public let path: String?

    /// The state directory the database lives in (`nil` for an in-memory store).
    public var directory: String? { path.map { ($0 as NSString).deletingLastPathComponent } }

    /// The space policy the store enforces on every commit.
    public let policy: StoragePolicy
    /// What `open` did if it found the database corrupt (moved aside, salvaged), else nil.
    public let salvage: SalvageReport?

    init(
        writer: any DatabaseWriter, path: String?, logger: Logger, policy: StoragePolicy = .unlimited, salvage: SalvageReport? = nil,
        recovers: Bool = true
    ) {
        let bootID = EventStore.readBootID()
        let doorbell = LaneDoorbell()
        let live = LiveDatabase(
            writer,
            recovery: recovers ? path.map { LiveDatabase.RecoveryContext(path: $0, bootID: bootID, logger: logger, doorbell: doorbell) } : nil)
        self.live = live
        self.path = path
        self.logger = logger
        self.policy = policy
        self.salvage = salvage
        self.bootID = bootID
        self.doorbell = doorbell
        self.committer = EventStore.makeCommitter(
            live: live, policy: policy, bootID: bootID, path: path, logger: logger, doorbell: doorbell)
    }

    // MARK: Writing

    /// Stores one event durably and returns it with its id and sequence number.
    ///
    /// Returns only after the commit is synced to disk.
    public func append(_ event: NewEvent) async throws -> StoredEvent {
        let stored = try await committer.submit([event])
        return stored[0]
    }

    /// Stores several events durably, in one commit (shared with concurrent appends).
    public func append(contentsOf events: [NewEvent]) async throws -> [StoredEvent] {
        guard !events.isEmpty else { return [] }
        return try await committer.submit(events)
    }

    /// Records the platform's verdict: acknowledged events are marked delivered, rejected ones
    /// are marked rejected with the platform's reason (they are not sent again until an operator
    /// requeues them, and never pruned or evicted: `EventStore+Rejected.swift`). Unknown sequence
    /// numbers are ignored.
    public func markDelivered(_ outcomes: [DeliveryOutcome], at date: Date = Date()) async throws {
        guard !outcomes.isEmpty else { return }
        let ms = Self.milliseconds(date)
        try await live.write { db in
            let update = try db.cachedStatement(
                sql: "UPDATE events SET delivered_at_ms = ?, outcome = ?, outcome_reason = ? WHERE seq = ? AND delivered_at_ms IS NULL")
            for outcome in outcomes {
                try update.execute(arguments: [ms, outcome.status.rawValue, outcome.reason, outcome.seq])
            }
            // A refusal is not a delivery: `status` must not say "last delivery: 6 s ago" while
            // the platform refuses everything.
            guard outcomes.contains(where: { $0.status != .rejected }) else { return }
            try db.execute(
                sql: "INSERT INTO meta(key, value) VALUES ('last_delivery_ms', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [String(ms)])
        }
    }

    /// Deletes delivered events of the normal lane whose verdict is older than `date`, in chunks
    /// so the writer is never held for long. Undelivered events, rejected events (kept for an
    /// operator) and the alarm lane (alarms, resets, tamper) are never pruned. Returns how many
    /// went.
    @discardableResult
    public func prune(deliveredBefore date: Date, chunk: Int = 5000) async throws -> Int {
        let ms = Self.milliseconds(date)
        var total = 0
        while true {
            let deleted = try await live.write { db -> Int in
                try db.execute(
                    sql: """
                        DELETE FROM events WHERE seq IN (
                          SELECT seq FROM events
                          WHERE delivered_at_ms IS NOT NULL AND delivered_at_ms < ? AND lane = 'normal'
                            AND outcome != 'rejected' LIMIT ?)
                        """,
                    arguments: [ms, chunk])
                return db.changesCount
            }
            total += deleted
            if deleted < chunk { break }
            await Task.yield()
        }
        if total > 0 {
            logger.info("pruned delivered events", metadata: ["store.pruned": "\(total)"])
        }
        return total
    }

    // MARK: Reading

    /// The oldest undelivered events of `lane`, in sequence order, at most `limit`, with a sequence
    /// number greater than `afterSeq`, all recorded under one station (a batch goes to one
    /// station's route: it ends before the first event of another).
    public func nextBatch(lane: Lane, limit: Int, afterSeq: Int64 = 0) async throws -> [StoredEvent] {
        let events = try await live.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(EventStore.columns) FROM events
                    WHERE lane = ? AND delivered_at_ms IS NULL AND seq > ?
                    ORDER BY seq LIMIT ?
                    """,
                arguments: [lane.rawValue, afterSeq, limit]
            ).map(EventStore.decode)
        }
        guard let first = events.first, let other = events.firstIndex(where: { $0.stationID != first.stationID }) else { return events }
        return Array(events[..<other])
    }

    /// Every event in sequence order after `afterSeq` (delivered or not), at most `limit`.
    public func events(afterSeq: Int64 = 0, limit: Int = 1000) async throws -> [StoredRecord] {
        try await live.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(EventStore.columns), delivered_at_ms, outcome FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [afterSeq, limit]
            ).map { row in
                StoredRecord(
                    event: try EventStore.decode(row),
                    deliveredAt: (row["delivered_at_ms"] as Int64?).map(EventStore.date),
                    outcome: (row["outcome"] as String?).flatMap(DeliveryStatus.init(rawValue:)))
            }
        }
    }

    /// What is queued, what was last delivered, and each device's state.
    public func summary(now: Date = Date()) async throws -> QueueSummary {
        try await live.read { db in
            var lanes: [Lane: LaneSummary] = [:]
            for lane in Lane.allCases {
                lanes[lane] = LaneSummary(count: 0, oldestStoredAt: nil)
            }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT lane, COUNT(*) AS n, MIN(stored_at_ms) AS oldest FROM events
                    WHERE delivered_at_ms IS NULL GROUP BY lane
                    """)
            for row in rows {
                guard let lane = Lane(rawValue: row["lane"]) else { continue }
                lanes[lane] = LaneSummary(count: row["n"], oldestStoredAt: (row["oldest"] as Int64?).map(EventStore.date))
            }
            let lastDelivery = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'last_delivery_ms'")
                .flatMap(Int64.init).map(EventStore.date)
            let lastSeq = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM events") ?? 0
            let devices = try Row.fetchAll(db, sql: "SELECT name, state, detail, changed_at_ms FROM devices ORDER BY name").map {
                DeviceStatus(
                    name: $0["name"], state: DeviceState(rawValue: $0["state"]) ?? .unknown, detail: $0["detail"],
                    changedAt: EventStore.date($0["changed_at_ms"]))
            }
            return QueueSummary(lanes: lanes, lastDeliveryAt: lastDelivery, lastSeq: lastSeq, devices: devices)
        }
    }

    // MARK: Schema

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE events (
                      seq INTEGER PRIMARY KEY AUTOINCREMENT,
                      id TEXT NOT NULL UNIQUE CHECK (length(id) = 36),
                      kind TEXT NOT NULL,
                      lane TEXT NOT NULL CHECK (lane IN ('alarm', 'normal')),
                      device TEXT NOT NULL,
                      purpose TEXT,
                      card_uid TEXT,
                      card_format TEXT,
                      detail TEXT,
                      occurred_at_ms INTEGER NOT NULL,
                      monotonic_ns INTEGER NOT NULL,
                      boot_id TEXT,
                      stored_at_ms INTEGER NOT NULL,
                      delivered_at_ms INTEGER,
                      outcome TEXT CHECK (outcome IN ('accepted', 'duplicate', 'rejected')),
                      outcome_reason TEXT,
                      CHECK ((delivered_at_ms IS NULL) = (outcome IS NULL))
                    );
                    CREATE INDEX events_pending ON events(lane, seq) WHERE delivered_at_ms IS NULL;
                    CREATE INDEX events_delivered ON events(delivered_at_ms) WHERE delivered_at_ms IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v1-devices-and-meta") { db in
            try db.execute(
                sql: """
                    CREATE TABLE devices (
                      name TEXT PRIMARY KEY,
                      state TEXT NOT NULL,
                      detail TEXT,
                      changed_at_ms INTEGER NOT NULL
                    );
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    """)
        }
        migrator.registerMigration("v2-related-event") { db in
            try db.execute(sql: "ALTER TABLE events ADD COLUMN related TEXT")
        }
        migrator.registerMigration("v2-alarm-latches") { db in
            try db.execute(
                sql: """
                    CREATE TABLE alarm_latches (
                      event_id TEXT PRIMARY KEY,
                      seq INTEGER NOT NULL,
                      device TEXT NOT NULL,
                      stage TEXT NOT NULL,
                      latched_at_ms INTEGER NOT NULL,
                      updated_at_ms INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v3-lane-seq-index") { db in
            // Lets a second destination (SIA DC-09) walk the alarm lane by sequence number,
            // delivered or not, without scanning the taps.
            try db.execute(sql: "CREATE INDEX events_lane_seq ON events(lane, seq)")
        }
        migrator.registerMigration("v4-related-index") { db in
            // Finding an alarm's reset (latch rebuild at start) without scanning every event.
            try db.execute(sql: "CREATE INDEX events_related ON events(related) WHERE related IS NOT NULL")
        }
        migrator.registerMigration("v5-clock-status") { db in
            // Whether the wall clock was synchronised when the event was stored (NULL: unknown),
            // and the time first recorded when a clock jump corrected occurred_at_ms.
            try db.execute(sql: "ALTER TABLE events ADD COLUMN clock_synchronized INTEGER")
            try db.execute(sql: "ALTER TABLE events ADD COLUMN original_occurred_at_ms INTEGER")
        }
        migrator.registerMigration("v6-rejected-index") { db in
            // Rejected events are kept for an operator (`station-agent rejected`, `requeue`):
            // find them without scanning the delivered ones.
            try db.execute(sql: "CREATE INDEX events_rejected ON events(lane, seq) WHERE outcome = 'rejected'")
        }
        migrator.registerMigration("v7-station-id") { db in
            // The station an event was recorded under: it is sent as that station after an id
            // change (NULL for events stored before: sent as the current station).
            try db.execute(sql: "ALTER TABLE events ADD COLUMN station_id TEXT")
        }
        return migrator
    }

    static let columns =
        "seq, id, kind, device, purpose, card_uid, card_format, detail, related, occurred_at_ms, monotonic_ns, stored_at_ms, boot_id, clock_synchronized, original_occurred_at_ms, station_id"

    static func insert(
        _ events: [NewEvent], bootID: String?, clockSynchronized: Bool? = nil, stationID: String? = nil, db: Database
    ) throws -> [StoredEvent] {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO events (id, kind, lane, device, purpose, card_uid, card_format, detail, related,
                  occurred_at_ms, monotonic_ns, boot_id, stored_at_ms, clock_synchronized, station_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let now = Date()
        let nowMs = milliseconds(now)
        var stored: [StoredEvent] = []
        stored.reserveCapacity(events.count)
        for var event in events {
            let id = UUID().uuidString.lowercased()
            if event.clockSynchronized == nil { event.clockSynchronized = clockSynchronized }
            try statement.execute(arguments: [
                id, event.kind.rawValue, event.lane.rawValue, event.device, event.purpose, event.card?.uid,
                event.card.map(storedCardFormat), event.detail, event.related, milliseconds(event.occurredAt), Int64(bitPattern: event.monotonicNanos),
                bootID, nowMs, event.clockSynchronized, stationID,
            ])
            let seq = db.lastInsertedRowID
            if event.kind == .alarm {
                // An alarm is latched in the commit that stores it: no reader of the store sees
                // one without the other.
                try db.execute(
                    sql: """
                        INSERT INTO alarm_latches(event_id, seq, device, stage, latched_at_ms, updated_at_ms)
                        VALUES (?, ?, ?, 'stored', ?, ?) ON CONFLICT(event_id) DO NOTHING
                        """,
                    arguments: [id, seq, event.device, nowMs, nowMs])
            }
            stored.append(StoredEvent(seq: seq, id: id, event: event, storedAt: date(nowMs), bootID: bootID, stationID: stationID))
        }
        return stored
    }

    static func decode(_ row: Row) throws -> StoredEvent {
        let kindText: String = row["kind"]
        guard let kind = EventKind(rawValue: kindText) else {
            throw EventStoreError(
                .unknownEventKind, path: nil,
                "event seq \(row["seq"] as Int64) has kind '\(kindText)', which this agent version does not know; upgrade the agent")
        }
        let uid: String? = row["card_uid"]
        let card = uid.map { cardRead(uid: $0, storedFormat: row["card_format"] ?? "") }
        let event = NewEvent(
            kind: kind, device: row["device"], purpose: row["purpose"], card: card, detail: row["detail"],
            related: row["related"], occurredAt: date(row["occurred_at_ms"]), monotonicNanos: UInt64(bitPattern: row["monotonic_ns"]),
            clockSynchronized: row["clock_synchronized"], originalOccurredAt: (row["original_occurred_at_ms"] as Int64?).map(date))
        return StoredEvent(
            seq: row["seq"], id: row["id"], event: event, storedAt: date(row["stored_at_ms"]), bootID: row["boot_id"],
            stationID: row["station_id"])
    }

    /// The `card_format` column holds the reader's format, followed by `;` and the uid's kind
    /// when the uid is not the raw number (`em4100;pseudonym-hmac-sha256`). Kept in one column
    /// so that salvage and older rows (raw numbers, no suffix) need nothing else.
    static func storedCardFormat(_ card: CardRead) -> String {
        card.uidKind == .raw ? card.format : card.format + ";" + card.uidKind.rawValue
    }

    static func cardRead(uid: String, storedFormat: String) -> CardRead {
        guard let separator = storedFormat.lastIndex(of: ";"),
            let kind = CardUIDKind(rawValue: String(storedFormat[storedFormat.index(after: separator)...]))
        else { return CardRead(uid: uid, format: storedFormat) }
        return CardRead(uid: uid, format: String(storedFormat[..<separator]), uidKind: kind)
    }

    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func date(_ ms: Int64) -> Date {
        Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    private static func readBootID() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else {
            return nil
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}
