import EventModel
import Foundation

/// Why the store could not do what was asked, and where.
public struct EventStoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        case stateDirectoryMissing
        case stateDirectoryNotWritable
        case openFailed
        case unknownEventKind
        /// The disk or the store's page cap is full (SQLITE_FULL); nothing was stored.
        case storageFull
        /// The database file is corrupt (SQLITE_CORRUPT / SQLITE_NOTADB).
        case corrupt
        /// The storage layer failed a write (I/O error, read-only remount).
        case writeFailed
    }

    public var code: Code
    /// The file or directory concerned.
    public var path: String?
    public var message: String

    public init(_ code: Code, path: String?, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }
}

/// The platform's verdict on one event, as the store records it.
public enum DeliveryStatus: String, Sendable, Hashable {
    case accepted
    case duplicate
    case rejected
}

/// A verdict for the event with sequence number `seq`.
public struct DeliveryOutcome: Sendable, Hashable {
    public var seq: Int64
    public var status: DeliveryStatus
    public var reason: String?

    public init(seq: Int64, status: DeliveryStatus, reason: String? = nil) {
        self.seq = seq
        self.status = status
        self.reason = reason
    }
}

/// An event with its delivery state (for inspection and tests).
public struct StoredRecord: Sendable, Hashable {
    public var event: StoredEvent
    public var deliveredAt: Date?
    public var outcome: DeliveryStatus?
}

/// A device's state as the agent last saw it.
public enum DeviceState: String, Sendable, Hashable {
    case online
    case offline
    case unknown
}

public struct DeviceStatus: Sendable, Hashable {
    public var name: String
    public var state: DeviceState
    public var detail: String?
    public var changedAt: Date
}

public struct LaneSummary: Sendable, Hashable {
    /// Undelivered events in the lane.
    public var count: Int
    /// When the oldest undelivered event was stored.
    public var oldestStoredAt: Date?

    public init(count: Int, oldestStoredAt: Date?) {
        self.count = count
        self.oldestStoredAt = oldestStoredAt
    }
}

/// What `station-agent status` shows.
public struct QueueSummary: Sendable, Hashable {
    public var lanes: [Lane: LaneSummary]
    public var lastDeliveryAt: Date?
    /// The highest sequence number ever stored (0 if none).
    public var lastSeq: Int64
    public var devices: [DeviceStatus]

    public var totalQueued: Int { lanes.values.reduce(0) { $0 + $1.count } }
}
