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
