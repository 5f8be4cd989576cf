import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a transmitter keeps its last sequence number, so that a restart continues the
/// numbering instead of starting at 0001 again (a receiver that de-duplicates by sequence
/// number would otherwise drop the first alarms after a reboot).
public protocol DC09SequenceStore: Sendable {
    /// The last sequence number used, or nil when none was ever stored.
    func loadLastSequence() throws -> DC09Sequence?
    /// Records `sequence` as used. Called before the frame carrying it is written.
    func saveLastSequence(_ sequence: DC09Sequence) throws
}

/// A store in memory, for tests and for one-off sends (`test-alarm`).
public final class DC09InMemorySequenceStore: DC09SequenceStore {
    private let state: Mutex<(last: DC09Sequence?, saves: Int)>

    public init(last: DC09Sequence? = nil) {
        state = Mutex((last, 0))
    }

    public func loadLastSequence() throws -> DC09Sequence? { state.withLock { $0.last } }

    public func saveLastSequence(_ sequence: DC09Sequence) throws {
        state.withLock { $0 = (sequence, $0.saves + 1) }
    }

    /// How many times a sequence number was saved.
    public var saveCount: Int { state.withLock { $0.saves } }
}

/// A store in a small text file (`0042\n`), replaced atomically and synced to disk on every
/// save (write a temporary file, fsync, rename, fsync the directory).
public struct DC09FileSequenceStore: DC09SequenceStore {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func loadLastSequence() throws -> DC09Sequence? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DC09Error(.sequenceStore, "cannot read the DC-09 sequence file \(path): \(error); check its permissions")
        }
        let digits = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard digits.count == 4, let value = Int(digits), let sequence = try? DC09Sequence(value) else {
            throw DC09Error(
                .sequenceStore,
                "the DC-09 sequence file \(path) holds '\(digits.prefix(16))', not a 4-digit number; delete it to restart the numbering at 0001")
        }
        return sequence
    }

    public func saveLastSequence(_ sequence: DC09Sequence) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw DC09Error(.sequenceStore, "cannot create \(temporary): \(String(cString: strerror(errno))); check that the directory exists and is writable")
        }
        let bytes = sequence.bytes + [0x0A]
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        let closeError = errno
        close(fd)
        guard written == bytes.count, synced == 0 else {
            throw DC09Error(.sequenceStore, "cannot write \(temporary): \(String(cString: strerror(closeError))); check free space")
        }
        guard rename(temporary, path) == 0 else {
            throw DC09Error(.sequenceStore, "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
    }
}

/// Hands out sequence numbers 0001...9999, 0001, ... and records each in a store before it is
/// used.
public struct DC09SequenceCounter: Sendable {
    private let store: any DC09SequenceStore
    /// The last number handed out (or loaded from the store).
    public private(set) var last: DC09Sequence?

    /// Loads the last number from `store`.
    public init(store: any DC09SequenceStore) throws(DC09Error) {
        self.store = store
        do {
            last = try store.loadLastSequence()
        } catch let error as DC09Error {
            throw error
        } catch {
            throw DC09Error(.sequenceStore, "cannot load the last DC-09 sequence number: \(error)")
        }
    }

    /// The next number. It is saved first; if saving fails the number is still handed out (an
    /// alarm must not wait for a disk) and the error is returned alongside it.
    public mutating func next() -> (sequence: DC09Sequence, saveError: DC09Error?) {
        let sequence = last?.next ?? .first
        last = sequence
        do {
            try store.saveLastSequence(sequence)
            return (sequence, nil)
        } catch let error as DC09Error {
            return (sequence, error)
        } catch {
            return (sequence, DC09Error(.sequenceStore, "cannot save DC-09 sequence number \(sequence): \(error)"))
        }
    }
}
