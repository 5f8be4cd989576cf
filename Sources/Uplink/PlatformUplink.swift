import EventModel
import PlatformAPI

/// How stored events go up to the platform: one batch per call, the platform's verdicts back
/// keyed by event id (events missing from the answer were not acknowledged). It does not retry;
/// the forwarder's `DeliveryLane` decides that, the same for every uplink.
public protocol EventUplink: Sendable {
    func send(_ events: [StoredEvent]) async throws(UplinkError) -> [String: IngestResult]
}

/// How the platform's commands come down to the station (acknowledged, dispatched, reset), and
/// how the station tells the platform it is alive.
public protocol CommandUplink: Sendable {
    /// Waits up to `wait` for commands newer than `after`; an empty page when none came.
    func pollCommands(after: Int64, wait: Duration) async throws(UplinkError) -> CommandPage
    func sendHeartbeat(_ heartbeat: Heartbeat) async throws(UplinkError)
}

/// Everything the agent says to and hears from the platform. HTTP (``PlatformClient``) is the
/// first implementation; another transport (MQTT) is a second conformance, and the services
/// that use it (forwarder, downlink, heartbeat) do not change.
public typealias PlatformUplink = EventUplink & CommandUplink

extension PlatformClient: PlatformUplink {}
