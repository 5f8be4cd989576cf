import EventModel
import Foundation
import GRDB
import Logging
import Synchronization

/// Recovery from corruption found while the agent runs: the live database is replaced by a
/// salvaged one without a restart.
extension EventStore {
    /// Steps 1 to 4 of ``recoverAtRunTime``, synchronously.
    private static func replaceDatabase(live: LiveDatabase, path: String, problem: String, bootID: String?, logger: Logger) throws
        -> SalvageReport
    {
        let old = live.writer
        // Nothing more goes into the bad file: writes queued behind the barrier fail with
        // SQLITE_READONLY and are done again on the fresh database (``LiveDatabase/write``).
        try? old.barrierWriteWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = 1") }
        try? old.close()
        let report = try recover(path: path, problem: problem, logger: logger)
        let fresh: DatabasePool
        do {
            fresh = try DatabasePool(path: path, configuration: writerConfiguration)
            try prepare(fresh, path: path)
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError(.openFailed, path: path, "cannot open the fresh event database after salvaging the corrupt one: \(error)")
        }
        let synchronized = live.state.withLock { $0.clockSynchronized }
        _ = try fresh.write { db in
            try EventStore.insert(
                [NewEvent(kind: .deviceFault, device: "event-store", detail: report.description)], bootID: bootID,
                clockSynchronized: synchronized, db: db)
        }
        live.state.withLock { state in
            state.writer = fresh
            state.generation += 1
            state.runTimeSalvages.append(report)
        }
        return report
    }

    /// Recovers from corruption found while the agent runs, without a restart:
    ///
    /// 1. the current database stops taking writes (`PRAGMA query_only` on the writer, inside a
    ///    barrier that waits for the writes in flight), so nothing more is accepted into it;
    /// 2. the file is moved aside as `events.sqlite.corrupt-<UTC time>` and every readable row is
    ///    salvaged into a fresh store, exactly as at open (``recover(path:problem:logger:)``);
    /// 3. the fresh store is opened (migrated, `synchronous=FULL`) and takes over;
    /// 4. a `device_fault` event of `event-store` says what happened (the salvage report).
    ///
    /// Callers that find the recovery already under way wait for it. Returns the report, or nil
    /// if another caller already recovered the database this caller saw fail.
    @discardableResult
    static func recoverAtRunTime(
        live: LiveDatabase, path: String, problem: String, bootID: String?, logger: Logger, doorbell: LaneDoorbell,
        seenGeneration: Int
    ) async throws -> SalvageReport? {
        let seen = seenGeneration
        while true {
            let lead = live.state.withLock { state -> Bool? in
                if state.generation != seen { return nil }
                if state.recovering { return false }
                state.recovering = true
                return true
            }
            guard let lead else { return nil }
            if lead { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        defer { live.state.withLock { $0.recovering = false } }
        // The replacement runs to its end on a thread of its own: it must not be cancelled
        // half-way (a shutdown during it would leave no usable database), and the salvage's
        // blocking I/O must not hold one of the few cooperative threads.
        let report: SalvageReport = try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Result { try replaceDatabase(live: live, path: path, problem: problem, bootID: bootID, logger: logger) })
            }
            thread.name = "station.store.recovery"
            thread.start()
        }
        doorbell.ring(.normal)
        doorbell.ring(.alarm)
        logger.error("event database recovered at run time", metadata: ["store.salvage": "\(report)"])
        return report
    }
}
