import EventModel
import EventStore
import PlatformAPI
import Uplink

/// The verdict half of a delivery lane (``DeliveryLane`` holds the rest), as a pure state
/// machine: given what happened to the last request, which verdicts to record and when to send
/// next. No I/O, no clock, so every branch here is tested directly.
///
/// - A 200 records every acknowledged (`accepted` or `duplicate`) and `rejected` event; events
///   the platform left out stay queued. If at least one was answered, the next batch goes at
///   once; if none was, that counts as a failure.
/// - A request the platform refuses as such (400, 413 or 422 in its own `ErrorBody`, see
///   ``UplinkError/isRequestRejected``) is split in half until the event it refuses is alone;
///   that event alone is then recorded as rejected with the platform's reason, so one poisoned
///   event never blocks the lane forever.
/// - Any 413 (a proxy's too) halves a batch of more than one event first.
/// - Anything else (no answer, a redirect, 401/403/404, 429, 5xx, a proxy's page, a bad body,
///   verdicts for events not in the batch) waits with the retry policy's backoff, honouring
///   `Retry-After`, and sends the same events again: nothing is dropped.
public struct DeliveryPlanner: Sendable {
    public enum Next: Sendable, Hashable {
        case sendNow
        case wait(Duration)
    }

    /// What to record and when to send next.
    public struct Action: Sendable, Hashable {
        public var outcomes: [DeliveryOutcome]
        public var next: Next

        public init(outcomes: [DeliveryOutcome], next: Next) {
            self.outcomes = outcomes
            self.next = next
        }

        /// Whether the events read ahead (those after a batch of `batchCount` events, read while
        /// it was in flight) may be sent next, with this batch's verdicts committed meanwhile.
        /// Only when the platform answered every event of the batch and the lane sends at once:
        /// after a failure, a split or a partial answer the lane reads again from the store, so
        /// an unanswered event goes again before anything after it.
        public func mayContinue(batchCount: Int) -> Bool {
            next == .sendNow && batchCount > 0 && outcomes.count == batchCount
        }
    }

    public let policy: RetryPolicy
    public let maximumBatch: Int
    /// How many events the next request may carry.
    public private(set) var batchLimit: Int
    /// Failures in a row (0 after any answered request).
    public private(set) var failures = 0

    public init(policy: RetryPolicy, maximumBatch: Int) {
        self.policy = policy
        self.maximumBatch = max(1, maximumBatch)
        self.batchLimit = max(1, maximumBatch)
    }

    /// The platform answered 200 with `results` (keyed by event id) for `batch`.
    public mutating func answered(_ results: [String: IngestResult], for batch: [StoredEvent], unit: Double) -> Action {
        var outcomes: [DeliveryOutcome] = []
        outcomes.reserveCapacity(batch.count)
        for event in batch {
            guard let result = results[event.id] else { continue }
            switch result.status {
            case .accepted: outcomes.append(DeliveryOutcome(seq: event.seq, status: .accepted))
            case .duplicate: outcomes.append(DeliveryOutcome(seq: event.seq, status: .duplicate))
            case .rejected: outcomes.append(DeliveryOutcome(seq: event.seq, status: .rejected, reason: result.reason))
            }
        }
        if outcomes.isEmpty && !batch.isEmpty {
            failures += 1
            return Action(outcomes: [], next: .wait(policy.delay(afterFailures: failures, unit: unit)))
        }
        failures = 0
        batchLimit = min(maximumBatch, batchLimit * 2)
        return Action(outcomes: outcomes, next: .sendNow)
    }

    /// The request for `batch` failed with `error`.
    public mutating func failed(_ error: UplinkError, for batch: [StoredEvent], unit: Double) -> Action {
        // Too large for the platform or a proxy: a smaller batch may pass; nothing is refused.
        if error.isTooLarge && batch.count > 1 {
            batchLimit = max(1, batch.count / 2)
            return Action(outcomes: [], next: .sendNow)
        }
        if error.isRequestRejected {
            if batch.count > 1 {
                batchLimit = max(1, batch.count / 2)
                return Action(outcomes: [], next: .sendNow)
            }
            if let only = batch.first {
                failures = 0
                return Action(
                    outcomes: [DeliveryOutcome(seq: only.seq, status: .rejected, reason: error.message)], next: .sendNow)
            }
        }
        failures += 1
        return Action(
            outcomes: [], next: .wait(policy.delay(afterFailures: failures, retryAfter: error.retryAfter, unit: unit)))
    }
}
