import EventModel
import Foundation
import GRDB
import PlatformAPI

// The alarm loop: alarm records opened by ingest, operator actions on them, and the commands
// they queue for the station, fetched by long-poll.

extension EmulatorStore {
    /// Default page size of ``alarms(station:state:limit:)``.
    public static let defaultAlarmLimit = 1000
    /// Most commands one long-poll answer carries; the station asks again for the rest.
    public static let maxCommandsPerPage = 1000

    // MARK: Ingest side effects

    /// Opens an alarm record for an accepted `alarm`; resets the alarm an accepted
    /// `alarm_reset` names in `related` (same station only). Runs inside the ingest transaction.
    static func recordAlarmEffects(
        of event: WireEvent, eventID: String, receipt: Int64, stationID: String, receivedAt: String, in db: Database
    ) throws {
        switch EventKind(rawValue: event.kind) {
        case .alarm:
            // The kiosk's reset may have arrived first (it was retried less, say): honour it.
            let earlierReset = try String.fetchOne(
                db,
                sql: """
                    SELECT received_at FROM received_event
                    WHERE related = ? AND station_id = ? AND kind = 'alarm_reset' ORDER BY receipt LIMIT 1
                    """,
                arguments: [eventID, stationID]
            )
            try db.execute(
                sql: """
                    INSERT INTO alarm (event_id, receipt, station_id, device, occurred_at, received_at, state, reset_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    eventID, receipt, stationID, event.device, event.occurredAt, receivedAt,
                    earlierReset == nil ? AlarmView.State.received.rawValue : AlarmView.State.reset.rawValue,
                    earlierReset,
                ]
            )
        case .alarmReset:
            guard let related = event.related?.lowercased() else { return }
            try db.execute(
                sql: "UPDATE alarm SET state = 'reset', reset_at = ? WHERE event_id = ? AND station_id = ? AND state <> 'reset'",
                arguments: [receivedAt, related, stationID]
            )
        default:
            break
        }
    }

    // MARK: Operator actions

    /// Applies an operator's action to the alarm `eventID` and queues the matching command for
    /// the alarm's station, in one transaction; then wakes the station's long-polls.
    /// - Returns: the alarm as it is now, and the command queued.
    /// - Throws: ``EmulatorRequestError`` 400 when `eventID` is not a UUID, 404 when no alarm has
    ///   that id, 409 when the action makes no sense in the alarm's state (see ``AlarmAction``).
    @discardableResult
    public func apply(
        _ action: AlarmAction, toAlarm eventID: String, by operatorAction: OperatorAction = OperatorAction()
    ) async throws -> (alarm: AlarmView, command: StationCommand) {
        let id = try Self.checkedAlarmID(eventID)
        let at = Timestamp.format(now())
        let outcome = try await writer.write { db in
            try Self.apply(action, to: id, by: operatorAction, at: at, in: db)
        }
        commandSignal.advance(outcome.alarm.stationID)
        return outcome
    }

    /// The blocking form of ``apply(_:toAlarm:by:)``.
    @discardableResult
    public func apply(
        _ action: AlarmAction, toAlarm eventID: String, by operatorAction: OperatorAction = OperatorAction()
    ) throws -> (alarm: AlarmView, command: StationCommand) {
        let id = try Self.checkedAlarmID(eventID)
        let at = Timestamp.format(now())
        let outcome = try writer.write { db in
            try Self.apply(action, to: id, by: operatorAction, at: at, in: db)
        }
        commandSignal.advance(outcome.alarm.stationID)
        return outcome
    }

    private static func checkedAlarmID(_ eventID: String) throws(EmulatorRequestError) -> String {
        guard UUID(uuidString: eventID) != nil else {
            throw .badRequest(
                "eventId: \(RequestValidation.quoted(eventID)) is not a UUID; use the `eventId` of an alarm from "
                    + "GET /v1/operator/alarms"
            )
        }
        return eventID.lowercased()
    }

    private static func apply(
        _ action: AlarmAction, to eventID: String, by operatorAction: OperatorAction, at: String, in db: Database
    ) throws -> (alarm: AlarmView, command: StationCommand) {
        guard let alarm = try fetchAlarm(eventID, in: db) else {
            throw EmulatorRequestError.notFound(
                "alarm \(eventID): no alarm event with this id was received; list alarms with GET /v1/operator/alarms"
            )
        }
        guard let next = action.nextState(from: alarm.state) else {
            throw EmulatorRequestError.conflict(action.refusal(eventID: eventID, state: alarm.state))
        }
        let column: String
        switch action {
        case .acknowledge: column = "acknowledged_at"
        case .dispatch: column = "dispatched_at"
        case .reset: column = "reset_at"
        }
        try db.execute(
            sql: "UPDATE alarm SET state = ?, \(column) = ? WHERE event_id = ?",
            arguments: [next.rawValue, at, eventID]
        )
        let commandID =
            try Int64.fetchOne(
                db, sql: "SELECT COALESCE(MAX(id), 0) + 1 FROM station_command WHERE station_id = ?",
                arguments: [alarm.stationID]
            ) ?? 1
        let command = StationCommand(
            id: commandID, type: action.commandType, eventId: eventID, operatorName: operatorAction.operatorName,
            note: operatorAction.note, issuedAt: at
        )
        try db.execute(
            sql: """
                INSERT INTO station_command (station_id, id, type, event_id, operator_name, note, issued_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                alarm.stationID, command.id, command.type.rawValue, command.eventId, command.operatorName, command.note,
                command.issuedAt,
            ]
        )
        guard let updated = try fetchAlarm(eventID, in: db) else {
            throw EmulatorStoreError("alarm \(eventID) vanished inside its own transaction; the database is inconsistent")
        }
        return (updated, command)
    }

    // MARK: Reading alarms

    /// Alarms newest first (by order of receipt), optionally of one station and in one state.
    /// - Throws: ``EmulatorRequestError`` when `limit` is outside 1...``maxPageLimit``.
    public func alarms(station: String?, state: AlarmView.State?, limit: Int = defaultAlarmLimit) async throws -> [AlarmView] {
        try Self.checkAlarmLimit(limit)
        return try await writer.read { db in try Self.alarms(station: station, state: state, limit: limit, in: db) }
    }

    /// The blocking form of ``alarms(station:state:limit:)``.
    public func alarms(station: String?, state: AlarmView.State?, limit: Int = defaultAlarmLimit) throws -> [AlarmView] {
        try Self.checkAlarmLimit(limit)
        return try writer.read { db in try Self.alarms(station: station, state: state, limit: limit, in: db) }
    }

    /// One alarm, or `nil` when no alarm has that id.
    public func alarm(_ eventID: String) throws -> AlarmView? {
        try writer.read { db in try Self.fetchAlarm(eventID.lowercased(), in: db) }
    }

    private static func checkAlarmLimit(_ limit: Int) throws(EmulatorRequestError) {
        if !(1...maxPageLimit).contains(limit) {
            throw .badRequest("limit: \(limit) is outside 1...\(maxPageLimit)")
        }
    }

    private static let alarmColumns = """
        event_id, station_id, device, occurred_at, received_at, state, acknowledged_at, dispatched_at, reset_at
        """

    private static func alarms(station: String?, state: AlarmView.State?, limit: Int, in db: Database) throws -> [AlarmView] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let station {
            conditions.append("station_id = ?")
            arguments += [station]
        }
        if let state {
            conditions.append("state = ?")
            arguments += [state.rawValue]
        }
        arguments += [limit]
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try Row.fetchAll(
            db, sql: "SELECT \(alarmColumns) FROM alarm \(filter) ORDER BY receipt DESC LIMIT ?", arguments: arguments
        ).map(alarmView(from:))
    }

