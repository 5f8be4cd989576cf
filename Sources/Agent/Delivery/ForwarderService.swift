import EventModel
import EventStore
import Foundation
import Logging
import Metrics
import PlatformAPI
import ServiceLifecycle
import Uplink

/// Delivers stored events to the platform, one lane per task: the alarm lane and the normal lane
/// each have their own loop and their own request in flight, so an alarm never waits behind a
/// batch of taps, a tap backlog, or the other lane's backoff.
///
/// On graceful shutdown each lane finishes the request in flight, keeps sending while the
/// platform answers and the lane has events, and stops at the first failure, when empty, or
/// when `drainLimit` has passed (shorter than the unit's `TimeoutStopSec=30s`, so systemd never
/// has to kill a draining agent); whatever is left stays in the store for the next start.
public struct ForwarderService<C: Clock>: Service where C.Duration == Duration {
    public struct LaneSettings: Sendable {
        public var policy: RetryPolicy
        public var batchSize: Int

        public init(policy: RetryPolicy, batchSize: Int) {
            self.policy = policy
            self.batchSize = batchSize
        }
    }

    let store: EventStore
    let uplink: any EventUplink
    let lanes: [Lane: LaneSettings]
    let clock: C
    let logger: Logger
    let observer: (any DeliveryObserver)?
    /// Asked when graceful shutdown begins: true (SIGTERM) keeps sending while the platform
    /// answers; false (a configuration reload) stops after the request in flight, leaving the
    /// rest queued for the next generation of services.
    let drainOnShutdown: @Sendable () -> Bool
    /// How long a lane keeps sending after graceful shutdown began (with a request in flight at
    /// the end bounded by its own deadline, `timeout_ms`).
    let drainLimit: Duration

