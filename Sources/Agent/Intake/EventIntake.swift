import EventModel
import EventStore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import Uplink

/// The one path by which every device's events reach the store: card readers, OSDP readers and
/// inputs, dry-contact buttons, the alarm box, and the devices still to come.
///
/// A write the store refuses (a full disk, a store being salvaged) is held in memory
/// (``HeldWrites``: alarms first and never dropped, taps and device states bounded) and retried
/// by ``IntakeRetryService`` until the store takes it; it never ends a device's service or the
/// process. While anything is held, new writes queue behind it, so what a device reported is
/// stored in the order it happened (alarms first). One instance per process: held writes
/// survive a configuration reload.
///
/// The intake exists before the store does: the agent starts its devices first, so a press
/// while the store is being opened, checked or salvaged, or while the disk is too full to open
/// it, is read and held, and stored (with the time it happened) once the store is attached.
public final class EventIntake: Sendable {
    /// One write a device wants made durable.
    public struct Write: Sendable {
        /// For logs: "card tap from reader-1".
        public var what: String
        public var alarmLane: Bool
        public var perform: @Sendable (EventStore) async throws -> Void

        public init(what: String, alarmLane: Bool, perform: @escaping @Sendable (EventStore) async throws -> Void) {
            self.what = what
            self.alarmLane = alarmLane
            self.perform = perform
        }
    }

    private let attached: Mutex<EventStore?>
    /// Device states reported before the store was open, the latest per device.
    private let unrecordedStates = Mutex<[String: (state: DeviceState, detail: String)]>([:])
    private let logger: Logger
    private let held: Mutex<HeldWrites<Write>>
    /// Rings the running ``IntakeRetryService`` when something is held.
    private let bell = Mutex<AsyncStream<Void>.Continuation?>(nil)
    /// Only one retry pass at a time (a reload may overlap two services for a moment).
    private let retrying = Mutex(false)
    private let heldGauge = Gauge(label: "station_events_held")
    private let droppedCounter = Counter(label: "station_events_held_dropped_total")

    /// - Parameters:
    ///   - store: the store, or nil while it is not open yet (``attach(_:)`` brings it).
    ///   - limit: how many non-alarm writes may be held; past it the oldest is dropped.
    public init(store: EventStore?, limit: Int = 10_000, logger: Logger) {
        self.attached = Mutex(store)
        self.held = Mutex(HeldWrites(limit: limit))
        var logger = logger
        logger[metadataKey: "component"] = "intake"
        self.logger = logger
    }

    /// The store, once it is open.
    public var store: EventStore? { attached.withLock { $0 } }

    /// The store is open: writes go to it from now on, held ones first (the retry service
    /// stores them, rung here), and each device's last state is written for `status`.
    public func attach(_ store: EventStore) async {
        attached.withLock { $0 = store }
        _ = bell.withLock { $0?.yield() }
        let states = unrecordedStates.withLock { states in
            defer { states = [:] }
            return states
        }
        for (name, state) in states.sorted(by: { $0.key < $1.key }) {
            await recordDeviceState(name, state: state.state, detail: state.detail)
        }
    }

    /// A device's state for `status` and the heartbeat: written now, or, before the store is
    /// open, when it opens (the latest per device). Best effort: it is not an event, and the
    /// device's next change writes it again.
    public func recordDeviceState(_ name: String, state: DeviceState, detail: String) async {
        guard let store else {
            unrecordedStates.withLock { $0[name] = (state, detail) }
            return
        }
        do {
            try await store.deviceStates.set(name, state: state, detail: detail)
        } catch {
            logger.warning("cannot record a device's state for `status`", metadata: ["device": "\(name)", "error": "\(error)"])
        }
    }

    /// Writes held in memory now.
    public var heldCount: Int { held.withLock { $0.count } }
    /// Non-alarm writes dropped because the bound was reached, since the start.
    public var droppedCount: Int { held.withLock { $0.droppedCount } }

