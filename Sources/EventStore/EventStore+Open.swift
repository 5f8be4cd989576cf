import EventModel
import Foundation
import GRDB
import Logging
import Synchronization

/// Opening a store: the state directory's checks, the integrity checks and salvage before the
/// first write (EventStore+Integrity.swift, Recovery.swift), the migrations, and the proof that
/// commits are durable (`synchronous=FULL`). What happens once it is open is in EventStore.swift
/// and the commit path.
extension EventStore {
    /// Opens (or creates) the store in `directory`, which must exist and be writable.
    ///
    /// Runs the migrations, switches the writer to `synchronous=FULL`, and checks that it took.
    public static func open(directory: String, logger: Logger = Logger(label: "station.store")) throws -> EventStore {
        try open(directory: directory, policy: .unlimited, logger: logger)
    }

    /// Opens (or creates) the store in `directory` with a space `policy`.
    ///
    /// Before opening, runs `PRAGMA quick_check` (``StoragePolicy/integrityCheckAtOpen``); a
    /// corrupt file is moved aside as `events.sqlite.corrupt-<UTC time>` (with its `-wal`/`-shm`),
    /// a fresh store is created, every row that can still be read is copied into it with its id
    /// and sequence number, and new sequence numbers continue above the old ones. What happened
    /// is in ``salvage`` (and in the `meta` table as `last_salvage`).
    public static func open(directory: String, policy: StoragePolicy, logger: Logger = Logger(label: "station.store")) throws -> EventStore {
        try checkStateDirectory(directory)
        let path = (directory as NSString).appendingPathComponent(fileName)
        finishInterruptedSalvage(path: path)
        var salvage: SalvageReport?
        // The full quick_check reads every page (seconds on a large store); without it only the
        // cheap checks run here and the caller runs ``checkIntegrityAndRecover()`` after start.
        let problem = try policy.integrityCheckAtOpen ? integrityProblem(path: path) : cheapIntegrityProblem(path: path)
        if let problem {
            salvage = try recover(path: path, problem: problem, logger: logger)
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: writerConfiguration)
        } catch {
            throw EventStoreError(.openFailed, path: path, "cannot open the event database: \(error)")
        }
        return try EventStore(prepared: pool, path: path, logger: logger, policy: policy, salvage: salvage)
    }

    /// Checks that `directory` exists and this user may write in it: a configuration problem no
    /// retry can fix (``EventStoreError/Code/stateDirectoryMissing``, ``EventStoreError/Code/stateDirectoryNotWritable``).
    public static func checkStateDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EventStoreError(
                .stateDirectoryMissing, path: directory,
                "the state directory does not exist; create it (owned by the agent's user) or fix station.state_dir")
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw EventStoreError(
                .stateDirectoryNotWritable, path: directory,
                "the state directory is not writable by this user; fix its owner or permissions (chown the directory to the agent's user)")
        }
    }

    /// Opens an existing store for reading only (the `status` command), without migrating or
    /// writing anything.
    public static func openReadOnly(directory: String, logger: Logger = Logger(label: "station.store")) throws -> EventStore {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else {
            throw EventStoreError(
                .openFailed, path: path,
                "no event database here yet; has the agent run with this configuration's state_dir?")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.label = "station.events.readonly"
        let pool: DatabasePool
        let migrated: Bool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            migrated = try pool.read { try EventStore.migrator.hasCompletedMigrations($0) }
        } catch {
            throw EventStoreError(.openFailed, path: path, "cannot open the event database for reading: \(error)")
        }
        // Each migration commits on its own: a reader between two would find a table without
        // its newer columns. The agent migrates the file when it starts.
        guard migrated else {
            throw EventStoreError(
                .openFailed, path: path,
                "the event database is not migrated to this version yet; the agent does it when it starts (is it starting now? try again in a moment)")
        }
        return EventStore(writer: pool, path: path, logger: logger, recovers: false)
    }

    /// An in-memory store for unit tests (same schema, same code paths, no durability).
    public static func inMemory(policy: StoragePolicy = .unlimited, logger: Logger = Logger(label: "station.store")) throws -> EventStore {
        try EventStore(prepared: DatabaseQueue(), path: nil, logger: logger, policy: policy)
    }

    convenience init(
        prepared writer: any DatabaseWriter, path: String?, logger: Logger, policy: StoragePolicy = .unlimited, salvage: SalvageReport? = nil
    ) throws {
        try EventStore.prepare(writer, path: path ?? ":memory:")
        self.init(writer: writer, path: path, logger: logger, policy: policy, salvage: salvage)
    }

    /// The configuration of the writing pool, at open and after a run-time salvage.
    static var writerConfiguration: Configuration {
        var configuration = Configuration()
        configuration.label = "station.events"
        configuration.busyMode = .timeout(5)
        return configuration
    }

    /// Migrates `writer` and switches it to `synchronous=FULL`, then reads that back: the store
    /// refuses to run without durable commits.
    static func prepare(_ writer: any DatabaseWriter, path: String) throws {
        let level: Int
        do {
            try EventStore.migrator.migrate(writer)
            // GRDB's DatabasePool resets the writer to NORMAL after `prepareDatabase`; set FULL on
            // the writer itself, then read it back.
            try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            level = try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        } catch {
            throw EventStoreError(.openFailed, path: path, "cannot prepare the event database: \(error)")
        }
        guard level == 2 else {
            throw EventStoreError(
                .openFailed, path: path, "the writer runs with synchronous=\(level), not FULL (2); refusing to run without durable commits")
        }
    }

    /// The writer connection's `PRAGMA synchronous` (2 = FULL). Exposed so tests can prove it.
    public func synchronousLevel() throws -> Int {
        try writer.writeWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
        }
    }
}
