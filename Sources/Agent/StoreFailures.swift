import Logging

/// A loop's run of store failures (its write lock held elsewhere, a full disk, a salvage under
/// way), as a value with no I/O: how long to wait before the next try (250 ms doubling to 10 s),
/// whether this error is new enough to log, and how many failures ended when the store answers
/// again. The loops that use it (the forwarder's lanes, the DC-09 lane) wait the store out
/// instead of ending the agent over it.
public struct StoreFailureBackoff: Sendable, Hashable {
    /// One failure, as the loop should report it.
    public struct Failure: Sendable, Hashable {
        /// What the loop was doing, after "cannot": "read the queue".
        public var doing: String
        public var message: String
        /// Failures in a row, this one included.
        public var count: Int
        /// Whether to log it: the first failure, or another error than the one before.
        public var isNew: Bool
        public var delay: Duration
    }

    private var count = 0
    private var lastMessage = ""

    public init() {}

    public mutating func failed(_ error: any Error, doing: String) -> Failure {
        count += 1
        let message = "\(error)"
        let isNew = message != lastMessage
        lastMessage = message
        return Failure(
            doing: doing, message: message, count: count, isNew: isNew,
            delay: .milliseconds(min(10_000, 250 << min(count - 1, 6))))
    }

    /// The store answered. Returns how many failures in a row that ended, if any, to log once.
    public mutating func succeeded() -> Int? {
        defer { (count, lastMessage) = (0, "") }
        return count > 0 ? count : nil
    }
}

extension Logger {
    /// The one line for a store failure (logged only when it is new: see ``StoreFailureBackoff``).
    func storeFailed(_ failure: StoreFailureBackoff.Failure) {
        guard failure.isNew else { return }
        error(
            "cannot \(failure.doing) in the event store; trying again until it answers",
            metadata: ["error": "\(failure.message)", "store.failures": "\(failure.count)"])
    }

    func storeAnswersAgain(after failures: Int) {
        notice("the event store answers again", metadata: ["store.failures": "\(failures)"])
    }
}

/// ``StoreFailureBackoff`` for a loop that waits on a clock itself (the DC-09 lane).
struct StoreFailures {
    let logger: Logger
    private var backoff = StoreFailureBackoff()

    init(logger: Logger) { self.logger = logger }

    /// Logs `error` (once per different one) and waits; false when shutdown came first.
    mutating func wait<C: Clock>(after error: any Error, doing what: String, on clock: C) async -> Bool where C.Duration == Duration {
        let failure = backoff.failed(error, doing: what)
        logger.storeFailed(failure)
        return await sleepUnlessShuttingDown(for: failure.delay, on: clock)
    }

    /// The store answered: the next failure is logged again.
    mutating func succeeded() {
        if let failures = backoff.succeeded() { logger.storeAnswersAgain(after: failures) }
    }
}
