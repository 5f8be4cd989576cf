/// Reader feedback patterns for the station's moments, as `osdp_LED` and `osdp_BUZ` commands.
///
/// Times are in the spec's 100 ms units. Readers differ in colours and tones they can show; the
/// patterns use LED 0 and the default tone, which every reader with LED and buzzer capability has.
///
/// ```swift
/// for command in OSDPFeedback.accepted.commands(reader: 0) {
///     try panel.enqueue(command, for: address)
/// }
/// ```
public enum OSDPFeedback: String, Sendable, Hashable, CaseIterable {
    /// A tap was stored: green for 1 s and one short beep.
    case accepted
    /// A tap was refused: red flashing for 1.2 s and three short beeps.
    case rejected
    /// An alarm was received and acknowledged by the platform: amber flashing for 3 s and two beeps.
    case alarmAcknowledged
    /// Back to the idle state: cancel any temporary pattern and silence the buzzer.
    case idle

    /// The LED record of the pattern.
    public func led(reader: UInt8 = 0) -> OSDPLEDControl {
        switch self {
        case .accepted:
            OSDPLEDControl(
                reader: reader, led: 0, temporaryAction: .set, temporaryOnTime: 10, temporaryOffTime: 0,
                temporaryOnColor: .green, temporaryOffColor: .black, temporaryTimer: 10)
        case .rejected:
            OSDPLEDControl(
                reader: reader, led: 0, temporaryAction: .set, temporaryOnTime: 2, temporaryOffTime: 2,
                temporaryOnColor: .red, temporaryOffColor: .black, temporaryTimer: 12)
        case .alarmAcknowledged:
            OSDPLEDControl(
                reader: reader, led: 0, temporaryAction: .set, temporaryOnTime: 5, temporaryOffTime: 5,
                temporaryOnColor: .amber, temporaryOffColor: .black, temporaryTimer: 30)
        case .idle:
            OSDPLEDControl(reader: reader, led: 0, temporaryAction: .cancel)
        }
    }

    /// The buzzer record of the pattern.
    public func buzzer(reader: UInt8 = 0) -> OSDPBuzzerControl {
        switch self {
        case .accepted: OSDPBuzzerControl(reader: reader, tone: .default, onTime: 1, offTime: 0, count: 1)
        case .rejected: OSDPBuzzerControl(reader: reader, tone: .default, onTime: 1, offTime: 1, count: 3)
        case .alarmAcknowledged: OSDPBuzzerControl(reader: reader, tone: .default, onTime: 2, offTime: 2, count: 2)
        case .idle: OSDPBuzzerControl(reader: reader, tone: .off, onTime: 0, offTime: 0, count: 0)
        }
    }

    /// The commands to queue: `osdp_LED`, then `osdp_BUZ`.
    public func commands(reader: UInt8 = 0) -> [OSDPCommand] {
        [.led([led(reader: reader)]), .buzzer([buzzer(reader: reader)])]
    }
}
