// The vocabulary of the serial one-key alarm box protocol (Hardware/alarm-box/protocol.md).

/// What the alarm button's LED and buzzer show: the progress of the alarm, as far as the person
/// standing at the kiosk should know it. The wire code of each case is in the protocol document.
///
/// The usual progression is `idle` → `stored` → `sent` → `received` → `acknowledged` →
/// `dispatched`, back to `idle` when the latch is reset; `fault` says that the alarm cannot be
/// delivered (the box cannot reach the agent, or the agent cannot reach the platform).
public enum AlarmIndication: String, Sendable, Hashable, CaseIterable {
    /// No alarm: LED off, buzzer silent.
    case idle
    /// The alarm is latched and stored (by the box at once, then durably by the agent).
    case stored
    /// The agent has sent the alarm to the platform and waits for its answer.
    case sent
    /// The platform confirmed that it received the alarm.
    case received
    /// An operator at the platform took the alarm.
    case acknowledged
    /// Help has been dispatched.
    case dispatched
    /// The alarm cannot be delivered: the box, the agent or the platform link is in trouble.
    case fault

    /// The code of this indication on the wire (`INDICATE` payload, status byte 1).
    public var wireCode: UInt8 {
        switch self {
        case .idle: 0x00
        case .stored: 0x01
        case .sent: 0x02
        case .received: 0x03
        case .acknowledged: 0x04
        case .dispatched: 0x05
        case .fault: 0x06
        }
    }

    /// The indication with wire code `wireCode`, or nil for a code this version does not know.
    public init?(wireCode: UInt8) {
        guard let match = Self.allCases.first(where: { $0.wireCode == wireCode }) else { return nil }
        self = match
    }
}

