import EventModel
import Foundation
import GRDB

/// What `station-agent status` needs to show a draining backlog: how much of it has gone, and
/// how fast events go now. Counts the normal lane only (taps and device events): alarms never
/// queue behind anything.
public struct DrainCounts: Sendable, Hashable {
    /// Normal-lane events delivered since the queue was last empty (see ``EventStore/drainCounts(now:)``).
    public var drained: Int
    /// Normal-lane events delivered in the last minute.
    public var deliveredLastMinute: Int
    /// Normal-lane events delivered in the last ten minutes.
    public var deliveredLastTenMinutes: Int

    public init(drained: Int, deliveredLastMinute: Int, deliveredLastTenMinutes: Int) {
        self.drained = drained
        self.deliveredLastMinute = deliveredLastMinute
        self.deliveredLastTenMinutes = deliveredLastTenMinutes
    }
}

extension EventStore {
    /// Counts for the backlog's progress.
    ///
    /// The backlog began when the queue was last empty: the last normal-lane event (before the
    /// oldest undelivered one) that was delivered before the next one was stored. Everything
    /// delivered after it belongs to this backlog. Read-only; it scans the lane's events since
    /// that point, once, when `status` runs.
    public func drainCounts(now: Date = Date()) async throws -> DrainCounts {
        let nowMs = Self.milliseconds(now)
        return try await writer.read { db in
            let minute = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM events WHERE delivered_at_ms >= ? AND lane = 'normal'", arguments: [nowMs - 60_000]) ?? 0
            let tenMinutes = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM events WHERE delivered_at_ms >= ? AND lane = 'normal'", arguments: [nowMs - 600_000]) ?? 0
            guard
                let oldest = try Int64.fetchOne(
                    db, sql: "SELECT MIN(seq) FROM events WHERE lane = 'normal' AND delivered_at_ms IS NULL")
            else {
                return DrainCounts(drained: 0, deliveredLastMinute: minute, deliveredLastTenMinutes: tenMinutes)
            }
            let emptyAfter = try Int64.fetchOne(
                db,
                sql: """
                    SELECT MAX(seq) FROM (
                      SELECT seq, delivered_at_ms, LEAD(stored_at_ms) OVER (ORDER BY seq) AS next_stored
                      FROM events WHERE lane = 'normal' AND seq <= ?)
                    WHERE delivered_at_ms IS NOT NULL AND delivered_at_ms <= next_stored
                    """,
                arguments: [oldest]) ?? 0
            let drained = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM events WHERE lane = 'normal' AND seq > ? AND delivered_at_ms IS NOT NULL",
                arguments: [emptyAfter]) ?? 0
            return DrainCounts(drained: drained, deliveredLastMinute: minute, deliveredLastTenMinutes: tenMinutes)
        }
    }
}
