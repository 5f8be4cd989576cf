import EventModel
import EventStore
import Foundation
import Logging
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The metrics read from the store rather than counted as things happen, refreshed before each
/// scrape so they are exact when read:
///
/// - `station_queue_depth{lane}`: undelivered events per lane;
/// - `station_queue_oldest_age_seconds{lane}`: age of the lane's oldest undelivered event (0 if none);
/// - `station_events_evicted_total{state}`: events the size budget dropped, `delivered` or
///   `undelivered` (card taps lost to the platform); read from the store, so it survives restarts;
/// - `station_store_used_bytes`: the database's used pages;
/// - `station_state_dir_free_bytes`: free space on the state directory's file system (for the
///   agent's user: `f_bavail`).
final class StoreGauges: Sendable {
    private let store: EventStore
    private let stateDirectory: String
    private let logger: Logger
    /// Eviction totals already added to the counters.
    private let reported = Mutex(EvictionCounts(delivered: 0, undeliveredTaps: 0))

    init(store: EventStore, stateDirectory: String, logger: Logger) {
        self.store = store
        self.stateDirectory = stateDirectory
        self.logger = logger
    }

    func refresh(now: Date = Date()) async {
        do {
            let summary = try await store.summary(now: now)
            for lane in Lane.allCases {
                let lanes = summary.lanes[lane]
                Gauge(label: "station_queue_depth", dimensions: [("lane", lane.rawValue)]).record(lanes?.count ?? 0)
                let age = lanes?.oldestStoredAt.map { max(0, now.timeIntervalSince($0)) } ?? 0
                Gauge(label: "station_queue_oldest_age_seconds", dimensions: [("lane", lane.rawValue)]).record(age)
            }
            let evictions = try await store.evictionCounts()
            let added = reported.withLock { last -> EvictionCounts in
                // A salvaged or replaced store may count from lower numbers: never count down.
                let added = EvictionCounts(
                    delivered: max(0, evictions.delivered - last.delivered),
                    undeliveredTaps: max(0, evictions.undeliveredTaps - last.undeliveredTaps))
                last = EvictionCounts(
                    delivered: max(last.delivered, evictions.delivered), undeliveredTaps: max(last.undeliveredTaps, evictions.undeliveredTaps))
                return added
            }
            Counter(label: "station_events_evicted_total", dimensions: [("state", "delivered")]).increment(by: Int(added.delivered))
            Counter(label: "station_events_evicted_total", dimensions: [("state", "undelivered")]).increment(by: Int(added.undeliveredTaps))
            Gauge(label: "station_store_used_bytes").record(try await store.usedBytes())
        } catch {
            logger.warning("cannot read the queue for metrics", metadata: ["error": "\(error)"])
        }
        if let free = Self.freeBytes(stateDirectory) {
            Gauge(label: "station_state_dir_free_bytes").record(free)
        }
    }

    /// Bytes available to unprivileged users on the file system holding `path`.
    static func freeBytes(_ path: String) -> Int64? {
        var space = statvfs()
        guard statvfs(path, &space) == 0 else { return nil }
        return Int64(clamping: UInt64(space.f_bavail) &* UInt64(space.f_frsize))
    }
}
