import EventModel
import Foundation

/// The wire format of the platform's ingest API, shared by the agent's uplink and the platform
/// emulator. `docs/platform-api.yaml` is the normative description; these types follow it.
public enum PlatformAPI {
    /// `POST` a batch of events from one station: `/v1/stations/{stationId}/events`.
    public static func ingestPath(stationID: String) -> String {
        "/v1/stations/\(stationID)/events"
    }
    /// `GET` what the platform received, in order of receipt (emulator read API).
    public static let receivedPath = "/v1/received"
    /// `GET` counters of what the platform received (emulator read API).
    public static let statsPath = "/v1/stats"
    /// `GET` liveness.
    public static let healthPath = "/v1/health"
    /// Header carrying the station's credential: `Authorization: Bearer <token>`.
    public static let authorizationHeader = "Authorization"
    /// Maximum number of events in one ingest request.
    public static let maxBatchSize = 1000
}

/// A card as it travels to the platform.
public struct WireCard: Codable, Sendable, Hashable {
    /// The card number, or its pseudonym when `uidKind` says so.
    public var uid: String
    /// How the reader encoded the number: `em4100`, `hex`, `decimal`, `wiegand-26`, ...
    public var format: String
    /// `raw` (the number itself) or `pseudonym-hmac-sha256` (``CardPseudonymizer``). Absent
    /// from older agents' batches, which always sent raw numbers.
    public var uidKind: String?

    public init(uid: String, format: String, uidKind: String? = nil) {
        self.uid = uid
        self.format = format
        self.uidKind = uidKind
    }
}

/// One event in an ingest batch.
public struct WireEvent: Codable, Sendable, Hashable {
    /// Globally unique event id (UUID). The platform de-duplicates by it.
    public var id: String
    /// The station's sequence number for the event (strictly increasing per station).
    public var seq: Int64
    /// One of ``EventKind``'s raw values: `card_tap`, `alarm`, `device_online`, `device_offline`,
    /// `agent_started`, `alarm_reset`, `tamper`, `low_battery`, `power_loss`, `power_restored`,
    /// `device_fault`, `events_evicted`, `clock_jump`.
    public var kind: String
    /// `alarm` or `normal`.
    public var lane: String
    /// ISO 8601 UTC with milliseconds, from the kiosk's clock.
    public var occurredAt: String
    /// Monotonic nanoseconds since the kiosk booted, when it happened.
    public var monotonicNanos: UInt64?
    public var device: String
    public var purpose: String?
    public var card: WireCard?
    public var detail: String?
    /// The id of an earlier event this one refers to (the alarm an `alarm_reset` resets).
    public var related: String?
    /// The kiosk's boot id (Linux `boot_id`) when it happened: `monotonicNanos` counts within it.
    public var bootId: String?
    /// Whether the kiosk's wall clock was synchronised (NTP) when the event was stored; absent
    /// when unknown. `false`: `occurredAt` may be far off (a kiosk without a real-time clock).
    public var clockSynchronized: Bool?
    /// `true` when the kiosk corrected `occurredAt` after a wall-clock jump (its monotonic time
    /// plus the new offset); `originalOccurredAt` then holds the time first recorded.
    public var clockCorrected: Bool?
    public var originalOccurredAt: String?

    public init(
        id: String, seq: Int64, kind: String, lane: String, occurredAt: String, monotonicNanos: UInt64? = nil,
        device: String, purpose: String? = nil, card: WireCard? = nil, detail: String? = nil, related: String? = nil,
        bootId: String? = nil, clockSynchronized: Bool? = nil, clockCorrected: Bool? = nil, originalOccurredAt: String? = nil
    ) {
        self.bootId = bootId
        self.clockSynchronized = clockSynchronized
        self.clockCorrected = clockCorrected
        self.originalOccurredAt = originalOccurredAt
        self.id = id
        self.seq = seq
        self.kind = kind
        self.lane = lane
        self.occurredAt = occurredAt
        self.monotonicNanos = monotonicNanos
        self.device = device
        self.purpose = purpose
        self.card = card
        self.detail = detail
        self.related = related
    }

