import EventStore
import Foundation
import Logging
import ServiceLifecycle
import Uplink
import EventModel

/// Prunes delivered events older than the retention period, once at start and then every
/// `interval`; and every `reportInterval` stores an `events_evicted` event when the size budget
/// dropped undelivered card taps since the last report, and puts alarms the platform rejected
/// more than `rejectedAlarmRetry` ago back in the alarm queue. Undelivered and rejected events
/// are never pruned.
public struct RetentionService<C: Clock>: Service where C.Duration == Duration {
    let store: EventStore
    let retention: Duration
    let interval: Duration
    let reportInterval: Duration
    /// How long an alarm the platform rejected waits before it is sent again (checked every
    /// `reportInterval`).
    let rejectedAlarmRetry: Duration
    let clock: C
    let logger: Logger

    public init(
        store: EventStore, retention: Duration, interval: Duration = .seconds(3600), reportInterval: Duration = .seconds(60),
        rejectedAlarmRetry: Duration = .seconds(300), clock: C, logger: Logger
    ) {
        self.rejectedAlarmRetry = rejectedAlarmRetry
        self.store = store
        self.retention = retention
        self.interval = interval
        self.reportInterval = min(reportInterval, interval)
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        var nextPrune = clock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if clock.now >= nextPrune {
                nextPrune = clock.now.advanced(by: interval)
                do {
                    try await store.prune(deliveredBefore: Date().addingTimeInterval(-retention.seconds))
                } catch {
                    logger.error("pruning delivered events failed; will try again", metadata: ["error": "\(error)"])
                }
            }
            do {
                let requeued = try await store.requeueRejected(
                    lane: .alarm, rejectedBefore: Date().addingTimeInterval(-rejectedAlarmRetry.seconds))
                if !requeued.isEmpty {
                    logger.warning(
                        "sending alarms the platform rejected again: an alarm is never refused for good",
                        metadata: ["event.seqs": "\(requeued)"])
                }
            } catch {
                logger.error("requeueing rejected alarms failed; will try again", metadata: ["error": "\(error)"])
            }
            do {
                try await reportEvictions()
            } catch {
                logger.error("reporting evicted events failed; will try again", metadata: ["error": "\(error)"])
            }
            // Events another process put back in the queue (`station-agent requeue`) ring no
            // bell in this one: look at both lanes once per tick.
            for lane in Lane.allCases { store.doorbell.ring(lane) }
            guard await sleepUnlessShuttingDown(for: reportInterval, on: clock) else { return }
        }
    }

    /// Tells the platform (an `events_evicted` event) how many undelivered taps the size budget
    /// dropped since the last report, and which sequence numbers. Delivered events the budget
    /// dropped early are no loss to the platform: they are counted in the store and logged.
    private func reportEvictions() async throws {
        if let event = try await store.reportEvictedTaps() {
            logger.warning("the storage budget evicted undelivered card taps", metadata: ["store.evicted": "\(event.event.detail ?? "")"])
        }
        let counts = try await store.evictionCounts()
        let logged = Int64(try await store.meta.value("evictions_reported") ?? "0") ?? 0
        guard counts.total > logged else { return }
        try await store.meta.set("evictions_reported", String(counts.total))
        logger.warning(
            "the storage budget evicted events", metadata: ["store.evicted": "\(counts.total - logged)", "store.evicted_taps": "\(counts.undeliveredTaps)"])
    }
}
