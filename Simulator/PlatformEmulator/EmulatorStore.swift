import EventModel
import Foundation
import GRDB
import PlatformAPI

/// What the platform emulator received, in SQLite: events, the alarms among them and what
/// operators did to them, the commands queued for each station, and each station's last heartbeat.
///
/// A file path opens a `DatabasePool` in WAL mode with `synchronous=FULL`, so a 200 answer means
/// the batch is on disk; `nil` keeps everything in memory (tests, demos). Every ingest request is
/// stored in one transaction: all of its events or none.
///
/// The methods have blocking and `async` forms; from async code the `async` ones run on GRDB's
/// own queue and keep the cooperative thread pool free.
///
/// ```swift
/// let store = try EmulatorStore(path: nil)
/// let results = try store.ingest(stationID: "station-7", request: request)
/// let page = try store.received(station: "station-7", after: 0, limit: 100)
/// ```
public final class EmulatorStore: Sendable {
    let writer: any DatabaseWriter
    let now: @Sendable () -> Date
    /// Wakes a station's long-polls after a command for it was committed.
    let commandSignal = CommandSignal()

    /// Default page size of ``received(station:after:limit:)``.
    public static let defaultPageLimit = 1000
    /// Largest page size of ``received(station:after:limit:)``.
    public static let maxPageLimit = 10_000

    /// Opens (creating and migrating as needed) the database at `path`, or an in-memory one for `nil`.
    /// - Parameter now: the clock for `receivedAt`, operator actions, heartbeats and the silence
    ///   of stations; tests may pin it.
    public init(path: String?, now: @escaping @Sendable () -> Date = { Date() }) throws {
        self.now = now
        do {
            if let path {
                let pool = try DatabasePool(path: path)
                // DatabasePool resets the writer to NORMAL after `prepareDatabase`; set FULL afterwards.
                try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
                writer = pool
            } else {
                writer = try DatabaseQueue()
            }
            try Self.migrator.migrate(writer)
        } catch {
            throw EmulatorStoreError(
                "cannot open the emulator database at \(path ?? "(memory)"): \(error); "
                    + "check that the directory exists and is writable, or pass no path to keep it in memory"
            )
        }
    }

    // MARK: Ingest

    /// Stores a validated batch in one transaction and returns one result per event, in order
    /// (only the first `acknowledgeOnly` events when given: the rest are neither stored nor answered).
    ///
    /// An id seen before is a `duplicate` (its `deliveries` grows); an id seen before with a
    /// different station, sequence number or kind is `rejected`. An accepted `alarm` opens an
    /// alarm record (state `received`); an accepted `alarm_reset` whose `related` names an alarm
    /// of the same station resets it.
    /// - Throws: ``EmulatorRequestError`` when the request does not match the API document.
    public func ingest(stationID: String, request: IngestRequest, acknowledgeOnly: Int? = nil) throws -> [IngestResult] {
        try RequestValidation.validate(request, pathStationID: stationID)
        let receivedAt = Timestamp.format(now())
        return try writer.write { db in
            try Self.store(prefix(request.events, acknowledgeOnly), stationID: stationID, receivedAt: receivedAt, in: db)
        }
    }

    /// The `async` form of ``ingest(stationID:request:acknowledgeOnly:)``.
    public func ingest(stationID: String, request: IngestRequest, acknowledgeOnly: Int? = nil) async throws -> [IngestResult] {
        try RequestValidation.validate(request, pathStationID: stationID)
        return try await ingest(stationID: stationID, validated: request, acknowledgeOnly: acknowledgeOnly)
    }

    /// Stores a request that ``RequestValidation/ingestRequest(from:pathStationID:)`` has already
    /// decoded and validated for `stationID` (the HTTP route), without validating it again.
    func ingest(stationID: String, validated request: IngestRequest, acknowledgeOnly: Int? = nil) async throws -> [IngestResult] {
        let receivedAt = Timestamp.format(now())
        let events = prefix(request.events, acknowledgeOnly)
        return try await writer.write { db in
            try Self.store(events, stationID: stationID, receivedAt: receivedAt, in: db)
        }
    }