    /// Makes `write` durable now, or holds it when the store refuses it or earlier writes are
    /// still held. Returns whether it is durable now.
    @discardableResult
    public func submit(_ write: Write) async -> Bool {
        if held.withLock({ $0.isEmpty }), let store {
            do {
                try await write.perform(store)
                return true
            } catch {
                logger.error(
                    "cannot store \(write.what); holding it in memory and retrying",
                    metadata: ["error": "\(error)", "alarm_lane": "\(write.alarmLane)"])
            }
        }
        let (action, count) = held.withLock { held in (held.hold(write, alarmLane: write.alarmLane), held.count) }
        heldGauge.record(count)
        if action == .heldDroppingOldest {
            droppedCounter.increment()
            logger.error(
                "too many events held in memory while the store refuses writes; dropped the oldest non-alarm one",
                metadata: ["held": "\(count)"])
        }
        _ = bell.withLock { $0?.yield() }
        return false
    }

    /// Appends `event` through the intake: the stored event, or nil when it is held (it is
    /// stored later, in order).
    @discardableResult
    public func append(_ event: NewEvent) async -> StoredEvent? {
        let result = StoredBox()
        let now = await submit(
            Write(what: "\(event.kind.rawValue) from \(event.device)", alarmLane: event.lane == .alarm) { store in
                result.set(try await store.append(event))
            })
        return now ? result.value : nil
    }

    /// Stores held writes in order until one fails. Returns whether nothing is held any more.
    public func retryHeld() async -> Bool {
        guard retrying.withLock({ busy in
            defer { busy = true }
            return !busy
        }) else { return false }
        defer { retrying.withLock { $0 = false } }
        guard let store else { return false }
        while let entry = held.withLock({ $0.next }) {
            do {
                try await entry.write.perform(store)
            } catch {
                logger.debug("held writes still refused", metadata: ["error": "\(error)", "held": "\(heldCount)"])
                return false
            }
            let left = held.withLock { held in
                held.removeStored(entry.number)
                return held.count
            }
            heldGauge.record(left)
            logger.notice("held \(entry.write.what) stored", metadata: ["held": "\(left)"])
        }
        return true
    }

    func setBell(_ continuation: AsyncStream<Void>.Continuation?) {
        bell.withLock { $0 = continuation }
        if continuation != nil && heldCount > 0 { continuation?.yield() }
    }
}

/// The result of a write made inside a `@Sendable` closure.
final class StoredBox: Sendable {
    private let stored = Mutex<StoredEvent?>(nil)
    func set(_ event: StoredEvent) { stored.withLock { $0 = event } }
    var value: StoredEvent? { stored.withLock { $0 } }
}

/// Retries the intake's held writes with backoff until the store takes them. Runs first in each
/// generation's group, so it stops last: after the devices, with one last attempt; what is still
/// held stays in memory for the next generation (a reload), or is logged as lost at exit.
public struct IntakeRetryService<C: Clock>: Service where C.Duration == Duration {
    let intake: EventIntake
    let clock: C
    let policy: RetryPolicy
    let logger: Logger

    public init(
        intake: EventIntake, clock: C, policy: RetryPolicy = RetryPolicy(initial: .milliseconds(100), maximum: .seconds(5)),
        logger: Logger
    ) {
        self.intake = intake
        self.clock = clock
        self.policy = policy
        self.logger = logger
    }

    public func run() async throws {
        let (rings, bell) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        intake.setBell(bell)
        defer { intake.setBell(nil) }
        var iterator = rings.makeAsyncIterator()
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if intake.heldCount == 0 {
                let rang: Void? = await withGracefulShutdownHandler {
                    await iterator.next()
                } onGracefulShutdown: {
                    bell.yield()
                }
                if rang == nil { break }
                continue
            }
            if await intake.retryHeld() {
                failures = 0
                continue
            }
            failures += 1
            guard await sleepUnlessShuttingDown(for: policy.delay(afterFailures: failures, unit: 0.5), on: clock) else { break }
        }
        if !(await intake.retryHeld()) && intake.heldCount > 0 {
            logger.error(
                "events held in memory are not stored yet; they are kept for the next configuration, and lost if the agent exits now",
                metadata: ["held": "\(intake.heldCount)"])
        }
    }
}
