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
    let intake: EventIntake
    let coordinator: AlarmCoordinator?
    let logger: Logger
    private(set) var state: DeviceState = .unknown

    init(name: String, purpose: String?, intake: EventIntake, coordinator: AlarmCoordinator? = nil, logger: Logger) {
        self.name = name
        self.purpose = purpose
        self.intake = intake
        self.coordinator = coordinator
        self.logger = logger
    }

    /// The device answers: a `device_online` event if it was offline (not at the first open),
    /// and its state for `station-agent status`. A store that refuses the write never stops the
    /// device: the event is held (``EventIntake``) and the state is written at the next change.
    mutating func online(_ detail: String) async {
        guard state != .online else { return }
        if state == .offline {
            await intake.append(NewEvent(kind: .deviceOnline, device: name, purpose: purpose, detail: detail))
            logger.notice("device back", metadata: ["device": "\(name)", "detail": "\(detail)"])
        }
        await intake.recordDeviceState(name, state: .online, detail: detail)
        await coordinator?.setFault(name, false)
        DeviceMetrics.online(name, reconnected: state == .offline)
        state = .online
    }

    /// The device is gone or silent: one `kind` event (`device_offline`, `device_fault`) until it
    /// is back.
    mutating func offline(_ detail: String, kind: EventKind = .deviceOffline) async {
        guard state != .offline else { return }
        await intake.append(NewEvent(kind: kind, device: name, purpose: purpose, detail: detail))
        await intake.recordDeviceState(name, state: .offline, detail: detail)
        await coordinator?.setFault(name, true)
        DeviceMetrics.offline(name)
        logger.warning("device not available", metadata: ["device": "\(name)", "detail": "\(detail)", "event": "\(kind.rawValue)"])
        state = .offline
    }
}
