import EventModel
import Foundation
import GRDB

extension EventStore {
    enum EvictionMetaKey {
        /// `<count> <first seq> <last seq>` of undelivered taps evicted and not yet reported.
        static let unreportedTaps = "unreported_evicted_taps"
    }

    /// Adds evicted undelivered taps to the not-yet-reported range (inside the evicting commit).
    static func noteUnreportedTapEvictions(_ seqs: [Int64], _ db: Database) throws {
        guard let low = seqs.min(), let high = seqs.max() else { return }
        var (count, first, last) = (Int64(0), low, high)
        if let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [EvictionMetaKey.unreportedTaps]) {
            let parts = text.split(separator: " ").compactMap { Int64($0) }
            if parts.count == 3 {
                count = parts[0]
                first = min(first, parts[1])
                last = max(last, parts[2])
            }
        }
        count += Int64(seqs.count)
        try db.execute(
            sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            arguments: [EvictionMetaKey.unreportedTaps, "\(count) \(first) \(last)"])
    }

    /// The detail of an `events_evicted` event.
    public static func eventsEvictedDetail(count: Int64, firstSeq: Int64, lastSeq: Int64, total: Int64) -> String {
        "count=\(count) first_seq=\(firstSeq) last_seq=\(lastSeq) total=\(total)"
    }

    /// If the size budget dropped undelivered card taps since the last report, stores one
    /// `events_evicted` event (normal lane) with their count and sequence-number range, and
    /// clears the range, in one commit (so a crash never reports twice or not at all).
    /// Returns the event, or nil when there was nothing to report.
    @discardableResult
    public func reportEvictedTaps(occurredAt: Date = Date()) async throws -> StoredEvent? {
        let bootID = self.bootID
        let synchronized = clockSynchronized
        let station = stationID
        let stored = try await live.write { db -> StoredEvent? in
            guard
                let text = try String.fetchOne(
                    db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [EvictionMetaKey.unreportedTaps])
            else { return nil }
            let parts = text.split(separator: " ").compactMap { Int64($0) }
            try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [EvictionMetaKey.unreportedTaps])
            guard parts.count == 3, parts[0] > 0 else { return nil }
            let total = try EventStore.metaInt(MetaKey.evictedUndeliveredTaps, db)
            let event = NewEvent(
                kind: .eventsEvicted, device: "event-store",
                detail: EventStore.eventsEvictedDetail(count: parts[0], firstSeq: parts[1], lastSeq: parts[2], total: total),
                occurredAt: occurredAt)
            return try EventStore.insert([event], bootID: bootID, clockSynchronized: synchronized, stationID: station, db: db)[0]
        }
        if stored != nil { doorbell.ring(.normal) }
        return stored
    }
}