    public init(_ stored: StoredEvent) {
        self.init(
            id: stored.id, seq: stored.seq, kind: stored.kind.rawValue, lane: stored.lane.rawValue,
            occurredAt: Timestamp.format(stored.event.occurredAt), monotonicNanos: stored.event.monotonicNanos,
            device: stored.event.device, purpose: stored.event.purpose,
            card: stored.event.card.map { WireCard(uid: $0.uid, format: $0.format, uidKind: $0.uidKind.rawValue) }, detail: stored.event.detail,
            related: stored.event.related, bootId: stored.bootID, clockSynchronized: stored.event.clockSynchronized,
            clockCorrected: stored.event.originalOccurredAt == nil ? nil : true,
            originalOccurredAt: stored.event.originalOccurredAt.map(Timestamp.format)
        )
    }
}

/// Who sends a batch.
public struct WireStation: Codable, Sendable, Hashable {
    public var id: String
    public var location: GridLocation?

    public init(id: String, location: GridLocation? = nil) {
        self.id = id
        self.location = location
    }
}

/// `POST /v1/stations/{stationId}/events` request body.
public struct IngestRequest: Codable, Sendable, Hashable {
    public var station: WireStation
    /// When the agent sent the batch (ISO 8601 UTC).
    public var sentAt: String
    public var events: [WireEvent]

    public init(station: WireStation, sentAt: String, events: [WireEvent]) {
        self.station = station
        self.sentAt = sentAt
        self.events = events
    }
}

/// The platform's verdict on one event.
public enum IngestStatus: String, Codable, Sendable, Hashable {
    /// Stored for the first time.
    case accepted
    /// Already stored earlier (same id): acknowledged, not stored again.
    case duplicate
    /// Will never be accepted as sent (the reason says why): the agent stops retrying it.
    case rejected
}

public struct IngestResult: Codable, Sendable, Hashable {
    public var id: String
    public var status: IngestStatus
    public var reason: String?

    public init(id: String, status: IngestStatus, reason: String? = nil) {
        self.id = id
        self.status = status
        self.reason = reason
    }

    /// Whether the agent may consider the event delivered (accepted or already there).
    public var isAcknowledged: Bool { status != .rejected }
}

/// `POST /v1/stations/{stationId}/events` response body (HTTP 200): one result per event of
/// the request. An event of the request that has no result here was not acknowledged.
public struct IngestResponse: Codable, Sendable, Hashable {
    public var results: [IngestResult]

    public init(results: [IngestResult]) {
        self.results = results
    }
}

/// Any 4xx/5xx response body.
public struct ErrorBody: Codable, Sendable, Hashable {
    /// A stable machine-readable code (`bad_request`, `unauthorized`, `too_large`, ...).
    public var error: String
    /// What was wrong and what to do about it.
    public var detail: String

    public init(error: String, detail: String) {
        self.error = error
        self.detail = detail
    }
}

/// One event as the platform emulator received it (read API).
public struct ReceivedEvent: Codable, Sendable, Hashable {
    /// The emulator's own order of first receipt, from 1.
    public var receipt: Int64
    public var stationID: String
    /// When the emulator first received it (ISO 8601 UTC).
    public var receivedAt: String
    /// How many times it was sent (1 = no duplicate).
    public var deliveries: Int
    public var event: WireEvent

    public init(receipt: Int64, stationID: String, receivedAt: String, deliveries: Int, event: WireEvent) {
        self.receipt = receipt
        self.stationID = stationID
        self.receivedAt = receivedAt
        self.deliveries = deliveries
        self.event = event
    }
}

/// `GET /v1/received?station=&after=&limit=` response body.
public struct ReceivedPage: Codable, Sendable, Hashable {
    public var events: [ReceivedEvent]
    /// Pass as `after` to read the next page (the last receipt in `events`, or the `after` given).
    public var next: Int64

    public init(events: [ReceivedEvent], next: Int64) {
        self.events = events
        self.next = next
    }
}

/// `GET /v1/stats` response body.
public struct EmulatorStats: Codable, Sendable, Hashable {
    /// Distinct events stored.
    public var accepted: Int64
    /// Events received again and discarded.
    public var duplicates: Int64
    /// Events rejected as invalid.
    public var rejected: Int64
    /// Ingest requests answered 200.
    public var batches: Int64
    /// Requests answered 4xx.
    public var badRequests: Int64

    public init(accepted: Int64, duplicates: Int64, rejected: Int64, batches: Int64, badRequests: Int64) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.rejected = rejected
        self.batches = batches
        self.badRequests = badRequests
    }
}
