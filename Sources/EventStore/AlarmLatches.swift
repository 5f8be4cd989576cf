import EventModel
import Foundation
import GRDB

/// How far an alarm has come, as the kiosk knows it. Stored with the latch so that a restarted
/// agent shows the same thing at the button.
public enum AlarmStage: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Committed on the kiosk.
    case stored
    /// A request carrying it is on its way to the platform.
    case sent
    /// The platform acknowledged receipt (its ingest answered `accepted`/`duplicate`).
    case received
    /// An operator took it.
    case acknowledged
    /// Help was dispatched.
    case dispatched

    private var order: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: AlarmStage, rhs: AlarmStage) -> Bool { lhs.order < rhs.order }
}

/// An alarm latched at the kiosk: it stays until reset by hand (a key switch on the device or a
/// platform command).
public struct LatchedAlarm: Sendable, Hashable {
    public var eventID: String
    public var seq: Int64
    public var device: String
    public var stage: AlarmStage
    public var latchedAt: Date

    public init(eventID: String, seq: Int64, device: String, stage: AlarmStage, latchedAt: Date) {
        self.eventID = eventID
        self.seq = seq
        self.device = device
        self.stage = stage
        self.latchedAt = latchedAt
    }
}

extension EventStore {
    /// The alarms latched at the kiosk: a façade over the store's `alarm_latches` table.
    public var alarmLatches: AlarmLatches { AlarmLatches(store: self) }
}

/// The alarms latched at the kiosk (`alarm_latches`), over the event store's database: an alarm
/// is stored and latched together, moves forward through its stages, and is reset by an
/// `alarm_reset` event.
public struct AlarmLatches: Sendable {
    let store: EventStore

    /// Stores an alarm event; its commit latches it (``EventStore/insert``), so whoever sees the
    /// alarm in the store (the forwarder, at once) finds its latch too.
    public func raise(_ event: NewEvent) async throws -> StoredEvent {
        precondition(event.kind == .alarm, "AlarmLatches.raise takes alarm events")
        return try await store.append(event)
    }

    /// Moves a latched alarm forward to `stage` (never backwards). Returns the updated latch, or
    /// nil if no such alarm is latched (already reset, or unknown).
    @discardableResult
    public func advance(_ eventID: String, to stage: AlarmStage) async throws -> LatchedAlarm? {
        let now = EventStore.milliseconds(Date())
        return try await store.live.write { db -> LatchedAlarm? in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM alarm_latches WHERE event_id = ?", arguments: [eventID]) else {
                return nil
            }
            var latch = Self.latch(row)
            if stage > latch.stage {
                try db.execute(
                    sql: "UPDATE alarm_latches SET stage = ?, updated_at_ms = ? WHERE event_id = ?",
                    arguments: [stage.rawValue, now, eventID])
                latch.stage = stage
            }
            return latch
        }
    }

    /// Resets a latched alarm: stores an `alarm_reset` event that refers to it and removes the
    /// latch. Returns the reset event, or nil if it was not latched.
    public func reset(_ eventID: String, device: String, detail: String) async throws -> StoredEvent? {
        guard try await latch(eventID) != nil else { return nil }
        let reset = try await store.append(NewEvent(kind: .alarmReset, device: device, detail: detail, related: eventID))
        try await store.live.write { db in
            try db.execute(sql: "DELETE FROM alarm_latches WHERE event_id = ?", arguments: [eventID])
        }
        return reset
    }

    /// The alarms latched now, oldest first. Rebuilds missing latches from alarm events that have
    /// no `alarm_reset` (a store written by a version that latched in a second commit, and died
    /// between the two).
    public func all() async throws -> [LatchedAlarm] {
        try await store.live.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO alarm_latches(event_id, seq, device, stage, latched_at_ms, updated_at_ms)
                    SELECT e.id, e.seq, e.device,
                           CASE WHEN e.delivered_at_ms IS NULL THEN 'stored' ELSE 'received' END,
                           e.stored_at_ms, e.stored_at_ms
                    FROM events e
                    WHERE e.lane = 'alarm' AND e.kind = 'alarm'
                      AND NOT EXISTS (SELECT 1 FROM events r WHERE r.related = e.id AND r.kind = 'alarm_reset')
                    """)
            return try Row.fetchAll(db, sql: "SELECT * FROM alarm_latches ORDER BY seq").map(Self.latch)
        }
    }

    /// A latch by alarm event id, if it is latched (for `station-agent test-alarm`).
    public func latch(_ eventID: String) async throws -> LatchedAlarm? {
        try await store.live.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM alarm_latches WHERE event_id = ?", arguments: [eventID]).map(Self.latch)
        }
    }

    private static func latch(_ row: Row) -> LatchedAlarm {
        LatchedAlarm(
            eventID: row["event_id"], seq: row["seq"], device: row["device"],
            stage: AlarmStage(rawValue: row["stage"]) ?? .stored, latchedAt: EventStore.date(row["latched_at_ms"]))
    }
}
