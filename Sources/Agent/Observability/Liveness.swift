import EventStore
import Logging
import ServiceLifecycle
import Synchronization

/// Which loops the systemd watchdog waits for, and whether each makes progress: a loop marks
/// itself busy when it starts a step that must end soon (read an input, handle it, store it) and
/// idle when it goes back to waiting (for bytes, for the next poll, in a reopen backoff). A loop
/// busy for longer than the limit is hung. Waiting is never a hang, however long.
public final class Liveness: Sendable {
    private let busySince = Mutex<[String: ContinuousClock.Instant]>([:])
    private let now: @Sendable () -> ContinuousClock.Instant

    public init(now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.now = now
    }

    /// `loop` starts a step.
    public func busy(_ loop: String) {
        let instant = now()
        busySince.withLock { $0[loop] = $0[loop] ?? instant }
    }

    /// `loop` finished its step and waits (or stopped).
    public func idle(_ loop: String) {
        _ = busySince.withLock { $0.removeValue(forKey: loop) }
    }

    /// The loops busy for longer than `limit`, by name.
    public func stalled(limit: Duration) -> [String] {
        let instant = now()
        return busySince.withLock { busy in busy.filter { instant - $0.value > limit }.map(\.key).sorted() }
    }
}

/// Sends systemd's `WATCHDOG=1` (through `ping`) every `interval` only while the agent makes
/// progress: no alarm loop hung in a step for longer than the interval (``Liveness``), and the
/// store's commit path answering an empty write within it. A hung agent then stops pinging and
/// systemd restarts it, where a timer alone would have kept it alive. Before the store is open
/// (a full disk), the commit path is not waited for: the devices are read meanwhile.
public struct WatchdogService<C: Clock>: Service where C.Duration == Duration {
    let interval: Duration
    let liveness: Liveness
    let intake: EventIntake
    let clock: C
    let logger: Logger
    let ping: @Sendable () -> Void

    public init(
        interval: Duration, liveness: Liveness, intake: EventIntake, clock: C, logger: Logger, ping: @escaping @Sendable () -> Void
    ) {
        self.interval = interval
        self.liveness = liveness
        self.intake = intake
        self.clock = clock
        self.logger = logger
        self.ping = ping
    }

    public func run() async throws {
        var withheld = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let stalled = liveness.stalled(limit: interval)
            let committing = await commitPathAnswers()
            if stalled.isEmpty && committing {
                ping()
                if withheld { logger.notice("the agent makes progress again; watchdog pings resume") }
                withheld = false
            } else if !withheld {
                logger.critical(
                    "the agent is not making progress; watchdog pings withheld so that systemd restarts it",
                    metadata: ["stalled": "\(stalled)", "commit_path": "\(committing ? "ok" : "not answering")"])
                withheld = true
            }
            guard await sleepUnlessShuttingDown(for: interval, on: clock) else { return }
        }
    }

    /// Whether the store's writer answers an empty write transaction within the interval.
    private func commitPathAnswers() async -> Bool {
        guard let store = intake.store else { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await store.probeWriter()) != nil }
            group.addTask {
                try? await Task.sleep(for: interval)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
