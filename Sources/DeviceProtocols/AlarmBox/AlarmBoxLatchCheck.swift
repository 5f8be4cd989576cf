/// When a latched alarm the box reports may be taken as a press the agent lost.
///
/// The box acknowledges nothing itself: it repeats a `PRESSED` until the host acknowledges it,
/// and the host acknowledges before it commits. An agent that died in between restarts with no
/// record of the press, while the box's heartbeat shows the latch: that latch is then the only
/// record, and the agent raises the alarm from it. But a heartbeat also shows the latch while
/// the box still holds its `PRESSED` (behind a frame it could not deliver, repeated after a
/// `HELLO`, or lost once on the wire), and that press then arrives as well: raising from the
/// heartbeat too would make one press two alarms.
///
/// So the latch is judged once per open line, on the first heartbeat that
/// - shows no link fault (a box in link fault is still repeating an undelivered frame, and its
///   events wait behind it), and
/// - comes at least ``settle`` after the line opened and after the box's last `HELLO`: a press
///   the box still holds reaches a working line within that time (it repeats every 250 ms, then
///   every second; Hardware/alarm-box/protocol.md, 6.4).
///
/// A pure value: times are durations since the line opened.
public struct AlarmBoxLatchCheck: Sendable, Hashable {
    /// How long after the line opened, or the box's `HELLO`, a held press has surely arrived.
    public static let settle: Duration = .seconds(2)

    private var done = false

    public init() {}

    /// A heartbeat (or `HELLO`) with `status` at `now`, the box's last `HELLO` having come at
    /// `lastHello` (``AlarmBoxLink/lastHelloAt``): true when its latch is to be checked now; true
    /// at most once.
    public mutating func shouldCheck(_ status: AlarmBoxStatus, at now: Duration, lastHello: Duration?) -> Bool {
        guard !done, !status.linkFault, now >= Self.settle else { return false }
        if let lastHello, now - lastHello < Self.settle { return false }
        done = true
        return true
    }
}
