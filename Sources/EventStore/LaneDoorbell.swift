import EventModel

/// Wakes the forwarder of a lane when an event is committed in it. A ring while nobody waits is
/// kept (one pending ring per lane), so a wake-up is never lost between "the queue looked empty"
/// and "wait".
public final class LaneDoorbell: Sendable {
    private let alarm = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let normal = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    public init() {}

    /// Signals that `lane` has new events.
    public func ring(_ lane: Lane) {
        switch lane {
        case .alarm: alarm.continuation.yield()
        case .normal: normal.continuation.yield()
        }
    }

    /// The rings of `lane`. One consumer per lane (the lane's forwarder).
    public func rings(of lane: Lane) -> AsyncStream<Void> {
        switch lane {
        case .alarm: alarm.stream
        case .normal: normal.stream
        }
    }
}