    /// Stores events without validating them, in one transaction (so a constraint failure on any
    /// event leaves nothing stored). Internal: the public entry points validate first.
    func storeUnvalidated(_ events: [WireEvent], stationID: String) throws -> [IngestResult] {
        let receivedAt = Timestamp.format(now())
        return try writer.write { db in
            try Self.store(events, stationID: stationID, receivedAt: receivedAt, in: db)
        }
    }

    private func prefix(_ events: [WireEvent], _ acknowledgeOnly: Int?) -> [WireEvent] {
        guard let acknowledgeOnly else { return events }
        return Array(events.prefix(max(0, acknowledgeOnly)))
    }

    private static func store(
        _ events: [WireEvent], stationID: String, receivedAt: String, in db: Database
    ) throws -> [IngestResult] {
        var results: [IngestResult] = []
        results.reserveCapacity(events.count)
        var accepted: Int64 = 0
        var duplicates: Int64 = 0
        var rejected: Int64 = 0
        // Prepared once per connection (a 1,000-event batch used to compile both per event). The
        // lookup comes first: an `INSERT ... ON CONFLICT DO NOTHING` would use up a receipt
        // number on every duplicate, and receipts count first receipts without gaps.
        let lookup = try db.cachedStatement(sql: "SELECT station_id, seq, kind FROM received_event WHERE event_id = ?")
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO received_event
                    (station_id, event_id, seq, kind, lane, occurred_at, device, purpose, card_uid, card_format,
                     detail, related, monotonic_nanos, received_at, deliveries,
                     boot_id, clock_synchronized, clock_corrected, original_occurred_at, card_uid_kind)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)
                """
        )
        for event in events {
            let eventID = event.id.lowercased()
            if let existing = try Row.fetchOne(lookup, arguments: [eventID]) {
                let storedStation: String = existing["station_id"]
                let storedSeq: Int64 = existing["seq"]
                let storedKind: String = existing["kind"]
                if storedStation == stationID && storedSeq == event.seq && storedKind == event.kind {
                    try db.execute(
                        sql: "UPDATE received_event SET deliveries = deliveries + 1 WHERE event_id = ?", arguments: [eventID]
                    )
                    results.append(IngestResult(id: event.id, status: .duplicate))
                    duplicates += 1
                } else {
                    results.append(
                        IngestResult(
                            id: event.id, status: .rejected,
                            reason: "id \(eventID) was already received as station \(storedStation) seq \(storedSeq) "
                                + "kind \(storedKind); give this event a new id"
                        )
                    )
                    rejected += 1
                }
            } else {
                try insert.execute(arguments: [
                    stationID, eventID, event.seq, event.kind, event.lane, event.occurredAt, event.device,
                    event.purpose, event.card?.uid, event.card?.format, event.detail, event.related?.lowercased(),
                    // Stored as the same 64 bits in SQLite's signed INTEGER; read back the same way.
                    event.monotonicNanos.map { Int64(bitPattern: $0) }, receivedAt,
                    event.bootId, event.clockSynchronized, event.clockCorrected, event.originalOccurredAt,
                    event.card.map { $0.uidKind ?? CardUIDKind.raw.rawValue },
                ])
                try recordAlarmEffects(
                    of: event, eventID: eventID, receipt: db.lastInsertedRowID, stationID: stationID,
                    receivedAt: receivedAt, in: db
                )
                results.append(IngestResult(id: event.id, status: .accepted))
                accepted += 1
            }
        }
        try bump(Counter.accepted, by: accepted, in: db)
        try bump(Counter.duplicates, by: duplicates, in: db)
        try bump(Counter.rejected, by: rejected, in: db)
        try bump(Counter.batches, by: 1, in: db)
        return results
    }

    // MARK: Counters

    /// Counts one request answered 4xx.
    public func recordBadRequest() throws {
        try writer.write { db in try Self.bump(Counter.badRequests, by: 1, in: db) }
    }

    /// The `async` form of ``recordBadRequest()``.
    public func recordBadRequest() async throws {
        try await writer.write { db in try Self.bump(Counter.badRequests, by: 1, in: db) }
    }

    /// Totals since the database was created.
    public func stats() throws -> EmulatorStats {
        try writer.read { db in try Self.stats(in: db) }
    }

    /// The `async` form of ``stats()``.
    public func stats() async throws -> EmulatorStats {
        try await writer.read { db in try Self.stats(in: db) }
    }

    private enum Counter {
        static let accepted = "accepted"
        static let duplicates = "duplicates"
        static let rejected = "rejected"
        static let batches = "batches"
        static let badRequests = "bad_requests"
        static let all = [accepted, duplicates, rejected, batches, badRequests]
    }

    private static func bump(_ name: String, by amount: Int64, in db: Database) throws {
        guard amount != 0 else { return }
        try db.execute(sql: "UPDATE counter SET value = value + ? WHERE name = ?", arguments: [amount, name])
    }

    private static func stats(in db: Database) throws -> EmulatorStats {
        var values: [String: Int64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT name, value FROM counter") {
            values[row["name"]] = row["value"]
        }
        return EmulatorStats(
            accepted: values[Counter.accepted] ?? 0, duplicates: values[Counter.duplicates] ?? 0,
            rejected: values[Counter.rejected] ?? 0, batches: values[Counter.batches] ?? 0,
            badRequests: values[Counter.badRequests] ?? 0
        )
    }

    // MARK: Read API

    /// Events in order of first receipt with `receipt > after`, optionally of one station.
    /// - Throws: ``EmulatorRequestError`` when `after` is negative or `limit` is outside
    ///   1...``maxPageLimit``.
    public func received(station: String?, after: Int64, limit: Int) throws -> ReceivedPage {
        try Self.checkPage(after: after, limit: limit)
        return try writer.read { db in try Self.page(station: station, after: after, limit: limit, in: db) }
    }

    /// The `async` form of ``received(station:after:limit:)``.
    public func received(station: String?, after: Int64, limit: Int) async throws -> ReceivedPage {
        try Self.checkPage(after: after, limit: limit)
        return try await writer.read { db in try Self.page(station: station, after: after, limit: limit, in: db) }
    }

    private static func checkPage(after: Int64, limit: Int) throws(EmulatorRequestError) {
        if after < 0 {
            throw .badRequest("after: \(after) is negative; pass 0 or the `next` of the previous page")
        }
        if !(1...maxPageLimit).contains(limit) {
            throw .badRequest("limit: \(limit) is outside 1...\(maxPageLimit)")
        }
    }

    private static func page(station: String?, after: Int64, limit: Int, in db: Database) throws -> ReceivedPage {
        let columns = """
            receipt, station_id, event_id, seq, kind, lane, occurred_at, device, purpose, card_uid, card_format,
            detail, related, monotonic_nanos, received_at, deliveries, boot_id, clock_synchronized, clock_corrected,
            original_occurred_at, card_uid_kind
            """
        let rows: [Row]
        if let station {
            rows = try Row.fetchAll(
                db,
                sql: "SELECT \(columns) FROM received_event WHERE station_id = ? AND receipt > ? ORDER BY receipt LIMIT ?",
                arguments: [station, after, limit]
            )
        } else {
            rows = try Row.fetchAll(
                db, sql: "SELECT \(columns) FROM received_event WHERE receipt > ? ORDER BY receipt LIMIT ?",
                arguments: [after, limit]
            )
        }
        let events = rows.map(receivedEvent(from:))
        return ReceivedPage(events: events, next: events.last?.receipt ?? after)
    }

    private static func receivedEvent(from row: Row) -> ReceivedEvent {
        let cardUID: String? = row["card_uid"]
        let cardFormat: String? = row["card_format"]
        let monotonic: Int64? = row["monotonic_nanos"]
        let event = WireEvent(
            id: row["event_id"], seq: row["seq"], kind: row["kind"], lane: row["lane"], occurredAt: row["occurred_at"],
            monotonicNanos: monotonic.map { UInt64(bitPattern: $0) }, device: row["device"], purpose: row["purpose"],
            card: cardUID.map { WireCard(uid: $0, format: cardFormat ?? "", uidKind: row["card_uid_kind"] ?? CardUIDKind.raw.rawValue) }, detail: row["detail"],
            related: row["related"], bootId: row["boot_id"], clockSynchronized: row["clock_synchronized"],
            clockCorrected: row["clock_corrected"], originalOccurredAt: row["original_occurred_at"]
        )
        return ReceivedEvent(
            receipt: row["receipt"], stationID: row["station_id"], receivedAt: row["received_at"],
            deliveries: row["deliveries"], event: event
        )
    }

    // MARK: Schema

    /// The `synchronous` pragma of the writer connection (2 = FULL for a file database).
    func writerSynchronousPragma() throws -> Int {
        try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// The journal mode (`wal` for a file database).
    func journalMode() throws -> String {
        try writer.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    /// The names of the migrations applied, in order.
    func appliedMigrations() throws -> [String] {
        try writer.read { db in try Self.migrator.appliedMigrations(db) }
    }

    /// Every migration, in order. The names are part of the database's history: never rename
    /// or change a registered migration, add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-received-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE received_event (
                        receipt INTEGER PRIMARY KEY AUTOINCREMENT,
                        station_id TEXT NOT NULL CHECK (station_id <> ''),
                        event_id TEXT NOT NULL UNIQUE,
                        seq INTEGER NOT NULL CHECK (seq >= 1),
                        kind TEXT NOT NULL
                            CHECK (kind IN ('card_tap', 'alarm', 'device_online', 'device_offline', 'agent_started')),
                        lane TEXT NOT NULL CHECK (lane = CASE kind WHEN 'alarm' THEN 'alarm' ELSE 'normal' END),
                        occurred_at TEXT NOT NULL,
                        device TEXT NOT NULL,
                        purpose TEXT,
                        card_uid TEXT,
                        card_format TEXT,
                        detail TEXT,
                        monotonic_nanos INTEGER,
                        received_at TEXT NOT NULL,
                        deliveries INTEGER NOT NULL DEFAULT 1 CHECK (deliveries >= 1)
                    );
                    CREATE INDEX received_event_by_station ON received_event (station_id, receipt);
                    """
            )
        }
        migrator.registerMigration("v1-counters") { db in
            try db.execute(sql: "CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL DEFAULT 0)")
            for name in Counter.all {
                try db.execute(sql: "INSERT INTO counter (name, value) VALUES (?, 0)", arguments: [name])
            }
        }
        migrator.registerMigration("v2-alarm-loop", migrate: migrateToAlarmLoop)
        migrator.registerMigration("v3-clock-fields") { db in
            // Boot id and clock status of each event, as the kiosk sent them (issue 5).
            try db.execute(sql: "ALTER TABLE received_event ADD COLUMN boot_id TEXT")
            try db.execute(sql: "ALTER TABLE received_event ADD COLUMN clock_synchronized INTEGER")
            try db.execute(sql: "ALTER TABLE received_event ADD COLUMN clock_corrected INTEGER")
            try db.execute(sql: "ALTER TABLE received_event ADD COLUMN original_occurred_at TEXT")
        }
        migrator.registerMigration("v4-card-uid-kind") { db in
            // `raw` or `pseudonym-hmac-sha256`; NULL for cards received before (raw numbers).
            try db.execute(sql: "ALTER TABLE received_event ADD COLUMN card_uid_kind TEXT")
        }
        return migrator
    }
}

/// The emulator's database could not be opened or used.
public struct EmulatorStoreError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
