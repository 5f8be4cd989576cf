/// What a ``DryContactDetector`` reports about a dry-contact button.
public enum DryContactEvent: Sendable, Hashable {
    /// The button has been held for at least the minimum press time: an alarm.
    case pressed
    /// A counted press ended (the contact has been back at rest for the debounce time).
    case released
    /// The contact was operated (longer than the debounce time) but for less than the minimum
    /// press time: a brush, a knock, a child's finger. `shortPress` is how long it lasted, from the
    /// first to the last stable edge.
    case ignored(shortPress: Duration)
}

/// Turns raw samples of a dry contact (a button on an RS-232 modem-control line, an OSDP reader
/// input, a GPIO) into press and release events: debounce, a minimum press time against false
/// triggering, and normally-open or normally-closed wiring.
///
/// A pure value type: time is passed in, so tests drive it with exact instants and the agent
/// with `ContinuousClock` readings since its start.
///
/// ## The rules
/// - **Debounce.** A change of the contact counts only once the new state has been stable for
///   `debounce`; every toggle restarts the wait. The edge of a counted change is the instant of
///   the *last* toggle (the sample that first showed the state that then held).
/// - **Minimum press.** A press is the time between its two counted edges. ``DryContactEvent/pressed``
///   is reported as soon as the press is known to be at least `minimumPress` long (and debounced),
///   that is at `edge + max(debounce, minimumPress)` for a button that is simply held. A press that
///   ends earlier is reported once, on its debounced release, as
///   ``DryContactEvent/ignored(shortPress:)``.
/// - **Wiring.** `sample(active:at:)` takes the line level as read (`true` = line asserted, which
///   with a powered contact means "contact closed"). With `activeWhenClosed == false` (normally
///   closed wiring) the detector inverts it: an open contact, a cut cable or an unpowered loop
///   is "pushed". With the default `activeWhenClosed == true` the value passes unchanged.
/// - **Start.** Before the first sample the button is taken as released. A contact that is already
///   active at the first sample (a button held at start-up, a cut normally-closed loop) becomes a
///   press like any other: an alarm is never dropped because it began before the agent.
/// - **Time.** Samples should come in non-decreasing time. A sample older than the previous one is
///   treated as taken at the previous instant (clocks do not run backwards in this detector).
///
/// ```swift
/// var detector = DryContactDetector(debounce: .milliseconds(30), minimumPress: .milliseconds(300))
/// let start = ContinuousClock.now
/// while running {
///     let signals = try lines.signals()
///     for event in detector.sample(active: signals[.cts], at: ContinuousClock.now - start) {
///         handle(event)   // .pressed -> raise the alarm; .released; .ignored(shortPress:) -> log it
///     }
///     try await Task.sleep(for: .milliseconds(10))
/// }
/// ```
public struct DryContactDetector: Sendable {
    /// How long a contact must be stable before a change counts.
    public let debounce: Duration
    /// The shortest press that counts as an alarm.
    public let minimumPress: Duration
    /// `true` for normally-open wiring (closed = pushed), `false` for normally-closed (open = pushed).
    public let activeWhenClosed: Bool

    /// The last pushed/not-pushed state seen (after the wiring mapping), not yet necessarily stable.
    private var candidate = false
    /// When `candidate` was first seen; nil before the first sample.
    private var candidateSince: Duration?
    /// The debounced state.
    private var stable = false
    /// The counted edge at which the current (debounced) press began.
    private var pressEdge: Duration = .zero
    /// Whether ``DryContactEvent/pressed`` was reported for the current press.
    private var reported = false
    /// The latest sample time, to keep time from running backwards.
    private var lastSample: Duration?

    /// Creates a detector.
    /// - Parameters:
    ///   - debounce: the contact must be stable this long before a change counts (negative values
    ///     count as zero).
    ///   - minimumPress: a press shorter than this is ignored (anti false trigger; negative values
    ///     count as zero).
    ///   - activeWhenClosed: `false` for normally-closed wiring (open = active).
    public init(
        debounce: Duration = .milliseconds(30), minimumPress: Duration = .milliseconds(300),
        activeWhenClosed: Bool = true
    ) {
        self.debounce = max(debounce, .zero)
        self.minimumPress = max(minimumPress, .zero)
        self.activeWhenClosed = activeWhenClosed
    }

    /// The debounced state: the contact is stably in its "pushed" position. It turns true one
    /// debounce time after the press edge, which may be before ``DryContactEvent/pressed`` is
    /// reported; see ``isPressConfirmed`` for "an alarm press is in progress".
    public var isPressed: Bool { stable }

    /// True between a reported ``DryContactEvent/pressed`` and its ``DryContactEvent/released``.
    public var isPressConfirmed: Bool { stable && reported }

    /// Maps a raw line level to "pushed" for this detector's wiring.
    /// - Parameter lineAsserted: the modem-control line as read (`true` = asserted).
    public func isPushed(lineAsserted: Bool) -> Bool {
        activeWhenClosed ? lineAsserted : !lineAsserted
    }

    /// Feeds one sample and returns what it caused: usually nothing; one event; with a zero debounce
    /// possibly `[.pressed, .released]` when a long enough press was never sampled as held.
    /// - Parameters:
    ///   - active: the line level as read: `true` = line asserted (contact closed when powered).
    ///     The detector applies ``activeWhenClosed``; with the default wiring this is "pushed".
    ///   - now: the sample's instant on any monotonic time base shared by all samples.
    public mutating func sample(active: Bool, at now: Duration) -> [DryContactEvent] {
        let time = max(now, lastSample ?? now)
        lastSample = time
        let pushed = isPushed(lineAsserted: active)

        if candidateSince == nil || pushed != candidate {
            candidate = pushed
            candidateSince = time
        }
        return settle(at: time)
    }

    /// Applies the debounce and minimum-press rules at `time`.
    private mutating func settle(at time: Duration) -> [DryContactEvent] {
        guard let since = candidateSince else { return [] }
        var events: [DryContactEvent] = []

        if candidate != stable, time - since >= debounce {
            stable = candidate
            if stable {
                pressEdge = since
                reported = false
            } else {
                let length = since - pressEdge
                if reported {
                    events.append(.released)
                } else if length >= minimumPress {
                    // A press long enough to count whose samples were too sparse to report it
                    // while held: it still is an alarm, followed by its release.
                    events.append(.pressed)
                    events.append(.released)
                } else {
                    events.append(.ignored(shortPress: length))
                }
                reported = false
                return events
            }
        }

        if stable, !reported {
            // How long the press is known to have lasted: to now while the contact is still
            // pushed, to the (not yet debounced) release edge otherwise.
            let heldUntil = candidate ? time : since
            if heldUntil - pressEdge >= minimumPress {
                reported = true
                events.append(.pressed)
            }
        }
        return events
    }
}