    private static func fetchAlarm(_ eventID: String, in db: Database) throws -> AlarmView? {
        try Row.fetchOne(db, sql: "SELECT \(alarmColumns) FROM alarm WHERE event_id = ?", arguments: [eventID])
            .map(alarmView(from:))
    }

    private static func alarmView(from row: Row) -> AlarmView {
        let stateText: String = row["state"]
        return AlarmView(
            eventId: row["event_id"], stationID: row["station_id"], device: row["device"], occurredAt: row["occurred_at"],
            receivedAt: row["received_at"],
            // The schema's CHECK admits only the four states.
            state: AlarmView.State(rawValue: stateText) ?? .received,
            acknowledgedAt: row["acknowledged_at"], dispatchedAt: row["dispatched_at"], resetAt: row["reset_at"]
        )
    }

    // MARK: Commands

    /// The station's commands with an id above `after`, oldest first (at most
    /// ``maxCommandsPerPage``), without waiting.
    ///
    /// When `after` is above the newest id the platform has for the station (the emulator
    /// restarted in memory while the station kept its cursor), it is taken as 0, so that the
    /// station does not miss the commands that follow.
    public func commands(station: String, after: Int64) throws -> CommandPage {
        try Self.checkCursor(after)
        return try writer.read { db in try Self.commandPage(station: station, after: after, in: db) }
    }

