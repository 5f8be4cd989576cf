import PlatformAPI

/// What an operator can do to an alarm from the emulator's console
/// (`POST /v1/operator/alarms/{eventId}/{action}`).
///
/// The allowed transitions, as `docs/platform-api.yaml` writes them down:
///
/// | from \ action  | acknowledge  | dispatch   | reset |
/// |----------------|--------------|------------|-------|
/// | received       | acknowledged | dispatched | reset |
/// | acknowledged   | 409          | dispatched | reset |
/// | dispatched     | 409          | 409        | reset |
/// | reset          | 409          | 409        | 409   |
///
/// A reset from the kiosk (an `alarm_reset` event whose `related` is the alarm) moves any
/// state but `reset` to `reset` as well; it is not an operator action and sends no command.
public enum AlarmAction: String, Sendable, Hashable, CaseIterable {
    /// An operator took the alarm.
    case acknowledge
    /// Help was sent to the station.
    case dispatch
    /// The operator reset the latched alarm remotely.
    case reset

    /// The state the alarm moves to, or `nil` when the action makes no sense in `state`.
    public func nextState(from state: AlarmView.State) -> AlarmView.State? {
        switch (self, state) {
        case (.acknowledge, .received): .acknowledged
        case (.dispatch, .received), (.dispatch, .acknowledged): .dispatched
        case (.reset, .received), (.reset, .acknowledged), (.reset, .dispatched): .reset
        default: nil
        }
    }

    /// The command the station receives when the action succeeds.
    public var commandType: StationCommandType {
        switch self {
        case .acknowledge: .alarmAcknowledged
        case .dispatch: .alarmDispatched
        case .reset: .alarmReset
        }
    }

    /// Why the action is refused in `state`, for a 409's `detail`.
    func refusal(eventID: String, state: AlarmView.State) -> String {
        let why: String
        switch (self, state) {
        case (_, .reset):
            why = "it was already reset; a reset alarm is closed"
        case (.acknowledge, .acknowledged):
            why = "it was already acknowledged"
        case (.acknowledge, .dispatched):
            why = "help was already dispatched (a dispatched alarm is past acknowledgement)"
        case (.dispatch, .dispatched):
            why = "help was already dispatched"
        default:
            why = "its state is \(state.rawValue)"
        }
        return "alarm \(eventID): cannot \(rawValue) because \(why); allowed: received→acknowledged→dispatched, "
            + "dispatch directly from received, reset from any state but reset"
    }
}
