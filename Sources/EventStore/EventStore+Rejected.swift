import EventModel
import Foundation
import GRDB

/// An event the platform refused, kept for an operator.
public struct RejectedEvent: Sendable, Hashable {
    public var event: StoredEvent
    public var rejectedAt: Date
    /// The platform's reason, as it gave it.
    public var reason: String?
}

/// Rejected events: never pruned, never evicted, never sent again by themselves, except the
/// alarm lane's, which the retention loop requeues slowly (an alarm is never refused for good).
/// An operator lists them with `station-agent rejected` and sends them again with `requeue`.
extension EventStore {
    /// The rejected events in sequence order, at most `limit`.
    public func rejectedEvents(limit: Int = 1000) async throws -> [RejectedEvent] {
        try await live.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(EventStore.columns), delivered_at_ms, outcome_reason FROM events
                    WHERE outcome = 'rejected' ORDER BY seq LIMIT ?
                    """,
                arguments: [limit]
            ).map { row in
                RejectedEvent(
                    event: try EventStore.decode(row), rejectedAt: EventStore.date(row["delivered_at_ms"]),
                    reason: row["outcome_reason"])
            }
        }
    }

    /// How many rejected events each lane holds.
    public func rejectedCounts() async throws -> [Lane: Int] {
        try await live.read { db in
            var counts: [Lane: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT lane, COUNT(*) AS n FROM events WHERE outcome = 'rejected' GROUP BY lane") {
                if let lane = Lane(rawValue: row["lane"]) { counts[lane] = row["n"] }
            }
            return counts
        }
    }

    /// Puts rejected events back in their lane's queue, in sequence order: those in `seqs`, or
    /// every one when `seqs` is nil. Returns the sequence numbers requeued; others are ignored.
    @discardableResult
    public func requeueRejected(seqs: [Int64]? = nil) async throws -> [Int64] {
        let requeued = try await live.write { db -> [(Int64, String)] in
            var rows: [(Int64, String)] = []
            if let seqs {
                let statement = try db.cachedStatement(
                    sql: """
                        UPDATE events SET delivered_at_ms = NULL, outcome = NULL
                        WHERE seq = ? AND outcome = 'rejected' RETURNING seq, lane
                        """)
                for seq in seqs {
                    rows += try Row.fetchAll(statement, arguments: [seq]).map { ($0["seq"], $0["lane"]) }
                }
            } else {
                rows = try Row.fetchAll(
                    db, sql: "UPDATE events SET delivered_at_ms = NULL, outcome = NULL WHERE outcome = 'rejected' RETURNING seq, lane"
                ).map { ($0["seq"], $0["lane"]) }
            }
            return rows
        }
        for lane in Set(requeued.compactMap { Lane(rawValue: $0.1) }) { doorbell.ring(lane) }
        return requeued.map(\.0).sorted()
    }

    /// Puts the rejected events of `lane` whose verdict is older than `date` back in the queue.
    @discardableResult
    public func requeueRejected(lane: Lane, rejectedBefore date: Date) async throws -> [Int64] {
        let ms = Self.milliseconds(date)
        let seqs = try await live.write { db in
            try Int64.fetchAll(
                db,
                sql: """
                    UPDATE events SET delivered_at_ms = NULL, outcome = NULL
                    WHERE outcome = 'rejected' AND lane = ? AND delivered_at_ms < ? RETURNING seq
                    """,
                arguments: [lane.rawValue, ms])
        }
        if !seqs.isEmpty { doorbell.ring(lane) }
        return seqs.sorted()
    }
}

/// Events recorded under another station id (`[station] id` changed since): they go out as the
/// station that recorded them; if the platform refuses that, an operator sends them as this one.
extension EventStore {
    /// Undelivered events recorded under a station id other than `current`, by that id.
    public func undeliveredUnderOtherStations(current: String) async throws -> [String: Int] {
        try await live.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT station_id, COUNT(*) AS n FROM events
                    WHERE delivered_at_ms IS NULL AND station_id IS NOT NULL AND station_id != ? GROUP BY station_id
                    """,
                arguments: [current])
            {
                counts[row["station_id"]] = row["n"]
            }
            return counts
        }
    }

    /// Relabels the undelivered events recorded under another station id as `current`, so that
    /// they go out as this station. Returns how many.
    @discardableResult
    public func relabelUndelivered(as current: String) async throws -> Int {
        let changed = try await live.write { db -> Int in
            try db.execute(
                sql: "UPDATE events SET station_id = ? WHERE delivered_at_ms IS NULL AND station_id IS NOT NULL AND station_id != ?",
                arguments: [current, current])
            return db.changesCount
        }
        if changed > 0 { for lane in Lane.allCases { doorbell.ring(lane) } }
        return changed
    }
}
