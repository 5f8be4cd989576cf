import EventModel
import GRDB

extension EventStore {
    /// Every event of `lane` after `afterSeq`, delivered or not, in sequence order: for a second
    /// destination (SIA DC-09) that keeps its own cursor.
    public func laneEvents(_ lane: Lane, afterSeq: Int64, limit: Int) async throws -> [StoredEvent] {
        try await live.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(EventStore.columns) FROM events WHERE lane = ? AND seq > ? ORDER BY seq LIMIT ?",
                arguments: [lane.rawValue, afterSeq, limit]
            ).map(EventStore.decode)
        }
    }
}