/// A firmware version as the box reports it: two bytes, major and minor.
public struct AlarmBoxFirmwareVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Major version: incompatible changes.
    public var major: UInt8
    /// Minor version.
    public var minor: UInt8

    /// Creates a version.
    public init(major: UInt8, minor: UInt8) {
        self.major = major
        self.minor = minor
    }

    /// `major.minor`, e.g. `1.2`.
    public var description: String { "\(major).\(minor)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}

/// The state of the box, carried by every event frame, every heartbeat and the box's HELLO
/// (the 9-byte STATUS block of the protocol).
public struct AlarmBoxStatus: Sendable, Hashable {
    /// The button is held down now.
    public var buttonDown: Bool
    /// An alarm is latched: it stays until a key-switch reset or a `resetLatch` command.
    public var latched: Bool
    /// The enclosure's tamper switch is open.
    public var tamper: Bool
    /// Mains power is lost; the box runs on its battery.
    public var onBattery: Bool
    /// The battery is low.
    public var lowBattery: Bool
    /// The box considers the agent unreachable (it shows ``AlarmIndication/fault``).
    public var linkFault: Bool
    /// The indication the box has been told to show (or chose itself, e.g. `stored` on a press);
    /// nil when the box reported a code this version does not know. While ``linkFault`` is set the
    /// box overrides it with the fault pattern.
    public var indication: AlarmIndication?
    /// The box's firmware version.
    public var firmwareVersion: AlarmBoxFirmwareVersion
    /// The box's heartbeat period in whole seconds (1...255).
    public var heartbeatIntervalSeconds: Int
    /// Seconds since the box powered on (wraps after about 136 years).
    public var uptimeSeconds: UInt32

    /// Creates a status; every flag defaults to off.
    public init(
        buttonDown: Bool = false, latched: Bool = false, tamper: Bool = false, onBattery: Bool = false,
        lowBattery: Bool = false, linkFault: Bool = false, indication: AlarmIndication? = .idle,
        firmwareVersion: AlarmBoxFirmwareVersion = AlarmBoxFirmwareVersion(major: 1, minor: 0),
        heartbeatIntervalSeconds: Int = 10, uptimeSeconds: UInt32 = 0
    ) {
        self.buttonDown = buttonDown
        self.latched = latched
        self.tamper = tamper
        self.onBattery = onBattery
        self.lowBattery = lowBattery
        self.linkFault = linkFault
        self.indication = indication
        self.firmwareVersion = firmwareVersion
        self.heartbeatIntervalSeconds = heartbeatIntervalSeconds
        self.uptimeSeconds = uptimeSeconds
    }

    /// Length of the STATUS block on the wire.
    public static let encodedLength = 9

    /// The STATUS block: flags, indication, firmware major and minor, heartbeat seconds, uptime
    /// (4 bytes, big-endian). The heartbeat period is clamped to 1...255.
    public var encoded: [UInt8] {
        var flags: UInt8 = 0
        if buttonDown { flags |= 0x01 }
        if latched { flags |= 0x02 }
        if tamper { flags |= 0x04 }
        if onBattery { flags |= 0x08 }
        if lowBattery { flags |= 0x10 }
        if linkFault { flags |= 0x20 }
        return [
            flags, indication?.wireCode ?? 0xFF, firmwareVersion.major, firmwareVersion.minor,
            UInt8(clamping: max(1, heartbeatIntervalSeconds)),
            UInt8(truncatingIfNeeded: uptimeSeconds >> 24), UInt8(truncatingIfNeeded: uptimeSeconds >> 16),
            UInt8(truncatingIfNeeded: uptimeSeconds >> 8), UInt8(truncatingIfNeeded: uptimeSeconds),
        ]
    }

    /// Parses a STATUS block from the start of `bytes`; bytes after the 9 it knows are ignored
    /// (later protocol versions may append fields). Nil when fewer than 9 bytes are given.
    /// Reserved flag bits (6 and 7) are ignored.
    public init?(encoded bytes: some Collection<UInt8>) {
        guard bytes.count >= Self.encodedLength else { return nil }
        let b = Array(bytes.prefix(Self.encodedLength))
        self.init(
            buttonDown: b[0] & 0x01 != 0, latched: b[0] & 0x02 != 0, tamper: b[0] & 0x04 != 0,
            onBattery: b[0] & 0x08 != 0, lowBattery: b[0] & 0x10 != 0, linkFault: b[0] & 0x20 != 0,
            indication: AlarmIndication(wireCode: b[1]),
            firmwareVersion: AlarmBoxFirmwareVersion(major: b[2], minor: b[3]),
            heartbeatIntervalSeconds: Int(b[4]),
            uptimeSeconds: UInt32(b[5]) << 24 | UInt32(b[6]) << 16 | UInt32(b[7]) << 8 | UInt32(b[8]))
    }
}

/// Something the box reports. Each event except the heartbeat is delivered reliably: the box
/// repeats it until the host acknowledges it.
public enum AlarmBoxEvent: Sendable, Hashable {
    /// The alarm button was pressed (debounced, held for the box's minimum press time); the box
    /// latches the alarm.
    case pressed
    /// A counted press ended.
    case released
    /// Staff turned the key switch: the latch is cleared.
    case keySwitchReset
    /// The enclosure was opened.
    case tamperOpened
    /// The enclosure was closed again.
    case tamperClosed
    /// The battery fell below its threshold.
    case lowBattery
    /// The battery recovered.
    case batteryOK
    /// Mains power was lost; the box runs on its battery.
    case powerLost
    /// Mains power is back.
    case powerRestored
    /// The periodic heartbeat (also the answer to ``AlarmBoxCommand/requestStatus`` and the
    /// report of a box that just powered on).
    case heartbeat(AlarmBoxStatus)
}

/// A command from the agent to the box, delivered reliably (acknowledged, or reported failed).
public enum AlarmBoxCommand: Sendable, Hashable {
    /// Show this pattern on the LED and buzzer.
    case indicate(AlarmIndication)
    /// Clear the latched alarm (a platform-side reset); the box then shows `idle`.
    case resetLatch
    /// Send a heartbeat with the current status now.
    case requestStatus
}

/// What one side of the link has seen since it was made. Every count only ever grows.
public struct AlarmBoxCounters: Sendable, Hashable {
    /// Valid frames received (CRC and length correct), of any type, duplicates included.
    public var frames = 0
    /// Received frames whose CRC did not match; they are dropped.
    public var crcErrors = 0
    /// Received bytes dropped outside any frame that reached the CRC check: noise between
    /// frames, frames too short or too long, aborted frames.
    public var garbageBytes = 0
    /// Frames with a correct CRC that could not be used: a LEN byte that disagrees with the
    /// length, a payload too short, or a value this side does not know (answered "bad payload").
    public var malformedFrames = 0
    /// Data frames received again (same sequence number as the last one accepted): acknowledged
    /// again, not acted on.
    public var duplicates = 0
    /// Data frames sent again because no acknowledgement came in time.
    public var retransmits = 0
    /// Frames of a type this side does not handle (reserved, unknown, or meant for the other
    /// side, such as an RS-485 adapter's echo of this side's own frames).
    public var unsupportedFrames = 0
    /// Acknowledgements that match nothing outstanding (late, or for a frame already given up).
    public var unexpectedAcks = 0
    /// Data frames the peer acknowledged with a result other than "accepted".
    public var rejectedByPeer = 0
    /// HELLO frames accepted from the peer: the peer (re)started.
    public var peerRestarts = 0
    /// Device side: events dropped because the queue was full; host side: commands refused
    /// because the command queue was full.
    public var queueOverflows = 0

    /// Creates counters, all zero.
    public init() {}
}
