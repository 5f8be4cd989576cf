import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import Metrics
import PlatformAPI
import Synchronization

/// Told by the forwarder what happens to the events it delivers.
public protocol DeliveryObserver: Sendable {
    /// A request carrying `events` is about to go out.
    func sending(_ events: [StoredEvent]) async
    /// The platform acknowledged `events` (accepted or duplicate).
    func acknowledged(_ events: [StoredEvent]) async
    /// The platform rejected `events` (they are kept; alarms are sent again every 5 minutes).
    func refused(_ events: [StoredEvent]) async
}

/// The one place that knows which alarms are latched at the kiosk and how far each has come
/// (stored → sent → received by the platform → acknowledged by an operator → dispatched), and
/// that tells each alarm device what to show.
///
/// Latches live in the event store, so a killed agent loses none: after a restart the devices
/// show the same stage again. An alarm stays latched until reset by hand: a key switch on the
/// device, or a reset command from the platform; each reset is itself an `alarm_reset` event.
public actor AlarmCoordinator: DeliveryObserver {
    /// The store, once it is open (``attach(_:)``); until then presses are held by the intake.
    private var store: EventStore?
    private let intake: EventIntake
    private let logger: Logger
    private let testMarker: TestAlarmMarker?
    private var latched: [String: LatchedAlarm] = [:]
    private var faulted: Set<String> = []
    /// Presses the store has not taken yet (held by the intake), by device: the device shows
    /// `fault` for them, truthfully "not yet stored", until they are stored and latched.
    private var unstored: [UUID: String] = [:]
    /// Presses stored before ``raise(device:purpose:detail:)`` learnt whether it was held.
    private var storedTokens: Set<UUID> = []
    /// Latched alarms the platform rejected and has not accepted since: their device shows
    /// `fault` (the alarm did not get through), not `sent`.
    private var refusedByPlatform: Set<String> = []
    /// Alarms reset at a device, whose `alarm_reset` may not be committed yet: never latched
    /// again from the store's record of them. (Alarms are rare; this stays small.)
    private var resetHere: Set<String> = []
    private let hub = IndicationHub()
    private let alarms = Counter(label: "station_alarms_total")

    /// - Parameter intake: the devices' path to the store (one per process); a store-only
    ///   coordinator (tests) gets one of its own.
    public init(store: EventStore, intake: EventIntake? = nil, logger: Logger) {
        self.store = store
        self.intake = intake ?? EventIntake(store: store, logger: logger)
        self.logger = logger
        self.testMarker = store.directory.map(TestAlarmMarker.init(stateDirectory:))
    }

    /// A coordinator that starts before the store is open: presses go to `intake` (held until
    /// the store is attached); ``attach(_:)`` brings the store and the latches it kept.
    public init(intake: EventIntake, stateDirectory: String, logger: Logger) {
        self.store = nil
        self.intake = intake
        self.logger = logger
        self.testMarker = TestAlarmMarker(stateDirectory: stateDirectory)
    }

    /// The store is open: loads the latches that survived a restart.
    public func attach(_ store: EventStore) async throws {
        self.store = store
        try await restore()
    }

    /// Loads the latches that survived a restart (beside any latched since this start).
    public func restore() async throws {
        guard let store else { return }
        for latch in try await store.alarmLatches.all() where latched[latch.eventID] == nil {
            latched[latch.eventID] = latch
        }
        if !latched.isEmpty {
            logger.warning(
                "alarms still latched from before the restart",
                metadata: ["alarms": "\(latched.values.map { "\($0.device):\($0.eventID)" })"])
        }
        for device in Set(latched.values.map(\.device)) { publish(device) }
    }

    /// A press: stores the alarm durably and latches it, then shows `stored` at the device.
    /// When the store refuses the write (a full disk), the alarm is held in memory by the intake
    /// and retried first of all; the device shows `fault` ("not yet stored") until it is stored
    /// and latched. Returns the stored alarm, or nil while it is held. The event keeps the time
    /// of the press whenever it is stored.
    @discardableResult
    public func raise(device: String, purpose: String?, detail: String?) async -> StoredEvent? {
        var detail = detail
        if testMarker?.isArmed == true {
            detail = "TEST (station-agent test-alarm): " + (detail ?? "")
        }
        let event = NewEvent(kind: .alarm, device: device, purpose: purpose, detail: detail)
        let token = UUID()
        let result = StoredBox()
        let storedNow = await intake.submit(
            EventIntake.Write(what: "alarm from \(device)", alarmLane: true) { [self] store in
                let stored = try await store.alarmLatches.raise(event)
                result.set(stored)
                await self.latch(stored, token: token)
            })
        if storedNow { return result.value }
        if storedTokens.remove(token) == nil {
            unstored[token] = device
            logger.critical(
                "ALARM pressed but not yet stored: held in memory and retried first",
                metadata: ["device": "\(device)", "held": "\(intake.heldCount)"])
            publish(device)
        }
        return nil
    }

    /// A held or fresh alarm is durable (and latched in the store, in the same commit): latch it
    /// here and show it. The forwarder may already have moved it on (it can send the alarm the
    /// moment it is committed, before this runs): then it keeps that stage.
    private func latch(_ stored: StoredEvent, token: UUID) {
        if unstored.removeValue(forKey: token) == nil { storedTokens.insert(token) }
        if latched[stored.id] == nil {
            latched[stored.id] = LatchedAlarm(
                eventID: stored.id, seq: stored.seq, device: stored.event.device, stage: .stored, latchedAt: stored.storedAt)
        }
        alarms.increment()
        logger.critical(
            "ALARM stored", metadata: ["device": "\(stored.event.device)", "event.id": "\(stored.id)", "event.seq": "\(stored.seq)"])
        publish(stored.event.device)
    }

    /// A reset at the device (key switch): resets every alarm latched on it. The latches go at
    /// once; each `alarm_reset` event goes through the intake (held and retried when the store
    /// refuses it). Returns the resets stored now.
    @discardableResult
    public func resetAtDevice(_ device: String) async -> [StoredEvent] {
        var resets: [StoredEvent] = []
        for latch in latched.values.filter({ $0.device == device }).sorted(by: { $0.seq < $1.seq }) {
            latched[latch.eventID] = nil
            resetHere.insert(latch.eventID)
            let result = StoredBox()
            let storedNow = await intake.submit(
                EventIntake.Write(what: "alarm reset from \(device)", alarmLane: true) { store in
                    if let reset = try await store.alarmLatches.reset(latch.eventID, device: device, detail: "reset at the device") {
                        result.set(reset)
                    }
                })
            if storedNow, let reset = result.value { resets.append(reset) }
        }
        if !resets.isEmpty {
            logger.notice("alarm reset at the device", metadata: ["device": "\(device)", "alarms": "\(resets.count)"])
        }
        publish(device)
        return resets
    }

    /// A command from the platform.
    public func apply(_ command: StationCommand) async throws {
        switch command.type {
        case .alarmAcknowledged:
            try await advance(command.eventId, to: .acknowledged, by: command.operatorName)
        case .alarmDispatched:
            try await advance(command.eventId, to: .dispatched, by: command.operatorName)
        case .alarmReset:
            var known = latched[command.eventId]
            if known == nil, !resetHere.contains(command.eventId) {
                // Not latched here yet (its `raise` has not returned): the store's latch counts.
                known = try await store?.alarmLatches.latch(command.eventId)
            }
            guard let latch = known else {
                logger.info("platform reset an alarm that is not latched here", metadata: ["event.id": "\(command.eventId)"])
                return
            }
            guard let store else { return }  // commands come only once the store is open
            _ = try await store.alarmLatches.reset(
                latch.eventID, device: latch.device, detail: "reset by the platform (\(command.operatorName ?? "operator"))")
            latched[latch.eventID] = nil
            resetHere.insert(latch.eventID)
            logger.notice("alarm reset by the platform", metadata: ["device": "\(latch.device)", "event.id": "\(latch.eventID)"])
            publish(latch.device)
        }
    }

    /// Marks a device faulty (it shows `fault` while it has no latched alarm) or healthy again.
    public func setFault(_ device: String, _ fault: Bool) {
        if fault { faulted.insert(device) } else { faulted.remove(device) }
        publish(device)
    }

    public func sending(_ events: [StoredEvent]) async {
        await advanceAll(events, to: .sent)
    }

    public func acknowledged(_ events: [StoredEvent]) async {
        for event in events where refusedByPlatform.remove(event.id) != nil {
            logger.notice("the platform accepted an alarm it had rejected", metadata: ["event.id": "\(event.id)"])
        }
        await advanceAll(events, to: .received)
    }

    public func refused(_ events: [StoredEvent]) async {
        for event in events where event.kind == .alarm {
            guard let latch = latched[event.id] else { continue }
            refusedByPlatform.insert(event.id)
            logger.critical(
                "the platform rejected an alarm; the device shows fault, the alarm is sent again every 5 minutes (and over DC-09 when configured)",
                metadata: ["device": "\(latch.device)", "event.id": "\(event.id)"])
            publish(latch.device)
        }
    }

    /// What `device` should show now, then every change. One stream per subscriber.
    public func indications(for device: String) -> AsyncStream<AlarmIndication> {
        hub.watch(device, current: indication(for: device))
    }

    /// Whether `device` has an alarm latched, or pressed and held until the store takes it.
    public func hasAlarm(on device: String) -> Bool {
        unstored.values.contains(device) || latched.values.contains { $0.device == device }
    }

    /// The alarms latched now, oldest first.
    public func latchedAlarms() -> [LatchedAlarm] {
        latched.values.sorted { $0.seq < $1.seq }
    }

    /// What `device` shows: the newest latched alarm's stage, else `fault` or `idle`.
    public func indication(for device: String) -> AlarmIndication {
        if unstored.values.contains(device) { return .fault }
        guard let newest = latched.values.filter({ $0.device == device }).max(by: { $0.seq < $1.seq }) else {
            return faulted.contains(device) ? .fault : .idle
        }
        if refusedByPlatform.contains(newest.eventID) { return .fault }
        switch newest.stage {
        case .stored: return .stored
        case .sent: return .sent
        case .received: return .received
        case .acknowledged: return .acknowledged
        case .dispatched: return .dispatched
        }
    }

    private func advanceAll(_ events: [StoredEvent], to stage: AlarmStage) async {
        for event in events where event.kind == .alarm {
            do {
                try await advance(event.id, to: stage, by: nil)
            } catch {
                logger.error("cannot record an alarm's progress", metadata: ["event.id": "\(event.id)", "error": "\(error)"])
            }
        }
    }

    private func advance(_ eventID: String, to stage: AlarmStage, by operatorName: String?) async throws {
        if let latch = latched[eventID], stage <= latch.stage { return }
        // An alarm not latched here yet may be one whose `raise` has not returned: the forwarder
        // sends an alarm as soon as it is committed, and its commit latches it in the store. The
        // store's latch is the truth; an alarm reset here (or unknown) has none.
        guard let store, !resetHere.contains(eventID) else { return }
        if let updated = try await store.alarmLatches.advance(eventID, to: stage) {
            latched[eventID] = updated
            logger.notice(
                "alarm \(stage.rawValue)",
                metadata: ["device": "\(updated.device)", "event.id": "\(eventID)", "operator": "\(operatorName ?? "-")"])
            publish(updated.device)
        }
    }

    private func publish(_ device: String) {
        hub.publish(device, indication(for: device))
    }
}

/// The subscribers to each device's indication. A lock rather than actor state, so that a
/// subscriber that goes away can unsubscribe synchronously from `onTermination`.
final class IndicationHub: Sendable {
    private let watchers = Mutex<[String: [UUID: AsyncStream<AlarmIndication>.Continuation]]>([:])

    func watch(_ device: String, current: AlarmIndication) -> AsyncStream<AlarmIndication> {
        let (stream, continuation) = AsyncStream<AlarmIndication>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        watchers.withLock { $0[device, default: [:]][id] = continuation }
        continuation.yield(current)
        continuation.onTermination = { [weak self] _ in
            self?.watchers.withLock { _ = $0[device]?.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ device: String, _ indication: AlarmIndication) {
        let continuations = watchers.withLock { Array(($0[device] ?? [:]).values) }
        for continuation in continuations { continuation.yield(indication) }
    }
}
