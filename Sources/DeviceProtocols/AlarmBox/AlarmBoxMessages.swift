/// The message types of the alarm box protocol (the TYPE byte).
///
/// The type byte also says how a frame is handled, by range:
/// | range       | direction   | handling |
/// |-------------|-------------|----------|
/// | `01`        | both        | ACK: never acknowledged, never repeated |
/// | `10`...`3F` | box → host  | data: sequenced, acknowledged, repeated until acknowledged, duplicates suppressed |
/// | `40`...`5F` | box → host  | unreliable: acknowledged (liveness) but never repeated, no duplicate check |
/// | `90`...`BF` | host → box  | data, as `10`...`3F` |
/// | `C0`...`DF` | host → box  | unreliable, as `40`...`5F` |
/// | other       |             | reserved: counted and ignored, not acknowledged |
public enum AlarmBoxMessageType: UInt8, Sendable, Hashable, CaseIterable {
    /// Acknowledgement of a data frame or heartbeat; payload `[acknowledged TYPE, result]`.
    case ack = 0x01
    /// Box → host, first data frame after power-on; payload `[protocol version] + STATUS`.
    case hello = 0x10
    /// Box → host: the button was pressed; payload STATUS.
    case pressed = 0x11
    /// Box → host: a counted press ended; payload STATUS.
    case released = 0x12
    /// Box → host: the key switch reset the latch; payload STATUS.
    case keySwitchReset = 0x13
    /// Box → host: enclosure opened; payload STATUS.
    case tamperOpened = 0x14
    /// Box → host: enclosure closed; payload STATUS.
    case tamperClosed = 0x15
    /// Box → host: battery low; payload STATUS.
    case lowBattery = 0x16
    /// Box → host: battery recovered; payload STATUS.
    case batteryOK = 0x17
    /// Box → host: mains lost, on battery; payload STATUS.
    case powerLost = 0x18
    /// Box → host: mains back; payload STATUS.
    case powerRestored = 0x19
    /// Box → host, unreliable: periodic heartbeat and status reply; payload STATUS.
    case heartbeat = 0x40
    /// Host → box, first data frame after the host starts or gives up a frame; payload `[protocol version]`.
    case hostHello = 0x90
    /// Host → box: show a pattern; payload `[indication code]`.
    case indicate = 0x91
    /// Host → box: clear the latch; no payload.
    case resetLatch = 0x92
    /// Host → box: send a heartbeat now; no payload.
    case requestStatus = 0x93

    /// The protocol version this implementation speaks (HELLO payloads).
    public static let protocolVersion: UInt8 = 1

    /// How a frame of type byte `type` is handled.
    public enum Handling: Sendable, Hashable {
        /// An acknowledgement.
        case ack
        /// A reliable data frame from the box.
        case boxData
        /// An unreliable frame from the box.
        case boxUnreliable
        /// A reliable data frame from the host.
        case hostData
        /// An unreliable frame from the host.
        case hostUnreliable
        /// A reserved type byte.
        case reserved
    }

    /// How frames of type byte `type` are handled (by range, so that types added by later
    /// versions are acknowledged correctly).
    public static func handling(ofType type: UInt8) -> Handling {
        switch type {
        case 0x01: .ack
        case 0x10...0x3F: .boxData
        case 0x40...0x5F: .boxUnreliable
        case 0x90...0xBF: .hostData
        case 0xC0...0xDF: .hostUnreliable
        default: .reserved
        }
    }

    /// Whether a frame was sent by the box (`true`), by the host (`false`), or cannot tell (reserved
    /// types, ACKs with a short payload). An ACK goes the opposite way of the frame it acknowledges.
    /// A receiver ignores frames of its own direction (an RS-485 adapter echoing what it sends) for
    /// supervision.
    public static func isFromBox(_ frame: AlarmBoxFrame) -> Bool? {
        switch handling(ofType: frame.type) {
        case .boxData, .boxUnreliable: return true
        case .hostData, .hostUnreliable: return false
        case .reserved: return nil
        case .ack:
            guard let acknowledged = frame.acknowledgement?.type else { return nil }
            switch handling(ofType: acknowledged) {
            case .hostData, .hostUnreliable: return true
            case .boxData, .boxUnreliable: return false
            case .ack, .reserved: return nil
            }
        }
    }

    /// The frame type that carries `event` (``AlarmBoxEvent/heartbeat(_:)`` → ``heartbeat``).
    public init(event: AlarmBoxEvent) {
        switch event {
        case .pressed: self = .pressed
        case .released: self = .released
        case .keySwitchReset: self = .keySwitchReset
        case .tamperOpened: self = .tamperOpened
        case .tamperClosed: self = .tamperClosed
        case .lowBattery: self = .lowBattery
        case .batteryOK: self = .batteryOK
        case .powerLost: self = .powerLost
        case .powerRestored: self = .powerRestored
        case .heartbeat: self = .heartbeat
        }
    }

