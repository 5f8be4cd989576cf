/// Finds which input a dry-contact button is wired to, and how, from samples of every candidate
/// line taken while the technician presses it: the setup wizard's "press the button now".
///
/// A probe is one way to read a contact: a port, an input line, and the output driven high to
/// power it (the driver alternates the outputs, so a probe is sampled only while its output is
/// the one driven). Pure: the levels and the time are passed in.
///
/// ## The rules
/// - **Rest.** A probe's resting level is the level it keeps for `settle` from its first sample.
///   A probe whose level changes before then starts its settle again from that sample: a floating
///   or chattering input never settles and is never reported.
/// - **Press.** A settled probe whose level differs from its rest in every sample for at least
///   `hold` is the button: ``Finding``. Low at rest and high while pressed is normally-open
///   wiring; high at rest and low while pressed is normally-closed.
/// - Each probe is reported once.
///
/// ```swift
/// var finder = DryContactFinder<Probe>()
/// for (probe, level) in samples {
///     if let finding = finder.sample(probe, level: level, at: elapsed) { use(finding) }
/// }
/// ```
public struct DryContactFinder<Probe: Hashable & Sendable>: Sendable {
    /// The button's probe and its wiring.
    public struct Finding: Sendable, Hashable {
        public var probe: Probe
        /// True when the line is asserted at rest: normally-closed wiring.
        public var normallyClosed: Bool

        public init(probe: Probe, normallyClosed: Bool) {
            self.probe = probe
            self.normallyClosed = normallyClosed
        }
    }

    private struct State: Sendable {
        var rest: Bool
        var since: Duration
        /// When the level first differed from `rest` in the current run of differing samples.
        var changedAt: Duration?
        var reported = false
    }

    /// How long a probe must keep a level before that level is its rest.
    public let settle: Duration
    /// How long a changed level must last to be a press.
    public let hold: Duration
    private var probes: [Probe: State] = [:]

    public init(settle: Duration = .milliseconds(600), hold: Duration = .milliseconds(200)) {
        self.settle = settle
        self.hold = hold
    }

    /// True when `probe` has a resting level (it kept one level for `settle`).
    public func isSettled(_ probe: Probe, at now: Duration) -> Bool {
        guard let state = probes[probe] else { return false }
        return now - state.since >= settle
    }

    /// One sample of `probe` taken at `now`; returns the finding when this sample completes a press.
    public mutating func sample(_ probe: Probe, level: Bool, at now: Duration) -> Finding? {
        guard var state = probes[probe] else {
            probes[probe] = State(rest: level, since: now)
            return nil
        }
        defer { probes[probe] = state }
        guard now - state.since >= settle else {
            // Still settling: a change starts the wait for a rest again.
            if level != state.rest { state = State(rest: level, since: now) }
            return nil
        }
        guard level != state.rest else {
            state.changedAt = nil
            return nil
        }
        let changedAt = state.changedAt ?? now
        state.changedAt = changedAt
        guard !state.reported, now - changedAt >= hold else { return nil }
        state.reported = true
        return Finding(probe: probe, normallyClosed: state.rest)
    }
}
