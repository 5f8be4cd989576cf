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
    let sender: any EventSender
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
        store: EventStore, sender: any EventSender, lanes: [Lane: LaneSettings], clock: C, logger: Logger,
        observer: (any DeliveryObserver)? = nil, drainOnShutdown: @escaping @Sendable () -> Bool = { true },
        drainLimit: Duration = .seconds(20)
    ) {
        self.drainLimit = drainLimit
        self.store = store
        self.sender = sender
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

    private func runLane(_ lane: Lane, settings: LaneSettings) async throws {
        var planner = DeliveryPlanner(policy: settings.policy, maximumBatch: settings.batchSize)
        var rings = store.doorbell.rings(of: lane).makeAsyncIterator()
        let doorbell = store.doorbell
        let delivered = Counter(label: "station_events_delivered_total", dimensions: [("lane", lane.rawValue)])
        let rejected = Counter(label: "station_events_rejected_total", dimensions: [("lane", lane.rawValue)])
        let failedRequests = Counter(label: "station_uplink_failures_total", dimensions: [("lane", lane.rawValue)])
        let latency = Metrics.Timer(label: "station_delivery_latency_seconds", dimensions: [("lane", lane.rawValue)])
        var logger = self.logger
        logger[metadataKey: "lane"] = "\(lane.rawValue)"
        var faults = PlatformFaultTracker(lane: lane)
        // The normal lane overlaps its local work with the request in flight: while batch N is
        // at the platform, the verdicts of batch N-1 are committed and the events after N are
        // read. Requests stay one at a time and in order; see `DeliveryPlanner.mayContinue`.
        let pipelined = lane == .normal
        var readAhead: [StoredEvent] = []
        var deferredOutcomes: [DeliveryOutcome] = []
        // The store can refuse for a while (its write lock held elsewhere, a full disk, a
        // salvage): the lane backs off and tries again; it never ends the agent over it. Verdicts
        // not committed are kept and committed with the next ones; events read again meanwhile
        // are sent again and the platform answers `duplicate`.
        var storeFailures = StoreFailures(logger: logger)

        var drainDeadline: C.Instant?
        while !Task.isCancelled {
            if Task.isShuttingDownGracefully {
                // A reload stops after the request in flight; the loop's end commits its verdicts.
                if !drainOnShutdown() { break }
                let deadline = drainDeadline ?? clock.now.advanced(by: drainLimit)
                drainDeadline = deadline
                if clock.now >= deadline {
                    logger.warning(
                        "the shutdown drain reached its time limit; what is left is sent after the next start",
                        metadata: ["drain.limit": "\(drainLimit)"])
                    break
                }
            }
            let batch: [StoredEvent]
            if readAhead.isEmpty {
                do {
                    batch = try await store.nextBatch(lane: lane, limit: planner.batchLimit)
                } catch {
                    if Task.isCancelled { break }
                    guard await storeFailures.wait(after: error, doing: "read the queue", on: clock) else { break }
                    continue
                }
            } else {
                batch = readAhead
                readAhead = []
            }
            if batch.isEmpty {
                if Task.isShuttingDownGracefully { return }
                // Sleep until an event is committed in this lane, or shutdown rings us awake.
                let rang = await withGracefulShutdownHandler {
                    await rings.next()
                } onGracefulShutdown: {
                    doorbell.ring(lane)
                }
                if rang == nil { return }
                continue
            }

            let decision: DeliveryPlanner.Decision
            // The alarm's "sent" stage is a commit of its own: record it while the request is in
            // flight instead of before it, and always before the platform's answer is recorded.
            async let announced: Void = announceSending(batch, lane: lane)
            let marking = deferredOutcomes
            deferredOutcomes = []
            async let previousMarked: Void = store.markDelivered(marking)
            let aheadLimit = planner.batchLimit
            let lastSeq = batch[batch.count - 1].seq
            async let following: [StoredEvent] =
                pipelined ? store.nextBatch(lane: lane, limit: aheadLimit, afterSeq: lastSeq) : []
            do {
                let results = try await sender.send(batch)
                decision = planner.answered(results, for: batch, unit: Double.random(in: 0..<1))
                if !decision.outcomes.isEmpty, let action = faults.answered() {
                    await record(action, lane: lane, logger: logger)
                }
            } catch {
                failedRequests.increment()
                decision = planner.failed(error, for: batch, unit: Double.random(in: 0..<1))
                if case .wait = decision.next, let action = faults.failed(error, at: Date()) {
                    await record(action, lane: lane, logger: logger)
                } else {
                    logger.debug(
                        "delivery failed; events stay queued",
                        metadata: [
                            "uplink.error": "\(error.message)", "uplink.failures": "\(planner.failures)",
                            "batch.size": "\(batch.count)",
                        ])
                }
            }

            await announced
            var unmarked: [DeliveryOutcome] = []
            var storeError: (any Error)?
            do {
                try await previousMarked
            } catch {
                (unmarked, storeError) = (marking, error)
            }
            let next = (try? await following) ?? []
            if !decision.outcomes.isEmpty {
                if unmarked.isEmpty && pipelined && DeliveryPlanner.mayContinue(after: decision, batchCount: batch.count) && !next.isEmpty {
                    // Committed while the next request is in flight.
                    deferredOutcomes = decision.outcomes
                    readAhead = next
                } else {
                    do {
                        try await store.markDelivered(unmarked + decision.outcomes)
                        unmarked = []
                    } catch {
                        unmarked += decision.outcomes
                        storeError = error
                    }
                }
                if lane == .alarm, let observer {
                    let acknowledged = Set(decision.outcomes.filter { $0.status != .rejected }.map(\.seq))
                    await observer.acknowledged(batch.filter { acknowledged.contains($0.seq) })
                    let refused = Set(decision.outcomes.filter { $0.status == .rejected }.map(\.seq))
                    if !refused.isEmpty { await observer.refused(batch.filter { refused.contains($0.seq) }) }
                }
                let now = Date()
                DeliveryMetrics.record(decision.outcomes, batch: batch)
                for outcome in decision.outcomes {
                    if outcome.status == .rejected {
                        rejected.increment()
                        logger.error(
                            "platform rejected an event; it is kept (`station-agent rejected`) and not sent again unless requeued (alarms: every 5 min)",
                            metadata: ["event.seq": "\(outcome.seq)", "reason": "\(outcome.reason ?? "none given")"])
                    } else {
                        delivered.increment()
                    }
                }
                for event in batch {
                    latency.recordNanoseconds(Int64(max(0, now.timeIntervalSince(event.storedAt)) * 1e9))
                }
                logger.debug(
                    "batch delivered",
                    metadata: ["batch.size": "\(batch.count)", "batch.acknowledged": "\(decision.outcomes.count)",
                               "batch.last_seq": "\(batch.last?.seq ?? 0)"])
            }

            if let storeError, !unmarked.isEmpty {
                deferredOutcomes = unmarked + deferredOutcomes
                if Task.isCancelled { break }
                guard await storeFailures.wait(after: storeError, doing: "record what the platform answered", on: clock) else { break }
                continue
            }
            storeFailures.succeeded()

            switch decision.next {
            case .sendNow:
                continue
            case .wait(let delay):
                if Task.isShuttingDownGracefully {
                    logger.info("stopping delivery with events still queued; they are sent after the next start")
                    return
                }
                guard await sleepUnlessShuttingDown(for: delay, on: clock) else { return }
            }
        }
        // Cancelled with verdicts not yet committed: try once; if that fails too, the events
        // are sent again after the next start and the platform answers `duplicate`.
        if !deferredOutcomes.isEmpty {
            try? await store.markDelivered(deferredOutcomes)
        }
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
