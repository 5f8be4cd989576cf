import Logging

/// A loop's run of store failures (its write lock held elsewhere, a full disk, a salvage under
/// way): logged once per different error, with backoff between tries (250 ms doubling to 10 s),
/// and a line when the store answers again. The loops that use it (the forwarder's lanes, the
/// DC-09 lane) wait the store out instead of ending the agent over it.
struct StoreFailures {
    let logger: Logger
    private var count = 0
    private var lastMessage = ""

    init(logger: Logger) { self.logger = logger }

    /// Logs `error` (once per different one) and waits; false when shutdown came first.
    mutating func wait<C: Clock>(after error: any Error, doing what: String, on clock: C) async -> Bool where C.Duration == Duration {
        count += 1
        let message = "\(error)"
        if message != lastMessage {
            logger.error(
                "cannot \(what) in the event store; trying again until it answers",
                metadata: ["error": "\(message)", "store.failures": "\(count)"])
            lastMessage = message
        }
        let delay = Duration.milliseconds(min(10_000, 250 << min(count - 1, 6)))
        return await sleepUnlessShuttingDown(for: delay, on: clock)
    }

    /// The store answered: the next failure is logged again.
    mutating func succeeded() {
        if count > 0 { logger.notice("the event store answers again", metadata: ["store.failures": "\(count)"]) }
        count = 0
        lastMessage = ""
    }
}