    public init(
        store: EventStore, uplink: any EventUplink, lanes: [Lane: LaneSettings], clock: C, logger: Logger,
        observer: (any DeliveryObserver)? = nil, drainOnShutdown: @escaping @Sendable () -> Bool = { true },
        drainLimit: Duration = .seconds(20)
    ) {
        self.drainLimit = drainLimit
        self.store = store
        self.uplink = uplink
        self.lanes = lanes
        self.clock = clock
        self.logger = logger
        self.observer = observer
        self.drainOnShutdown = drainOnShutdown
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (lane, settings) in lanes {
                group.addTask { try await runLane(lane, settings: settings) }
            }
            try await group.waitForAll()
        }
    }

    /// Carries out one lane's ``DeliveryLane`` actions until it says stop.
    private func runLane(_ lane: Lane, settings: LaneSettings) async throws {
        // A fault the last run recorded stays until the platform answers this run: a restart
        // while the platform fails keeps its `since`, and one after it recovered clears it.
        var machine = DeliveryLane<C.Instant>(
            lane: lane, policy: settings.policy, maximumBatch: settings.batchSize, readsAhead: lane == .normal,
            drainLimit: drainLimit, recordedFault: try? await PlatformFault.read(lane, from: store))
        var rings = store.doorbell.rings(of: lane).makeAsyncIterator()
        let doorbell = store.doorbell
        var logger = self.logger
        logger[metadataKey: "lane"] = "\(lane.rawValue)"
        let metrics = LaneMetrics(lane: lane)

        while true {
            switch machine.next(now: clock.now, shutdown: shutdownState()) {
            case .read(let limit):
                do {
                    machine.read(try await store.nextBatch(lane: lane, limit: limit))
                } catch {
                    machine.readFailed(error)
                }

            case .send(let batch, let commit, let readAheadLimit):
                // The alarm's "sent" stage is a commit of its own: record it while the request
                // is in flight instead of before it, and always before the answer is recorded.
                async let announced: Void = announceSending(batch, lane: lane)
                async let committed = commitResult(commit)
                async let following: [StoredEvent] =
                    if let readAheadLimit {
                        store.nextBatch(lane: lane, limit: readAheadLimit, afterSeq: batch[batch.count - 1].seq)
                    } else {
                        []
                    }
                let result: Result<[String: IngestResult], UplinkError>
                do {
                    result = .success(try await uplink.send(batch))
                } catch {
                    result = .failure(error)
                }
                await announced
                let answer = machine.requestEnded(
                    result, previousCommit: await committed, following: (try? await following) ?? [],
                    unit: Double.random(in: 0..<1), at: Date())
                await report(answer, lane: lane, metrics: metrics, logger: logger)

            case .commit(let outcomes):
                do {
                    try await store.markDelivered(outcomes)
                    machine.committed()
                } catch {
                    machine.commitFailed(error)
                }

            case .waitForEvents:
                // Sleep until an event is committed in this lane, or shutdown rings us awake.
                let rang: Void? = await withGracefulShutdownHandler {
                    await rings.next()
                } onGracefulShutdown: {
                    doorbell.ring(lane)
                }
                if rang == nil { machine.doorbellClosed() } else { machine.rang() }

            case .sleep(let delay, let pause):
                if case .store(let failure) = pause { logger.storeFailed(failure) }
                if !(await sleepUnlessShuttingDown(for: delay, on: clock)) { machine.interrupted() }

            case .storeAnswersAgain(let failures):
                logger.storeAnswersAgain(after: failures)

            case .stop(let reason, let commit):
                switch reason {
                case .drainLimitReached:
                    logger.warning(
                        "the shutdown drain reached its time limit; what is left is sent after the next start",
                        metadata: ["drain.limit": "\(drainLimit)"])
                case .failingAtShutdown:
                    logger.info("stopping delivery with events still queued; they are sent after the next start")
                case .cancelled, .reloading, .drained, .doorbellClosed:
                    break
                }
                // One last try; if it fails too, the events are sent again after the next start
                // and the platform answers `duplicate`.
                if !commit.isEmpty { try? await store.markDelivered(commit) }
                return
            }
        }
    }

    private func shutdownState() -> DeliveryLane<C.Instant>.Shutdown {
        if Task.isCancelled { return .cancelled }
        if Task.isShuttingDownGracefully { return drainOnShutdown() ? .draining : .reloading }
        return .running
    }

    private func commitResult(_ outcomes: [DeliveryOutcome]) async -> Result<Void, any Error> {
        do {
            try await store.markDelivered(outcomes)
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// Logs, counts and tells the alarm observer what came of a request.
    private func report(_ answer: DeliveryLane<C.Instant>.Answer, lane: Lane, metrics: LaneMetrics, logger: Logger) async {
        if let failure = answer.failure {
            metrics.failedRequests.increment()
            if answer.fault == nil {
                logger.debug(
                    "delivery failed; events stay queued",
                    metadata: [
                        "uplink.error": "\(failure.message)", "uplink.failures": "\(answer.failures)",
                        "batch.size": "\(answer.batch.count)",
                    ])
            }
        }
        if let fault = answer.fault { await record(fault, lane: lane, logger: logger) }
        guard !answer.outcomes.isEmpty else { return }
        let batch = answer.batch
        if lane == .alarm, let observer {
            let acknowledged = Set(answer.outcomes.filter { $0.status != .rejected }.map(\.seq))
            await observer.acknowledged(batch.filter { acknowledged.contains($0.seq) })
            let refused = Set(answer.outcomes.filter { $0.status == .rejected }.map(\.seq))
            if !refused.isEmpty { await observer.refused(batch.filter { refused.contains($0.seq) }) }
        }
        let now = Date()
        DeliveryMetrics.record(answer.outcomes, batch: batch)
        for outcome in answer.outcomes {
            if outcome.status == .rejected {
                metrics.rejected.increment()
                logger.error(
                    "platform rejected an event; it is kept (`station-agent rejected`) and not sent again unless requeued (alarms: every 5 min)",
                    metadata: ["event.seq": "\(outcome.seq)", "reason": "\(outcome.reason ?? "none given")"])
            } else {
                metrics.delivered.increment()
            }
        }
        for event in batch {
            metrics.latency.recordNanoseconds(Int64(max(0, now.timeIntervalSince(event.storedAt)) * 1e9))
        }
        logger.debug(
            "batch delivered",
            metadata: ["batch.size": "\(batch.count)", "batch.acknowledged": "\(answer.outcomes.count)",
                       "batch.last_seq": "\(batch.last?.seq ?? 0)"])
    }

    /// Logs a change of the platform's fault once and records it for `status` and `doctor`.
    private func record(_ action: PlatformFaultTracker.Action, lane: Lane, logger: Logger) async {
        let recorded: PlatformFault?
        switch action {
        case .record(let fault):
            logger.warning(
                "delivery failed; events stay queued and are sent again with backoff: platform \(fault.summary)",
                metadata: ["uplink.error": "\(fault.message)"])
            recorded = fault
        case .clear(let fault):
            logger.notice(
                "platform answers again",
                metadata: ["uplink.fault": "\(fault.summary)", "uplink.fault_seconds": "\(Int(Date().timeIntervalSince(fault.since)))"])
            recorded = nil
        }
        do {
            try await store.recordPlatformFault(recorded, lane: lane)
        } catch {
            logger.error("cannot record the platform's state for `status`", metadata: ["error": "\(error)"])
        }
    }

    private func announceSending(_ batch: [StoredEvent], lane: Lane) async {
        if lane == .alarm { await observer?.sending(batch) }
    }
}

/// A lane's counters, made once per lane.
private struct LaneMetrics {
    let delivered: Counter
    let rejected: Counter
    let failedRequests: Counter
    let latency: Metrics.Timer

    init(lane: Lane) {
        delivered = Counter(label: "station_events_delivered_total", dimensions: [("lane", lane.rawValue)])
        rejected = Counter(label: "station_events_rejected_total", dimensions: [("lane", lane.rawValue)])
        failedRequests = Counter(label: "station_uplink_failures_total", dimensions: [("lane", lane.rawValue)])
        latency = Metrics.Timer(label: "station_delivery_latency_seconds", dimensions: [("lane", lane.rawValue)])
    }
}
