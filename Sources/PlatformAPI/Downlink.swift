import EventModel

// The platform → kiosk direction and the station's liveness: commands (an operator took an
// alarm, dispatched help, reset it) fetched by long-poll, and the agent's own heartbeat.
// `docs/platform-api.yaml` is the normative description.

extension PlatformAPI {
    /// `GET /v1/stations/{stationId}/commands?after=N&waitSeconds=W`: long-poll for commands
    /// newer than cursor `N`. Answers at once when there are any, otherwise after at most `W`
    /// seconds (1...60, default 25) with an empty list.
    public static func commandsPath(stationID: String) -> String {
        "/v1/stations/\(stationID)/commands"
    }

    /// `POST /v1/stations/{stationId}/heartbeat` with a ``Heartbeat``: 204.
    public static func heartbeatPath(stationID: String) -> String {
        "/v1/stations/\(stationID)/heartbeat"
    }

    /// Longest long-poll wait the platform accepts.
    public static let maxCommandWaitSeconds = 60
}

/// What the platform tells a station about one of its alarms.
public enum StationCommandType: String, Codable, Sendable, Hashable, CaseIterable {
    /// An operator took the alarm.
    case alarmAcknowledged = "alarm_acknowledged"
    /// Help was dispatched to the station.
    case alarmDispatched = "alarm_dispatched"
    /// The platform reset the latched alarm (the kiosk records an `alarm_reset` event).
    case alarmReset = "alarm_reset"
}

/// One command for a station, in the platform's order.
public struct StationCommand: Codable, Sendable, Hashable {
    /// The command's cursor: strictly increasing per station. Pass the last one seen as `after`.
    public var id: Int64
    public var type: StationCommandType
    /// The alarm event the command is about.
    public var eventId: String
    /// Who acted, as the platform names them.
    public var operatorName: String?
    public var note: String?
    /// ISO 8601 UTC.
    public var issuedAt: String

    public init(id: Int64, type: StationCommandType, eventId: String, operatorName: String? = nil, note: String? = nil, issuedAt: String) {
        self.id = id
        self.type = type
        self.eventId = eventId
        self.operatorName = operatorName
        self.note = note
        self.issuedAt = issuedAt
    }
}

/// `GET /v1/stations/{stationId}/commands` response body.
public struct CommandPage: Codable, Sendable, Hashable {
    public var commands: [StationCommand]
    /// The cursor to pass as `after` next time (the last command's id, or the `after` given).
    public var next: Int64

    public init(commands: [StationCommand], next: Int64) {
        self.commands = commands
        self.next = next
    }
}

/// A device's state as the agent reports it in its heartbeat.
public struct DeviceHeartbeat: Codable, Sendable, Hashable {
    public var name: String
    /// `online`, `offline` or `unknown`.
    public var state: String
    public var detail: String?

    public init(name: String, state: String, detail: String? = nil) {
        self.name = name
        self.state = state
        self.detail = detail
    }
}

/// `POST /v1/stations/{stationId}/heartbeat` request body, sent every `heartbeat_seconds`
/// (default 30) so the platform can flag a silent station.
public struct Heartbeat: Codable, Sendable, Hashable {
    public var sentAt: String
    public var agentVersion: String
    public var bootId: String?
    /// Undelivered events per lane (`alarm`, `normal`).
    public var queued: [String: Int]
    /// When the oldest undelivered event was stored, if any.
    public var oldestQueuedAt: String?
    public var devices: [DeviceHeartbeat]
    /// Latched alarms at the kiosk (event ids), not yet reset.
    public var latchedAlarms: [String]

    public init(
        sentAt: String, agentVersion: String, bootId: String?, queued: [String: Int], oldestQueuedAt: String?,
        devices: [DeviceHeartbeat], latchedAlarms: [String]
    ) {
        self.sentAt = sentAt
        self.agentVersion = agentVersion
        self.bootId = bootId
        self.queued = queued
        self.oldestQueuedAt = oldestQueuedAt
        self.devices = devices
        self.latchedAlarms = latchedAlarms
    }
}

// MARK: Emulator-only: the operator's console and station overview

/// `POST /v1/operator/alarms/{eventId}/{acknowledge|dispatch|reset}` request body (optional).
public struct OperatorAction: Codable, Sendable, Hashable {
    public var operatorName: String?
    public var note: String?

    public init(operatorName: String? = nil, note: String? = nil) {
        self.operatorName = operatorName
        self.note = note
    }
}

/// An alarm as the operator's console shows it.
public struct AlarmView: Codable, Sendable, Hashable {
    public enum State: String, Codable, Sendable, Hashable {
        case received, acknowledged, dispatched, reset
    }

    public var eventId: String
    public var stationID: String
    public var device: String
    public var occurredAt: String
    public var receivedAt: String
    public var state: State
    public var acknowledgedAt: String?
    public var dispatchedAt: String?
    public var resetAt: String?

    public init(
        eventId: String, stationID: String, device: String, occurredAt: String, receivedAt: String, state: State,
        acknowledgedAt: String? = nil, dispatchedAt: String? = nil, resetAt: String? = nil
    ) {
        self.eventId = eventId
        self.stationID = stationID
        self.device = device
        self.occurredAt = occurredAt
        self.receivedAt = receivedAt
        self.state = state
        self.acknowledgedAt = acknowledgedAt
        self.dispatchedAt = dispatchedAt
        self.resetAt = resetAt
    }
}

/// A station as the platform sees it (`GET /v1/stations`).
public struct StationView: Codable, Sendable, Hashable {
    public var stationID: String
    public var lastHeartbeatAt: String?
    /// No heartbeat for longer than the `silentAfterSeconds` asked for (default 90).
    public var silent: Bool
    public var heartbeat: Heartbeat?

    public init(stationID: String, lastHeartbeatAt: String?, silent: Bool, heartbeat: Heartbeat?) {
        self.stationID = stationID
        self.lastHeartbeatAt = lastHeartbeatAt
        self.silent = silent
        self.heartbeat = heartbeat
    }
}
