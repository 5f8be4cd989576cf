import EventModel
import EventStore
import Logging
import Metrics

/// A device's online/offline state and the events that report its changes: one event per
/// change, not one per retry. Every device service keeps one per device. For alarm devices it
/// also tells the ``AlarmCoordinator``, which shows `fault` at the device while it is offline.
struct DeviceHealth {
    let name: String
    let purpose: String?
    let store: EventStore
    let coordinator: AlarmCoordinator?
    let logger: Logger
    private(set) var state: DeviceState = .unknown

    init(name: String, purpose: String?, store: EventStore, coordinator: AlarmCoordinator? = nil, logger: Logger) {
        self.name = name
        self.purpose = purpose
        self.store = store
        self.coordinator = coordinator
        self.logger = logger
    }

    /// The device answers: a `device_online` event if it was offline (not at the first open),
    /// and its state for `station-agent status`.
    mutating func online(_ detail: String) async throws {
        guard state != .online else { return }
        if state == .offline {
            _ = try await store.append(NewEvent(kind: .deviceOnline, device: name, purpose: purpose, detail: detail))
            logger.notice("device back", metadata: ["device": "\(name)", "detail": "\(detail)"])
        }
        try await store.setDeviceState(name, state: .online, detail: detail)
        await coordinator?.setFault(name, false)
        DeviceMetrics.online(name, reconnected: state == .offline)
        state = .online
    }

    /// The device is gone or silent: one `kind` event (`device_offline`, `device_fault`) until it
    /// is back.
    mutating func offline(_ detail: String, kind: EventKind = .deviceOffline) async throws {
        guard state != .offline else { return }
        _ = try await store.append(NewEvent(kind: kind, device: name, purpose: purpose, detail: detail))
        try await store.setDeviceState(name, state: .offline, detail: detail)
        await coordinator?.setFault(name, true)
        DeviceMetrics.offline(name)
        logger.warning("device not available", metadata: ["device": "\(name)", "detail": "\(detail)", "event": "\(kind.rawValue)"])
        state = .offline
    }
}