    /// The long-poll: answers at once when the station has commands above `after`, otherwise
    /// waits (without holding a thread) until one is queued or `wait` passes, and answers with
    /// what there is then, possibly nothing.
    public func commands(station: String, after: Int64, wait: Duration) async throws -> CommandPage {
        try Self.checkCursor(after)
        let version = commandSignal.version(of: station)
        let page = try await writer.read { db in try Self.commandPage(station: station, after: after, in: db) }
        guard page.commands.isEmpty else { return page }
        await commandSignal.wait(for: station, past: version, timeout: wait)
        return try await writer.read { db in try Self.commandPage(station: station, after: after, in: db) }
    }

    private static func checkCursor(_ after: Int64) throws(EmulatorRequestError) {
        if after < 0 {
            throw .badRequest("after: \(after) is negative; pass 0 or the `next` of the previous answer")
        }
    }

    private static func commandPage(station: String, after: Int64, in db: Database) throws -> CommandPage {
        let newest = try Int64.fetchOne(
            db, sql: "SELECT COALESCE(MAX(id), 0) FROM station_command WHERE station_id = ?", arguments: [station]
        ) ?? 0
        let cursor = after > newest ? 0 : after
        let commands = try Row.fetchAll(
            db,
            sql: """
                SELECT id, type, event_id, operator_name, note, issued_at FROM station_command
                WHERE station_id = ? AND id > ? ORDER BY id LIMIT ?
                """,
            arguments: [station, cursor, maxCommandsPerPage]
        ).map { row in
            let typeText: String = row["type"]
            return StationCommand(
                id: row["id"],
                // The schema's CHECK admits only the known types.
                type: StationCommandType(rawValue: typeText) ?? .alarmAcknowledged,
                eventId: row["event_id"], operatorName: row["operator_name"], note: row["note"], issuedAt: row["issued_at"]
            )
        }
        return CommandPage(commands: commands, next: commands.last?.id ?? after)
    }

    // MARK: Schema

