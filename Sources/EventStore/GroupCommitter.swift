import EventModel
import Synchronization

/// Group commit without a background task: the first caller to find no commit in flight becomes
/// the *leader* and commits its own events together with everything queued by then, in one
/// transaction (one sync). Callers that arrive while a commit is in flight queue up; when the
/// leader's commit is done it resumes them with their results and hands leadership to the first
/// caller still queued, which commits the next group. Each caller's own task does its own
/// group's I/O, so cancellation and shutdown need no extra plumbing.
///
/// The effect: under load, the number of syncs per second stays about constant while the number
/// of events per sync grows, instead of one sync per event.
final class GroupCommitter: Sendable {
    typealias Commit = @Sendable ([NewEvent]) async throws -> [StoredEvent]

    private enum Turn: Sendable {
        case lead
        case done([StoredEvent])
    }

    private struct Waiter: Sendable {
        var events: [NewEvent]
        var continuation: CheckedContinuation<Turn, any Error>
    }

    private struct State: Sendable {
        var committing = false
        var queue: [Waiter] = []
    }

    private let state = Mutex(State())
    private let commit: Commit

    init(commit: @escaping Commit) {
        self.commit = commit
    }

    /// Commits `events` (possibly sharing the commit with others) and returns them as stored,
    /// in the same order.
    func submit(_ events: [NewEvent]) async throws -> [StoredEvent] {
        let turn = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Turn, any Error>) in
            let leadNow = state.withLock { state -> Bool in
                if state.committing {
                    state.queue.append(Waiter(events: events, continuation: continuation))
                    return false
                }
                state.committing = true
                return true
            }
            if leadNow { continuation.resume(returning: .lead) }
        }
        switch turn {
        case .done(let stored):
            return stored
        case .lead:
            return try await lead(with: events)
        }
    }

    private func lead(with own: [NewEvent]) async throws -> [StoredEvent] {
        let followers = state.withLock { state -> [Waiter] in
            let queued = state.queue
            state.queue.removeAll(keepingCapacity: true)
            return queued
        }
        var all = own
        for follower in followers { all.append(contentsOf: follower.events) }

        let outcome: Result<[StoredEvent], any Error>
        do {
            outcome = .success(try await commit(all))
        } catch {
            outcome = .failure(error)
        }

        // Resume the followers that shared this commit.
        var offset = own.count
        for follower in followers {
            switch outcome {
            case .success(let stored):
                follower.continuation.resume(returning: .done(Array(stored[offset..<offset + follower.events.count])))
            case .failure(let error):
                follower.continuation.resume(throwing: error)
            }
            offset += follower.events.count
        }

        // Hand the lead to the next caller in line, if any.
        let next = state.withLock { state -> Waiter? in
            if state.queue.isEmpty {
                state.committing = false
                return nil
            }
            return state.queue.removeFirst()
        }
        next?.continuation.resume(returning: .lead)

        return try Array(outcome.get()[0..<own.count])
    }
}
