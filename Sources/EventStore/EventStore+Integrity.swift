import Foundation
import GRDB
import Synchronization

/// The checks of the database file: the cheap ones at every open, `PRAGMA quick_check` at open
/// or after start; a corrupt file goes to the salvage (Recovery.swift).
extension EventStore {
    /// Runs `PRAGMA quick_check` on the file at `path`, if it exists. Returns nil when it is
    /// sound, else what is wrong. Errors that are not corruption (permissions, a missing
    /// directory) are thrown: a file that cannot be opened is never treated as corrupt.
    static func integrityProblem(path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            let findings = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
            if findings == ["ok"] { return nil }
            return findings.joined(separator: "; ")
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            return "\(error.resultCode): \(error.message ?? "corrupt")"
        } catch {
            throw EventStoreError(.openFailed, path: path, "cannot check the event database: \(error)")
        }
    }

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
}
