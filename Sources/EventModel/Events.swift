import Foundation

/// What happened at the kiosk. The agent does not interpret a tap: the platform does, from the
/// reader's configured purpose.
public enum EventKind: String, Sendable, Codable, CaseIterable, Hashable {
    /// A card was presented to a reader (one per card per de-duplication window).
    case cardTap = "card_tap"
    /// A one-key alarm was pressed.
    case alarm
    /// A device that was offline (unplugged, hung up) answers again.
    case deviceOnline = "device_online"
    /// A device stopped answering: hang-up, EIO, unplugged, or could not be opened.
    case deviceOffline = "device_offline"
    /// The agent started (carries its version and boot id in `detail`).
    case agentStarted = "agent_started"
    /// A latched alarm was reset (by a key switch at the device, or by a platform command);
    /// `related` is the alarm's event id.
    case alarmReset = "alarm_reset"
    /// A device's enclosure was opened or its wiring cut.
    case tamper
    /// A battery-backed device reports a low battery.
    case lowBattery = "low_battery"
    /// A device lost mains power (it runs on battery).
    case powerLoss = "power_loss"
    /// A device's mains power is back.
    case powerRestored = "power_restored"
    /// A supervised device stopped answering (missed heartbeats) or reports a fault.
    case deviceFault = "device_fault"
    /// The store's size budget dropped card taps the platform never had; `detail` carries the
    /// count and the sequence-number range (`count=12 first_seq=40 last_seq=77 total=12`).
    case eventsEvicted = "events_evicted"
    /// The kiosk's wall clock jumped (NTP sync after boot, a manual set); `detail` carries the
    /// boot id, the old and new offsets of wall time over monotonic time and how many stored
    /// events were corrected (see docs/reliability.md, "A kiosk without a real-time clock").
    case clockJump = "clock_jump"

    /// The delivery lane an event of this kind travels in. Alarms, their resets and tamper
    /// never share a lane with taps.
    public var lane: Lane {
        switch self {
        case .alarm, .alarmReset, .tamper: .alarm
        default: .normal
        }
    }
}

/// A delivery lane: each lane has its own in-flight request, so nothing in `normal` ever waits
/// in front of an alarm.
public enum Lane: String, Sendable, Codable, CaseIterable, Hashable {
    case alarm
    case normal
}

/// A card as a reader reported it.
public struct CardRead: Sendable, Hashable, Codable {
    /// The card's identifier as the reader printed it, normalised: upper-case hex for hex
    /// readers, decimal digits for decimal readers.
    public var uid: String
    /// How the reader encoded it: `em4100`, `hex` or `decimal`.
    public var format: String
    /// Whether `uid` is the card number itself or a keyed pseudonym of it.
    public var uidKind: CardUIDKind

    public init(uid: String, format: String, uidKind: CardUIDKind = .raw) {
        self.uid = uid
        self.format = format
        self.uidKind = uidKind
    }
}

/// What a card's `uid` holds. Card numbers are personal data: by default the agent stores and
/// sends a keyed pseudonym (`[privacy] card_ids` in `docs/configuration.md`).
public enum CardUIDKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// The number as the reader reported it.
    case raw
    /// Lower-case hex HMAC-SHA256 of the raw number under the district key.
    case pseudonymHMACSHA256 = "pseudonym-hmac-sha256"
}

/// Where a station sits in the grid hierarchy (district → street → community → grid → micro-grid).
public struct GridLocation: Sendable, Hashable, Codable {
    public var district: String?
    public var street: String?
    public var community: String?
    public var grid: String?
    public var microGrid: String?

    public init(district: String? = nil, street: String? = nil, community: String? = nil, grid: String? = nil, microGrid: String? = nil) {
        self.district = district
        self.street = street
        self.community = community
        self.grid = grid
        self.microGrid = microGrid
    }
}

/// An event before it is stored: no id and no sequence number yet (the store assigns both in the
/// commit that makes it durable).
public struct NewEvent: Sendable, Hashable {
    public var kind: EventKind
    /// The configured name of the device it came from (`reader-1`), or `agent`.
    public var device: String
    /// The device's configured purpose (`check-in`, `volunteer`, ...), if any.
    public var purpose: String?
    public var card: CardRead?
    /// A short human-readable detail (why a device went offline, say).
    public var detail: String?
    /// The id of an earlier event this one refers to (the alarm an `alarm_reset` resets).
    public var related: String?
    /// Wall-clock time when it happened, as the kiosk's clock saw it.
    public var occurredAt: Date
    /// Monotonic time (nanoseconds since boot) when it happened: orders events even when the
    /// wall clock jumps.
    public var monotonicNanos: UInt64
    /// Whether the kiosk's wall clock was synchronised (NTP) when the event was stored; nil when
    /// unknown. The store fills it in from its current clock status when it is nil.
    public var clockSynchronized: Bool?
    /// Set when the store corrected `occurredAt` after a wall-clock jump: the time first recorded.
    public var originalOccurredAt: Date?

    public init(
        kind: EventKind, device: String, purpose: String? = nil, card: CardRead? = nil, detail: String? = nil,
        related: String? = nil, occurredAt: Date = Date(), monotonicNanos: UInt64 = MonotonicTime.nowNanos(),
        clockSynchronized: Bool? = nil, originalOccurredAt: Date? = nil
    ) {
        self.clockSynchronized = clockSynchronized
        self.originalOccurredAt = originalOccurredAt
        self.kind = kind
        self.device = device
        self.purpose = purpose
        self.card = card
        self.detail = detail
        self.related = related
        self.occurredAt = occurredAt
        self.monotonicNanos = monotonicNanos
    }

    public var lane: Lane { kind.lane }
}

/// An event as the store holds it: durable, with its globally unique id and its per-station
/// sequence number.
public struct StoredEvent: Sendable, Hashable {
    /// Per-station sequence number, strictly increasing, never reused (survives restarts).
    public var seq: Int64
    /// Globally unique id (a UUID, lower-case): the platform de-duplicates by it.
    public var id: String
    public var event: NewEvent
    /// When the commit that made it durable finished.
    public var storedAt: Date
    /// The id of the boot the event was stored in (Linux `boot_id`), if known: with
    /// `monotonicNanos` it places the event on one machine timeline even when the wall clock is wrong.
    public var bootID: String?
    /// The station the event was recorded under (`[station] id` then); nil for events stored
    /// before the store kept it, which go out as the current station.
    public var stationID: String?

    public init(seq: Int64, id: String, event: NewEvent, storedAt: Date, bootID: String? = nil, stationID: String? = nil) {
        self.bootID = bootID
        self.stationID = stationID
        self.seq = seq
        self.id = id
        self.event = event
        self.storedAt = storedAt
    }

    public var kind: EventKind { event.kind }
    public var lane: Lane { event.kind.lane }
}

/// Monotonic time that keeps counting across wall-clock jumps.
public enum MonotonicTime {
    public static func nowNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
