import CSerialShim
import EventModel
import EventStore
import Foundation
import Logging
import ServiceLifecycle

/// Where the agent reads the kiosk's clocks. The live source reads the wall clock, the
/// monotonic clock and the kernel's synchronisation state; tests inject their own.
public protocol ClockSource: Sendable {
    /// Both clocks, read back to back.
    func sample() -> ClockSample
    /// Whether the wall clock is synchronised (NTP); nil when it cannot be told.
    func isSynchronized() -> Bool?
}

/// The kiosk's real clocks: `Date()`, `CLOCK_MONOTONIC`, and `adjtimex(2)` (read only).
public struct SystemClockSource: ClockSource {
    public init() {}

    public func sample() -> ClockSample {
        let monotonic = MonotonicTime.nowNanos()
        let wall = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        return ClockSample(wallMs: wall, monotonicNanos: monotonic)
    }

    public func isSynchronized() -> Bool? {
        var status: Int32 = 0
        var state: Int32 = 0
        guard cserial_clock_state(&status, &state) == 0 else { return nil }
        return ClockStatus.isSynchronized(
            status: status, state: state, staUnsync: cserial_sta_unsync(), timeError: cserial_time_error())
    }
}

/// Watches the wall clock against the monotonic clock every `interval` (see
/// ``ClockJumpDetector``). Keeps the store's "clock synchronised" stamp current, and when the
/// wall clock jumps by more than `thresholdMs` has the store correct the undelivered events of
/// this boot stamped before the jump and report the jump as a `clock_jump` event
/// (``EventStore/applyClockJump(_:occurredAt:monotonicNanos:)``). The offset is kept in the
/// store per boot, so a jump while the agent was down is found at its next start.
public struct ClockWatchService<C: Clock>: Service where C.Duration == Duration {
    let store: EventStore
    let source: any ClockSource
    let interval: Duration
    let thresholdMs: Int64
    let clock: C
    let logger: Logger

    /// The stored reference is rewritten when the offset has drifted this far from it (slewing).
    static var referenceDriftMs: Int64 { 250 }

    public init(
        store: EventStore, source: any ClockSource = SystemClockSource(), interval: Duration = .seconds(1), thresholdMs: Int64 = 2000,
        clock: C, logger: Logger
    ) {
        self.store = store
        self.source = source
        self.interval = interval
        self.thresholdMs = thresholdMs
        self.clock = clock
        self.logger = logger
    }

    /// The watcher's state between two samples.
    public struct State: Sendable {
        public var detector: ClockJumpDetector
        /// The offset last written to the store.
        public var storedOffsetMs: Int64?
        public var synchronized: Bool?
    }

    public func run() async throws {
        var started: State?
        while started == nil {
            do {
                started = try await start()
            } catch {
                logger.error("cannot read the stored clock reference; will try again", metadata: ["error": "\(error)"])
                guard await sleepUnlessShuttingDown(for: interval, on: clock) else { return }
            }
        }
        guard var state = started else { return }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            guard await sleepUnlessShuttingDown(for: interval, on: clock) else { return }
            do {
                try await tick(&state)
            } catch {
                logger.error("watching the wall clock failed; will try again", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Loads the boot's stored offset and takes the first sample (a jump while the agent was
    /// down shows here).
    public func start() async throws -> State {
        let stored = try await store.clockReferenceOffset()
        var state = State(detector: ClockJumpDetector(thresholdMs: thresholdMs, offsetMs: stored), storedOffsetMs: stored, synchronized: nil)
        try await tick(&state)
        return state
    }

    /// One sample: updates the synchronised stamp, applies a jump, or keeps the reference current.
    /// Returns the correction when there was a jump.
    @discardableResult
    public func tick(_ state: inout State) async throws -> ClockCorrection? {
        let synchronized = source.isSynchronized()
        if synchronized != state.synchronized {
            store.clockSynchronized = synchronized
            if state.synchronized != nil || synchronized == false {
                logger.notice("wall clock synchronisation", metadata: ["clock.synchronized": "\(synchronized.map(String.init) ?? "unknown")"])
            }
            state.synchronized = synchronized
        }
        let sample = source.sample()
        if let jump = state.detector.observe(sample) {
            let correction = try await store.applyClockJump(jump, occurredAt: Date(timeIntervalSince1970: Double(sample.wallMs) / 1000), monotonicNanos: sample.monotonicNanos)
            state.storedOffsetMs = jump.newOffsetMs
            logger.warning(
                "wall clock jumped; corrected the undelivered events stamped before",
                metadata: [
                    "clock.delta_ms": "\(jump.deltaMs)", "clock.corrected": "\(correction.corrected)",
                    "clock.delivered_uncorrected": "\(correction.alreadyDelivered)",
                ])
            return correction
        }
        if state.storedOffsetMs.map({ abs($0 - sample.offsetMs) > Self.referenceDriftMs }) ?? true {
            try await store.setClockReferenceOffset(sample.offsetMs)
            state.storedOffsetMs = sample.offsetMs
        }
        return nil
    }
}
