import EventModel
import PlatformAPI
import Uplink

/// Something that delivers a batch of events and returns the platform's verdicts by event id.
/// The live one is ``PlatformClient``; tests use scripted ones.
public protocol EventSender: Sendable {
    func send(_ events: [StoredEvent]) async throws(UplinkError) -> [String: IngestResult]
}

extension PlatformClient: EventSender {}
