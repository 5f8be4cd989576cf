import ServiceLifecycle
import Synchronization

/// Wakes the long-polls of a station when a command for it was committed.
///
/// Each station has a version that ``advance(_:)`` increments after every commit of a command.
/// A long-poll reads the version *before* it queries the database and then waits past that
/// version, so a command committed between the query and the wait is never missed:
///
/// ```swift
/// let version = signal.version(of: station)
/// if try fetch(after: cursor).isEmpty {
///     await signal.wait(for: station, past: version, timeout: .seconds(25))
/// }
/// ```
///
/// Waiting suspends without holding a thread; it ends when the station's version moves, when
/// the timeout passes, when the task is cancelled, or when the service group shuts down
/// gracefully (so that a long-poll does not hold the server's shutdown back for a minute).
public final class CommandSignal: Sendable {
    private struct State {
        var versions: [String: UInt64] = [:]
        /// Suspended long-polls by station, then by waiter id.
        var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        /// Waiters whose wait ended (cancelled, shut down) before they were registered.
        var abandoned: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The station's current version (0 until its first command).
    public func version(of station: String) -> UInt64 {
        state.withLock { $0.versions[station] ?? 0 }
    }

    /// Marks that `station` has a new command, and wakes every long-poll waiting for it.
    public func advance(_ station: String) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.versions[station, default: 0] += 1
            return Array((state.waiters.removeValue(forKey: station) ?? [:]).values)
        }
        for continuation in woken {
            continuation.resume()
        }
    }

    /// The number of long-polls currently suspended (for tests and diagnostics).
    public var waitingCount: Int {
        state.withLock { $0.waiters.values.reduce(0) { $0 + $1.count } }
    }

    /// Suspends until the station's version is no longer `version`, `timeout` has passed, the
    /// task is cancelled or a graceful shutdown begins, whichever comes first. Returns at once
    /// when the version has already moved.
    public func wait(for station: String, past version: UInt64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.suspendUntilAdvanced(station, past: version) }
            group.addTask {
                // A cancelled sleep ends the wait just as well as a finished one.
                try? await Task.sleep(for: timeout)
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func suspendUntilAdvanced(_ station: String, past version: UInt64) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationOrGracefulShutdownHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.abandoned.remove(id) != nil || (state.versions[station] ?? 0) != version {
                        return true
                    }
                    state.waiters[station, default: [:]][id] = continuation
                    return false
                }
                if resumeNow {
                    continuation.resume()
                }
            }
        } onCancelOrGracefulShutdown: {
            self.abandon(id, of: station)
        }
        // The handler cannot run any more: forget an abandonment that came after the wake-up.
        state.withLock { _ = $0.abandoned.remove(id) }
    }

    /// Ends one wait early: resumes it when it is registered, or makes it end at once when it
    /// registers later.
    private func abandon(_ id: UInt64, of station: String) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let continuation = state.waiters[station]?.removeValue(forKey: id) {
                if state.waiters[station]?.isEmpty == true {
                    state.waiters[station] = nil
                }
                return continuation
            }
            state.abandoned.insert(id)
            return nil
        }
        continuation?.resume()
    }
}
