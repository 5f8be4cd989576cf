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
        /// The station id stamped on every event stored (nil: none kept).
        var stationID: String?
    }

    /// What a recovery needs; nil for a read-only or in-memory store (never recovered).
    struct RecoveryContext: Sendable {
        var path: String
        var bootID: String?
        var logger: Logger
        var doorbell: LaneDoorbell
    }

    let state: Mutex<State>
    let recovery: RecoveryContext?

    init(_ writer: any DatabaseWriter, recovery: RecoveryContext?) {
        state = Mutex(State(writer: writer))
        self.recovery = recovery
    }

    static func isCorruption(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
    }

    /// After `error` from a database of `generation`: recovers if it is corruption (once per
    /// generation), or waits out a recovery under way. Returns whether to try again on the
    /// (now fresh) database.
    private func shouldRetry(after error: any Error, generation: Int) async throws -> Bool {
        if LiveDatabase.isCorruption(error), let recovery {
            try await EventStore.recoverAtRunTime(
                live: self, path: recovery.path, problem: (error as? DatabaseError)?.message ?? "\(error)", bootID: recovery.bootID,
                logger: recovery.logger, doorbell: recovery.doorbell, seenGeneration: generation)
        }
        await waitWhileRecovering()
        return state.withLock { $0.generation } != generation
    }

    /// A read on the current database, with the same recovery as ``write(_:)``.
    func read<T: Sendable>(_ value: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let (reader, generation) = state.withLock { ($0.writer, $0.generation) }
        do {
            return try await reader.read(value)
        } catch {
            guard try await shouldRetry(after: error, generation: generation) else { throw error }
            return try await self.writer.read(value)
        }
    }

    var writer: any DatabaseWriter { state.withLock { $0.writer } }

    /// Waits (polling, 20 ms) while a run-time recovery is replacing the database.
    func waitWhileRecovering() async {
        while state.withLock({ $0.recovering }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// A write on the current database. A corruption error starts the run-time recovery
    /// (``EventStore/recoverAtRunTime``); a write that fails while the database is being
    /// replaced (or was replaced while it waited) is done once more on the fresh database, so a
    /// caller never sees a recovery as a failure of its own.
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let (writer, generation) = state.withLock { ($0.writer, $0.generation) }
        do {
            return try await writer.write(updates)
        } catch {
            guard try await shouldRetry(after: error, generation: generation) else { throw error }
            return try await self.writer.write(updates)
        }
    }
}

extension EventStore {
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
        let generation = live.state.withLock { $0.generation }
        guard let path, let problem = try await integrityProblem() else { return nil }
        return try await EventStore.recoverAtRunTime(
            live: live, path: path, problem: problem, bootID: bootID, logger: logger, doorbell: doorbell, seenGeneration: generation)
    }

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
        var configuration = Configuration()
        configuration.label = "station.events"
        configuration.busyMode = .timeout(5)
        let fresh: DatabasePool
        do {
            fresh = try DatabasePool(path: path, configuration: configuration)
            try migrator.migrate(fresh)
            try fresh.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            let level = try fresh.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
            guard level == 2 else {
                throw EventStoreError(.openFailed, path: path, "the fresh store runs with synchronous=\(level), not FULL (2)")
            }
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
