import Foundation

/// How the kiosk's kernel disciplines its wall clock, as `adjtimex(2)` reports it, and what
/// that means for the events' times. Pure: the kernel read lives in the agent.
public enum ClockStatus {
    /// Whether the clock counts as synchronised: the `STA_UNSYNC` bit is clear in the timex
    /// `status` and the call did not return `TIME_ERROR`. (On Linux, NTP daemons and
    /// systemd-timesyncd clear `STA_UNSYNC` once they have set the clock.)
    public static func isSynchronized(status: Int32, state: Int32, staUnsync: Int32, timeError: Int32) -> Bool {
        status & staUnsync == 0 && state != timeError
    }
}

/// One reading of both clocks at (nearly) the same instant.
public struct ClockSample: Sendable, Hashable {
    /// Wall-clock time in milliseconds since 1970.
    public var wallMs: Int64
    /// Monotonic nanoseconds since boot.
    public var monotonicNanos: UInt64

    public init(wallMs: Int64, monotonicNanos: UInt64) {
        self.wallMs = wallMs
        self.monotonicNanos = monotonicNanos
    }

    /// Wall time minus monotonic time, in milliseconds: constant while the wall clock runs
    /// true, changed by exactly the jump when it is set.
    public var offsetMs: Int64 { wallMs - Int64(monotonicNanos / 1_000_000) }
}

/// A step of the wall clock against the monotonic clock.
public struct ClockJump: Sendable, Hashable, CustomStringConvertible {
    /// Wall minus monotonic (ms) before the jump.
    public var oldOffsetMs: Int64
    /// Wall minus monotonic (ms) after the jump.
    public var newOffsetMs: Int64
    /// The monotonic time at which the jump was seen (it happened at or before it).
    public var seenAtMonotonicNanos: UInt64

    public init(oldOffsetMs: Int64, newOffsetMs: Int64, seenAtMonotonicNanos: UInt64) {
        self.oldOffsetMs = oldOffsetMs
        self.newOffsetMs = newOffsetMs
        self.seenAtMonotonicNanos = seenAtMonotonicNanos
    }

    /// How far the wall clock moved (positive: forward).
    public var deltaMs: Int64 { newOffsetMs - oldOffsetMs }

    /// Whether an event recorded at `occurredAtMs` / `monotonicNanos` in the same boot was
    /// stamped by the clock before the jump: its own offset is nearer the old offset than the
    /// new one, and it happened no later than the jump was seen.
    public func stampedBefore(occurredAtMs: Int64, monotonicNanos: UInt64) -> Bool {
        guard monotonicNanos <= seenAtMonotonicNanos else { return false }
        let own = occurredAtMs - Int64(monotonicNanos / 1_000_000)
        return abs(own - oldOffsetMs) < abs(own - newOffsetMs)
    }

    /// The corrected wall time of such an event: its monotonic time plus the new offset.
    public func correctedMs(monotonicNanos: UInt64) -> Int64 {
        Int64(monotonicNanos / 1_000_000) + newOffsetMs
    }

    public var description: String {
        "old_offset_ms=\(oldOffsetMs) new_offset_ms=\(newOffsetMs) delta_ms=\(deltaMs) seen_at_monotonic_ns=\(seenAtMonotonicNanos)"
    }
}

/// Watches the offset of the wall clock over the monotonic clock and reports a jump when it
/// moves by more than `thresholdMs` between two samples. Slewing (NTP's gradual correction,
/// at most 0.5 ms per second) never reaches the threshold between two samples; a step does.
///
/// ```
/// var detector = ClockJumpDetector(thresholdMs: 2000)
/// detector.observe(ClockSample(wallMs: 1_000_000, monotonicNanos: 5_000_000_000))  // nil: first sample
/// detector.observe(ClockSample(wallMs: 3_601_000_000, monotonicNanos: 6_000_000_000))
/// // ClockJump(oldOffsetMs: 995_000, newOffsetMs: 3_595_000_000, ...)
/// ```
public struct ClockJumpDetector: Sendable, Hashable {
    /// A change of offset beyond this (in either direction) is a jump.
    public var thresholdMs: Int64
    /// The offset last observed (nil before the first sample).
    public private(set) var offsetMs: Int64?

    public init(thresholdMs: Int64 = 2000, offsetMs: Int64? = nil) {
        self.thresholdMs = max(1, thresholdMs)
        self.offsetMs = offsetMs
    }

    /// Takes a sample; returns the jump if the offset moved by more than the threshold since
    /// the last one. The new offset becomes the reference either way, so slow drift is followed.
    public mutating func observe(_ sample: ClockSample) -> ClockJump? {
        let current = sample.offsetMs
        defer { offsetMs = current }
        guard let previous = offsetMs, abs(current - previous) > thresholdMs else { return nil }
        return ClockJump(oldOffsetMs: previous, newOffsetMs: current, seenAtMonotonicNanos: sample.monotonicNanos)
    }
}
