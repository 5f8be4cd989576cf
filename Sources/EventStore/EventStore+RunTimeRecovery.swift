import EventModel
import Foundation
import GRDB
import Logging
import Synchronization

/// The database an ``EventStore`` currently writes to, and what the store knows about the
/// kiosk's clock. Replaced as a whole when run-time corruption is recovered.
final class LiveDatabase: Sendable {
    struct State: Sendable {
        var writer: any DatabaseWriter
        /// Bumped each time the database is replaced.
        var generation = 0
        var recovering = false
        var runTimeSalvages: [SalvageReport] = []
        /// Whether the wall clock is synchronised, stamped on events that do not say (nil: unknown).
        var clockSynchronized: Bool?
    }

    let state: Mutex<State>

    init(_ writer: any DatabaseWriter) {
        state = Mutex(State(writer: writer))
    }

    var writer: any DatabaseWriter { state.withLock { $0.writer } }
}

extension EventStore {
    /// Whether the wall clock is synchronised (NTP), as the agent last read it; stamped on every
    /// event stored from now on that does not carry its own value. nil: unknown.
    public var clockSynchronized: Bool? {
        get { live.state.withLock { $0.clockSynchronized } }
        set { live.state.withLock { $0.clockSynchronized = newValue } }
    }

    /// What run-time corruption recovery did in this process, oldest first.
    public var runTimeSalvages: [SalvageReport] { live.state.withLock { $0.runTimeSalvages } }

    /// One commit attempt of `events` (evicting under the budget, and once more after making
    /// room when the disk is full and an alarm is in the commit).
    static func commitOnce(
        _ events: [NewEvent], live: LiveDatabase, policy: StoragePolicy, bootID: String?, path: String?, logger: Logger
    ) async throws -> [StoredEvent] {
        let (writer, synchronized) = live.state.withLock { ($0.writer, $0.clockSynchronized) }
        do {
            return try await writer.write { db in
                try EventStore.makeRoom(for: events, policy: policy, db: db)
                return try EventStore.insert(events, bootID: bootID, clockSynchronized: synchronized, db: db)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL && events.contains(where: { $0.lane == .alarm }) {
            // An alarm must find room: drop delivered events, then the oldest taps, to free
            // pages inside the file, and try once more.
            do {
                let stored = try await writer.write { db in
                    var freed: Int64 = 0
                    _ = try EventStore.evict(db: db) {
                        defer { freed += 1 }
                        return freed < 4
                    }
                    return try EventStore.insert(events, bootID: bootID, clockSynchronized: synchronized, db: db)
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

    // MARK: Integrity

    /// The checks that cost next to nothing, run at every open: the file starts with SQLite's
    /// header and its schema can be read. Returns what is wrong, or nil. Errors that are not
    /// corruption are thrown, as in ``integrityProblem(path:)``.
    static func cheapIntegrityProblem(path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        if let handle = FileHandle(forReadingAtPath: path) {
            defer { try? handle.close() }
            let header = (try? handle.read(upToCount: 16)) ?? Data()
            if !header.isEmpty && header != Data("SQLite format 3\0".utf8) {
                return "the file does not start with the SQLite header"
            }
        }
        do {
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            _ = try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            return nil
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            return "\(error.resultCode): \(error.message ?? "corrupt")"
        } catch {
            throw EventStoreError(.openFailed, path: path, "cannot check the event database: \(error)")
        }
    }

    /// Runs `PRAGMA quick_check` on a connection of its own (read only, off the cooperative
    /// threads: GRDB runs it on its own queue). Returns nil when the file is sound, else the
    /// first findings. An in-memory store is always sound.
    public func integrityProblem() async throws -> String? {
        guard let path else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.label = "station.events.check"
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            let findings = try await queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
            return findings == ["ok"] ? nil : findings.joined(separator: "; ")
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            return "\(error.resultCode): \(error.message ?? "corrupt")"
        }
    }

    /// Runs the full integrity check and, if the file is corrupt, recovers as for corruption
    /// found at run time. Returns what the recovery did, or nil when the store is sound.
    @discardableResult
    public func checkIntegrityAndRecover() async throws -> SalvageReport? {
        guard let path, let problem = try await integrityProblem() else { return nil }
        return try await EventStore.recoverAtRunTime(
            live: live, path: path, problem: problem, bootID: bootID, logger: logger, doorbell: doorbell)
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
        live: LiveDatabase, path: String, problem: String, bootID: String?, logger: Logger, doorbell: LaneDoorbell
    ) async throws -> SalvageReport? {
        let seen = live.state.withLock { $0.generation }
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
        let old = live.writer
        // Nothing more goes into the bad file: writes queued behind the barrier fail with
        // SQLITE_READONLY (reported as `.writeFailed`, retried by their callers).
        try? await old.barrierWriteWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = 1") }
        try? old.close()
        let report = try recover(path: path, problem: problem, logger: logger)
        var configuration = Configuration()
        configuration.label = "station.events"
        configuration.busyMode = .timeout(5)
        let fresh: DatabasePool
        do {
            fresh = try DatabasePool(path: path, configuration: configuration)
            try migrator.migrate(fresh)
            try await fresh.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            let level = try await fresh.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
            guard level == 2 else {
                throw EventStoreError(.openFailed, path: path, "the fresh store runs with synchronous=\(level), not FULL (2)")
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError(.openFailed, path: path, "cannot open the fresh event database after salvaging the corrupt one: \(error)")
        }
        let synchronized = live.state.withLock { state in
            state.writer = fresh
            state.generation += 1
            state.runTimeSalvages.append(report)
            return state.clockSynchronized
        }
        _ = try await fresh.write { db in
            try EventStore.insert(
                [NewEvent(kind: .deviceFault, device: "event-store", detail: report.description)], bootID: bootID,
                clockSynchronized: synchronized, db: db)
        }
        doorbell.ring(.normal)
        doorbell.ring(.alarm)
        logger.error("event database recovered at run time", metadata: ["store.salvage": "\(report)"])
        return report
    }
}
