import EventModel
import EventStore
import Foundation
import PlatformAPI
import Uplink

/// Every decision of one delivery lane, as a state machine with no I/O: what to read, what to
/// send, which verdicts to commit and when, how long to wait, and when to stop. The forwarder
/// asks ``next(now:shutdown:)`` for an ``Action``, carries it out, and tells the machine what
/// came of it; it decides nothing itself. Time and randomness come in with the events.
///
/// - **Verdicts** come from ``DeliveryPlanner``: a 200 records the answered events, a refused
///   request is split until the poisoned event is alone, anything else backs off.
/// - **Read-ahead** (the normal lane): while batch N is at the platform, the verdicts of batch
///   N-1 are committed and the events after N are read. Those go next only when the platform
///   answered every event of N and nothing failed (``DeliveryPlanner/Action/mayContinue(batchCount:)``);
///   otherwise the lane reads again from the store, so an unanswered event goes again before
///   anything after it. Requests stay one at a time and in order.
/// - **Held-over verdicts**: a store that refuses a commit (its write lock held elsewhere, a
///   full disk, a salvage) keeps the verdicts here; they are committed with the next request,
///   after a ``StoreFailureBackoff`` wait. Events read again meanwhile are sent again and the
///   platform answers `duplicate`. Nothing here ever ends the agent.
/// - **Stop**: cancelled, or a reload (after the request in flight), or at SIGTERM once the
///   queue is empty, the platform fails, or `drainLimit` has passed. A stop carries the verdicts
///   not yet committed, for one last try.
public struct DeliveryLane<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// Where the process is, as the lane sees it each time it asks for its next action.
    public enum Shutdown: Sendable, Hashable {
        case running
        /// SIGTERM: keep sending while the platform answers and the lane has events.
        case draining
        /// A configuration reload: stop after the request in flight; the next generation of
        /// services sends the rest.
        case reloading
        case cancelled
    }

    public enum StopReason: Sendable, Hashable {
        case cancelled
        case reloading
        /// The queue is empty at shutdown.
        case drained
        /// The shutdown drain ran for `drainLimit`; the rest goes after the next start.
        case drainLimitReached
        /// At shutdown, the platform or the store failed: the rest goes after the next start.
        case failingAtShutdown
        /// The store's doorbell for this lane has closed: the store is going away.
        case doorbellClosed
    }

    public enum Pause: Sendable, Hashable {
        /// The platform failed; the retry policy's backoff (honouring `Retry-After`).
        case platform
        /// The store failed; log the failure when it is new.
        case store(StoreFailureBackoff.Failure)
    }

    public enum Action: Sendable, Hashable {
        /// Read up to `limit` queued events of the lane, then call ``read(_:)`` or ``readFailed(_:)``.
        case read(limit: Int)
        /// Send `batch`; meanwhile commit `commitMeanwhile` and, when `readAheadLimit` is set,
        /// read up to that many events after the batch. Then call ``requestEnded(_:previousCommit:following:unit:at:)``.
        case send([StoredEvent], commitMeanwhile: [DeliveryOutcome], readAheadLimit: Int?)
        /// Commit these verdicts, then call ``committed()`` or ``commitFailed(_:)``.
        case commit([DeliveryOutcome])
        /// The queue is empty: wait for the lane's doorbell, then call ``rang()`` (or
        /// ``doorbellClosed()``).
        case waitForEvents
        /// Sleep; call ``interrupted()`` if shutdown cut the sleep short.
        case sleep(Duration, Pause)
        /// The store answers again after `failures` failures in a row: log it.
        case storeAnswersAgain(failures: Int)
        /// Stop the lane, after one last try at committing `commit`.
        case stop(StopReason, commit: [DeliveryOutcome])
    }

    /// What came of a request, for the forwarder's logs, metrics and alarm observer.
    public struct Answer: Sendable {
        public var batch: [StoredEvent]
        /// The verdicts recorded for events of the batch (committed now or with the next request).
        public var outcomes: [DeliveryOutcome]
        /// The request's failure, if it failed (a split for a refused batch included).
        public var failure: UplinkError?
        /// Failures in a row so far.
        public var failures: Int
        /// A change of the platform's fault to log and record for `status`.
        public var fault: PlatformFaultTracker.Action?
    }

    public let lane: Lane
    public let readsAhead: Bool
    public let drainLimit: Duration
    public private(set) var planner: DeliveryPlanner
    public private(set) var faults: PlatformFaultTracker

    /// Verdicts not yet committed.
    public private(set) var pending: [DeliveryOutcome] = []
    private var commitDue = false
    private var readAhead: [StoredEvent] = []
    private var inFlight: [StoredEvent] = []
    private var inFlightCommit: [DeliveryOutcome] = []
    private var pause: (delay: Duration, why: Pause)?
    private var idle = false
    /// A stop the lane learnt of between two actions (the doorbell closed, shutdown cut a sleep).
    private var stopRequested: StopReason?
    private var stopped: StopReason?
    private var storeFailures = StoreFailureBackoff()
    private var recoveredAfter: Int?
    private var drainDeadline: Instant?

    /// - Parameter recordedFault: the lane's fault as an earlier run recorded it, if any.
    public init(
        lane: Lane, policy: RetryPolicy, maximumBatch: Int, readsAhead: Bool, drainLimit: Duration, recordedFault: PlatformFault? = nil
    ) {
        self.lane = lane
        self.readsAhead = readsAhead
        self.drainLimit = drainLimit
        self.planner = DeliveryPlanner(policy: policy, maximumBatch: maximumBatch)
        self.faults = PlatformFaultTracker(lane: lane, recorded: recordedFault)
    }

    /// What to do next, at `now`, in the process's `shutdown` state.
    public mutating func next(now: Instant, shutdown: Shutdown) -> Action {
        if let stopped { return .stop(stopped, commit: []) }
        switch shutdown {
        case .running: break
        case .cancelled: return stop(.cancelled)
        case .reloading: return stop(.reloading)
        case .draining:
            let deadline = drainDeadline ?? now.advanced(by: drainLimit)
            drainDeadline = deadline
            if now >= deadline { return stop(.drainLimitReached) }
        }
        if let stopRequested { return stop(stopRequested) }
        if let failures = recoveredAfter {
            recoveredAfter = nil
            return .storeAnswersAgain(failures: failures)
        }
        if commitDue {
            commitDue = false
            return .commit(pending)
        }
        if let pause {
            self.pause = nil
            if shutdown != .running { return stop(.failingAtShutdown) }
            return .sleep(pause.delay, pause.why)
        }
        if !readAhead.isEmpty {
            let batch = readAhead
            readAhead = []
            inFlight = batch
            inFlightCommit = pending
            pending = []
            return .send(batch, commitMeanwhile: inFlightCommit, readAheadLimit: readsAhead ? planner.batchLimit : nil)
        }
        if idle { return shutdown == .running ? .waitForEvents : stop(.drained) }
        return .read(limit: planner.batchLimit)
    }

    /// The store gave the lane's next queued events (none: the queue is empty).
    public mutating func read(_ batch: [StoredEvent]) {
        if batch.isEmpty {
            idle = true
            if !pending.isEmpty { commitDue = true } else { storeAnswered() }
        } else {
            readAhead = batch
        }
    }

    public mutating func readFailed(_ error: any Error) {
        storeFailed(error, doing: "read the queue")
    }

    /// The lane's doorbell rang: an event was committed in this lane, or shutdown began.
    public mutating func rang() {
        idle = false
    }

    public mutating func doorbellClosed() {
        stopRequested = .doorbellClosed
    }

    /// Shutdown cut a sleep short: the lane stops with what it holds.
    public mutating func interrupted() {
        stopRequested = .failingAtShutdown
    }

    /// The request of the last `.send` ended with `result`; the commit sent along with it ended
    /// with `previousCommit`; `following` are the events read ahead meanwhile. `unit` is a
    /// random number in 0..<1 for the backoff's jitter; `date` the wall-clock time, for a fault.
    public mutating func requestEnded(
        _ result: Result<[String: IngestResult], UplinkError>, previousCommit: Result<Void, any Error>, following: [StoredEvent],
        unit: Double, at date: Date
    ) -> Answer {
        let batch = inFlight
        inFlight = []
        var unmarked: [DeliveryOutcome] = []
        var storeError: (any Error)?
        if case .failure(let error) = previousCommit, !inFlightCommit.isEmpty {
            (unmarked, storeError) = (inFlightCommit, error)
        }
        inFlightCommit = []

        let plan: DeliveryPlanner.Action
        var answer = Answer(batch: batch, outcomes: [], failure: nil, failures: 0, fault: nil)
        switch result {
        case .success(let results):
            plan = planner.answered(results, for: batch, unit: unit)
            if !plan.outcomes.isEmpty { answer.fault = faults.answered() }
        case .failure(let error):
            answer.failure = error
            plan = planner.failed(error, for: batch, unit: unit)
            if case .wait = plan.next { answer.fault = faults.failed(error, at: date) }
        }
        answer.outcomes = plan.outcomes
        answer.failures = planner.failures

        if plan.outcomes.isEmpty {
            pending = unmarked
        } else if unmarked.isEmpty && readsAhead && plan.mayContinue(batchCount: batch.count) && !following.isEmpty {
            // Committed while the next request is in flight.
            pending = plan.outcomes
            readAhead = following
        } else {
            pending = unmarked + plan.outcomes
            commitDue = true
        }
        if case .wait(let delay) = plan.next { pause = (delay, .platform) }
        if let storeError, !commitDue {
            storeFailed(storeError, doing: "record what the platform answered")
        } else if !commitDue {
            storeAnswered()
        }
        return answer
    }

    /// The verdicts of the last `.commit` are in the store.
    public mutating func committed() {
        pending = []
        storeAnswered()
    }

    /// The store refused the last `.commit`: the verdicts are kept and go with the next request,
    /// after a wait that replaces the platform's.
    public mutating func commitFailed(_ error: any Error) {
        storeFailed(error, doing: "record what the platform answered")
        // Read again: the events stay queued until their verdicts are in, so the next request
        // carries the held-over verdicts.
        idle = false
    }

    /// A store failure's wait replaces the platform's, if any.
    private mutating func storeFailed(_ error: any Error, doing: String) {
        let failure = storeFailures.failed(error, doing: doing)
        pause = (failure.delay, .store(failure))
    }

    private mutating func storeAnswered() {
        if let failures = storeFailures.succeeded() { recoveredAfter = failures }
    }

    private mutating func stop(_ reason: StopReason) -> Action {
        stopped = reason
        // Between actions nothing is in flight: what is held is all in `pending`.
        defer { pending = [] }
        return .stop(reason, commit: pending)
    }
}
