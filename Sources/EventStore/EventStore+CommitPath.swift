import EventModel
import Foundation
import GRDB
import Logging
import Synchronization

/// The commit path: every event the agent accepts goes through here. Appends share commits
/// (``GroupCommitter``); each commit makes room under the storage policy, inserts with the
/// boot, clock and station stamps, and rings the lanes' doorbells once it is durable. A commit
/// that meets corruption recovers the database (EventStore+RunTimeRecovery.swift) and commits
/// there.
extension EventStore {
    static func makeCommitter(
        live: LiveDatabase, policy: StoragePolicy, bootID: String?, path: String?, logger: Logger, doorbell: LaneDoorbell
    ) -> GroupCommitter {
        let metrics = StoreMetrics()
        return GroupCommitter { events in
            let stored: [StoredEvent]
            let generation = live.state.withLock { $0.generation }
            do {
                stored = try await EventStore.commitOnce(events, live: live, policy: policy, bootID: bootID, path: path, logger: logger)
            } catch let error as EventStoreError where error.code == .corrupt && path != nil {
                // Run-time corruption: stop writing into the bad file, move it aside, salvage it
                // into a fresh store, and commit these events there.
                try await EventStore.recoverAtRunTime(
                    live: live, path: path!, problem: error.message, bootID: bootID, logger: logger, doorbell: doorbell,
                    seenGeneration: generation)
                stored = try await EventStore.commitOnce(events, live: live, policy: policy, bootID: bootID, path: path, logger: logger)
            }
            for lane in Set(stored.map(\.lane)) { doorbell.ring(lane) }
            metrics.committed(stored)
            return stored
        }
    }

    /// Whether the wall clock is synchronised (NTP), as the agent last read it; stamped on every
    /// event stored from now on that does not carry its own value. nil: unknown.
    public var clockSynchronized: Bool? {
        get { live.state.withLock { $0.clockSynchronized } }
        set { live.state.withLock { $0.clockSynchronized = newValue } }
    }

    /// The station id (`[station] id`) stamped on every event stored from now on, so that each
    /// event is sent as the station it was recorded under even after the id changes.
    public var stationID: String? {
        get { live.state.withLock { $0.stationID } }
        set { live.state.withLock { $0.stationID = newValue } }
    }

    /// What run-time corruption recovery did in this process, oldest first.
    public var runTimeSalvages: [SalvageReport] { live.state.withLock { $0.runTimeSalvages } }

    /// One commit attempt of `events` (evicting under the budget, and once more after making
    /// room when the disk is full and an alarm is in the commit).
    static func commitOnce(
        _ events: [NewEvent], live: LiveDatabase, policy: StoragePolicy, bootID: String?, path: String?, logger: Logger
    ) async throws -> [StoredEvent] {
        let (synchronized, station) = live.state.withLock { ($0.clockSynchronized, $0.stationID) }
        do {
            return try await live.write { db in
                try EventStore.makeRoom(for: events, policy: policy, db: db)
                return try EventStore.insert(events, bootID: bootID, clockSynchronized: synchronized, stationID: station, db: db)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL && events.contains(where: { $0.lane == .alarm }) {
            // An alarm must find room: drop delivered events, then the oldest taps, to free
            // pages inside the file, and try once more.
            do {
                let stored = try await live.write { db in
                    var freed: Int64 = 0
                    _ = try EventStore.evict(db: db) {
                        defer { freed += 1 }
                        return freed < 4
                    }
                    return try EventStore.insert(events, bootID: bootID, clockSynchronized: synchronized, stationID: station, db: db)
                }
                logger.warning("storage full: evicted events to store an alarm", metadata: ["store.path": "\(path ?? ":memory:")"])
                return stored
            } catch {
                throw EventStore.writeError(error, path: path)
            }
        } catch {
            throw EventStore.writeError(error, path: path)
        }
    }

    /// Runs an empty write transaction: proves the writer (the commit path every append takes)
    /// is not stuck, without writing anything to disk. For the watchdog.
    public func probeWriter() async throws {
        try await live.write { _ in }
    }
}