    /// The event a box frame of this type reports, given the STATUS it carried; nil for types
    /// that are not box events (ACK, HELLO, host commands).
    public func event(status: AlarmBoxStatus) -> AlarmBoxEvent? {
        switch self {
        case .pressed: .pressed
        case .released: .released
        case .keySwitchReset: .keySwitchReset
        case .tamperOpened: .tamperOpened
        case .tamperClosed: .tamperClosed
        case .lowBattery: .lowBattery
        case .batteryOK: .batteryOK
        case .powerLost: .powerLost
        case .powerRestored: .powerRestored
        case .heartbeat: .heartbeat(status)
        case .ack, .hello, .hostHello, .indicate, .resetLatch, .requestStatus: nil
        }
    }

    /// The frame type that carries `command`.
    public init(command: AlarmBoxCommand) {
        switch command {
        case .indicate: self = .indicate
        case .resetLatch: self = .resetLatch
        case .requestStatus: self = .requestStatus
        }
    }
}

/// The result byte of an ACK.
public enum AlarmBoxAckResult: UInt8, Sendable, Hashable, CaseIterable {
    /// The frame was accepted (and, for a command, carried out).
    case accepted = 0x00
    /// The receiver does not know this message type.
    case unsupportedType = 0x01
    /// The payload is too short or holds a value the receiver does not know.
    case badPayload = 0x02
    /// A HELLO named a protocol version the receiver does not speak.
    case unsupportedVersion = 0x03

    /// The result for a result byte; unknown values (from later versions) read as ``badPayload``.
    public init(byte: UInt8) {
        self = Self(rawValue: byte) ?? .badPayload
    }
}

extension AlarmBoxFrame {
    /// An ACK of the frame with type byte `type` and sequence number `sequence`.
    public static func ack(type: UInt8, sequence: UInt8, result: AlarmBoxAckResult = .accepted) -> AlarmBoxFrame {
        AlarmBoxFrame(type: AlarmBoxMessageType.ack.rawValue, sequence: sequence, payload: [type, result.rawValue])
    }

    /// The box's HELLO.
    public static func hello(
        sequence: UInt8, status: AlarmBoxStatus, protocolVersion: UInt8 = AlarmBoxMessageType.protocolVersion
    ) -> AlarmBoxFrame {
        AlarmBoxFrame(type: AlarmBoxMessageType.hello.rawValue, sequence: sequence, payload: [protocolVersion] + status.encoded)
    }

    /// The host's HELLO.
    public static func hostHello(sequence: UInt8, protocolVersion: UInt8 = AlarmBoxMessageType.protocolVersion)
        -> AlarmBoxFrame
    {
        AlarmBoxFrame(type: AlarmBoxMessageType.hostHello.rawValue, sequence: sequence, payload: [protocolVersion])
    }

    /// A box event or heartbeat frame carrying `status` (the status of a heartbeat event itself
    /// is ignored in favour of `status`).
    public static func event(_ event: AlarmBoxEvent, sequence: UInt8, status: AlarmBoxStatus) -> AlarmBoxFrame {
        AlarmBoxFrame(type: AlarmBoxMessageType(event: event).rawValue, sequence: sequence, payload: status.encoded)
    }

    /// A host command frame.
    public static func command(_ command: AlarmBoxCommand, sequence: UInt8) -> AlarmBoxFrame {
        let payload: [UInt8] =
            switch command {
            case .indicate(let indication): [indication.wireCode]
            case .resetLatch, .requestStatus: []
            }
        return AlarmBoxFrame(type: AlarmBoxMessageType(command: command).rawValue, sequence: sequence, payload: payload)
    }

    /// The acknowledged type and result of an ACK frame; nil when this is not an ACK or its
    /// payload is shorter than 2 bytes.
    public var acknowledgement: (type: UInt8, result: AlarmBoxAckResult)? {
        guard type == AlarmBoxMessageType.ack.rawValue, payload.count >= 2 else { return nil }
        return (payload[0], AlarmBoxAckResult(byte: payload[1]))
    }

    /// The command a host frame carries; nil for other frames or a bad payload.
    public var command: AlarmBoxCommand? {
        switch messageType {
        case .indicate?:
            guard let code = payload.first, let indication = AlarmIndication(wireCode: code) else { return nil }
            return .indicate(indication)
        case .resetLatch?: return .resetLatch
        case .requestStatus?: return .requestStatus
        default: return nil
        }
    }
}

/// The receiving half of a data channel: duplicate suppression by sequence number, shared by the
/// host and the device.
///
/// A data frame whose sequence number equals the last one accepted is a duplicate (a repetition
/// whose ACK was lost): it is acknowledged again with the same result and not acted on. A HELLO
/// resets the filter (the peer restarted); it is a duplicate only when the last frame accepted
/// was a HELLO with the same number.
struct AlarmBoxSequenceFilter: Sendable, Hashable {
    private var last: UInt8?
    private var lastWasHello = false
    private(set) var lastResult = AlarmBoxAckResult.accepted

    func isDuplicate(sequence: UInt8, isHello: Bool) -> Bool {
        guard let last, last == sequence else { return false }
        return !isHello || lastWasHello
    }

    mutating func accept(sequence: UInt8, isHello: Bool, result: AlarmBoxAckResult) {
        last = sequence
        lastWasHello = isHello
        lastResult = result
    }
}