    /// `v2-alarm-loop`: relaxes `received_event`'s CHECK on `kind` (the v1 table admitted only
    /// the first five kinds) by rebuilding the table with every row and receipt kept, adds
    /// `related`, and creates the alarm, command and heartbeat tables. Alarms received before
    /// the migration get an alarm record in state `received`.
    ///
    /// The rebuilt table checks only what does not change with the protocol (a non-empty kind,
    /// a known lane); which kinds exist and which lane each takes is checked by
    /// ``RequestValidation`` against `EventKind`, so a new kind needs no table rebuild again.
    static func migrateToAlarmLoop(_ db: Database) throws {
        let lastReceipt = try Int64.fetchOne(
            db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'received_event'"
        )
        try db.execute(
            sql: """
                CREATE TABLE received_event_v2 (
                    receipt INTEGER PRIMARY KEY AUTOINCREMENT,
                    station_id TEXT NOT NULL CHECK (station_id <> ''),
                    event_id TEXT NOT NULL UNIQUE,
                    seq INTEGER NOT NULL CHECK (seq >= 1),
                    kind TEXT NOT NULL CHECK (kind <> ''),
                    lane TEXT NOT NULL CHECK (lane IN ('alarm', 'normal')),
                    occurred_at TEXT NOT NULL,
                    device TEXT NOT NULL,
                    purpose TEXT,
                    card_uid TEXT,
                    card_format TEXT,
                    detail TEXT,
                    related TEXT,
                    monotonic_nanos INTEGER,
                    received_at TEXT NOT NULL,
                    deliveries INTEGER NOT NULL DEFAULT 1 CHECK (deliveries >= 1)
                );
                INSERT INTO received_event_v2
                    (receipt, station_id, event_id, seq, kind, lane, occurred_at, device, purpose, card_uid, card_format,
                     detail, monotonic_nanos, received_at, deliveries)
                SELECT receipt, station_id, event_id, seq, kind, lane, occurred_at, device, purpose, card_uid, card_format,
                     detail, monotonic_nanos, received_at, deliveries
                FROM received_event;
                DROP TABLE received_event;
                ALTER TABLE received_event_v2 RENAME TO received_event;
                CREATE INDEX received_event_by_station ON received_event (station_id, receipt);
                CREATE INDEX received_event_by_related ON received_event (related) WHERE related IS NOT NULL;

                CREATE TABLE alarm (
                    event_id TEXT PRIMARY KEY REFERENCES received_event (event_id),
                    receipt INTEGER NOT NULL UNIQUE,
                    station_id TEXT NOT NULL CHECK (station_id <> ''),
                    device TEXT NOT NULL,
                    occurred_at TEXT NOT NULL,
                    received_at TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('received', 'acknowledged', 'dispatched', 'reset')),
                    acknowledged_at TEXT,
                    dispatched_at TEXT,
                    reset_at TEXT,
                    CHECK (state <> 'acknowledged' OR acknowledged_at IS NOT NULL),
                    CHECK (state <> 'dispatched' OR dispatched_at IS NOT NULL),
                    CHECK ((state = 'reset') = (reset_at IS NOT NULL))
                ) WITHOUT ROWID;
                CREATE INDEX alarm_by_station ON alarm (station_id, receipt);
                -- Alarms received before this migration had nobody to take them: open them now.
                INSERT INTO alarm (event_id, receipt, station_id, device, occurred_at, received_at, state)
                SELECT event_id, receipt, station_id, device, occurred_at, received_at, 'received'
                FROM received_event WHERE kind = 'alarm';

                CREATE TABLE station_command (
                    station_id TEXT NOT NULL CHECK (station_id <> ''),
                    id INTEGER NOT NULL CHECK (id >= 1),
                    type TEXT NOT NULL CHECK (type IN ('alarm_acknowledged', 'alarm_dispatched', 'alarm_reset')),
                    event_id TEXT NOT NULL REFERENCES alarm (event_id),
                    operator_name TEXT,
                    note TEXT,
                    issued_at TEXT NOT NULL,
                    PRIMARY KEY (station_id, id)
                ) WITHOUT ROWID;

                CREATE TABLE station_heartbeat (
                    station_id TEXT PRIMARY KEY CHECK (station_id <> ''),
                    received_at TEXT NOT NULL,
                    heartbeat TEXT NOT NULL
                ) WITHOUT ROWID;
                """
        )
        // Receipts are never reused, even of rows that might have gone: carry the counter over.
        if let lastReceipt {
            try db.execute(
                sql: "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'received_event'", arguments: [lastReceipt]
            )
            if db.changesCount == 0 {
                try db.execute(
                    sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('received_event', ?)", arguments: [lastReceipt]
                )
            }
        }
    }
}
