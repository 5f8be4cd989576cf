import EventModel
import EventStore
import Logging
import PlatformAPI
import SerialTransport
import ServiceLifecycle
import Synchronization

/// What a device service is built from. A reload keeps a device running, its line open, when
/// its key is unchanged; any change to it (port, profile, purpose, timings, the card-number
/// policy it applies) replaces it.
enum DeviceKey: Hashable, Sendable {
    case reader(CardReaderDevice, cardIDs: String)
    case alarmBox(AlarmBoxConfiguration)
    case alarmButton(AlarmButtonConfiguration)
    case osdpBus(OSDPBusConfiguration, cardIDs: String)

    var name: String {
        switch self {
        case .reader(let device, _): device.name
        case .alarmBox(let box): box.name
        case .alarmButton(let button): button.name
        case .osdpBus(let bus, _): bus.name
        }
    }

    /// Whether the device reads one-key alarms: it is stopped last at shutdown.
    var isAlarmInput: Bool {
        switch self {
        case .alarmBox, .alarmButton: true
        case .osdpBus(let bus, _): bus.readers.contains { $0.alarmInput != nil }
        case .reader: false
        }
    }

    /// Every device of `settings`, alarm inputs first (they are opened first).
    static func all(_ settings: AgentSettings) -> [DeviceKey] {
        let cardIDs = settings.security.cardIDs.identity
        return settings.alarmButtons.map { .alarmButton($0) } + settings.alarmBoxes.map { .alarmBox($0) }
            + settings.osdpBuses.map { .osdpBus($0, cardIDs: cardIDs) } + settings.readers.map { .reader($0, cardIDs: cardIDs) }
    }
}

/// The device services of the whole process, each started and stopped on its own, so that a
/// configuration reload touches only the devices it changes: unchanged devices keep their line
/// open and keep reading through the reload (no gap in which a tap or a press is missed);
/// changed and removed ones are stopped, and their lines closed, before their replacements
/// open them again.
///
/// It runs beside ``AgentGenerations`` in the agent's service group, after it, so graceful
/// shutdown stops the devices first and the forwarder's last pass sees what they stored.
final class DeviceSupervisor<C: Clock>: Service, Sendable where C.Duration == Duration {
    private enum Message: Sendable {
        case apply([DeviceKey], done: CheckedContinuation<Void, Never>)
        case ended(DeviceKey, id: Int, error: (any Error)?)
        case shutdown
    }

    private let make: @Sendable (DeviceKey) -> any Service
    private let initial: [DeviceKey]
    private let ledger: PortLedger
    private let logger: Logger
    private let messages: AsyncStream<Message>
    private let post: AsyncStream<Message>.Continuation

    /// - Parameter make: builds the service for a device (shared intake and coordinator inside).
    init(initial: [DeviceKey], ledger: PortLedger, logger: Logger, make: @escaping @Sendable (DeviceKey) -> any Service) {
        self.initial = initial
        self.ledger = ledger
        self.logger = logger
        self.make = make
        (messages, post) = AsyncStream.makeStream(of: Message.self)
    }

    /// Brings the running devices to `keys`: stops the changed and removed ones and waits until
    /// their lines are closed, then starts the new ones; unchanged ones run on. Returns when done.
    func apply(_ keys: [DeviceKey]) async {
        await withCheckedContinuation { done in
            if case .terminated = post.yield(.apply(keys, done: done)) { done.resume() }
        }
    }

    private final class Unit: Sendable {
        let id: Int
        let stop: AsyncStream<Void>.Continuation
        let stopped: AsyncStream<Void>

        init(id: Int) {
            self.id = id
            (stopped, stop) = AsyncStream.makeStream(of: Void.self)
        }
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await supervise()
        } onGracefulShutdown: {
            self.post.yield(.shutdown)
        }
    }

    private func supervise() async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            var running: [DeviceKey: Unit] = [:]
            var stopping: [Int: DeviceKey] = [:]
            var nextID = 0
            var pending: (keys: [DeviceKey], done: CheckedContinuation<Void, Never>)?
            var shuttingDown = false
            defer { post.finish() }

            func start(_ key: DeviceKey) {
                nextID += 1
                let unit = Unit(id: nextID)
                running[key] = unit
                let service = make(key)
                let post = self.post
                tasks.addTask {
                    var failure: (any Error)?
                    do {
                        try await withThrowingTaskGroup(of: Void.self) { device in
                            device.addTask { try await service.run() }
                            device.addTask { for await _ in unit.stopped { return } }
                            try await device.next()
                            device.cancelAll()
                        }
                    } catch is CancellationError {
                    } catch {
                        failure = error
                    }
                    post.yield(.ended(key, id: unit.id, error: failure))
                }
            }

            func finishApply() async {
                guard let (keys, done) = pending, stopping.isEmpty else { return }
                pending = nil
                // A stopped serial reader's thread closes its port up to one read timeout after
                // its service returned: open the lines again only once they are closed.
                let kept = running.count
                if !(await ledger.waitUntil(atMost: kept)) {
                    logger.warning(
                        "devices stopped by the reload have not closed their lines yet; starting the new ones anyway",
                        metadata: ["devices.open": "\(ledger.openCount)", "devices.kept": "\(kept)"])
                }
                for key in keys where running[key] == nil { start(key) }
                done.resume()
            }

            for key in initial { start(key) }
            for await message in messages {
                switch message {
                case .apply(let keys, let done):
                    guard !shuttingDown else {
                        done.resume()
                        continue
                    }
                    let wanted = Set(keys)
                    for (key, unit) in running where !wanted.contains(key) {
                        running[key] = nil
                        stopping[unit.id] = key
                        unit.stop.yield()
                        logger.info("device changed or removed by the reload; stopping it", metadata: ["device": "\(key.name)"])
                    }
                    let kept = running.keys.map(\.name)
                    if !kept.isEmpty {
                        logger.info("devices unchanged by the reload keep running", metadata: ["devices": "\(kept.sorted())"])
                    }
                    pending = (keys, done)
                    await finishApply()
                case .ended(let key, let id, let error):
                    if stopping.removeValue(forKey: id) != nil {
                        await finishApply()
                    } else if running[key]?.id == id {
                        running[key] = nil
                        if let error, !shuttingDown {
                            logger.critical("a device service failed", metadata: ["device": "\(key.name)", "error": "\(error)"])
                            pending?.done.resume()
                            throw error
                        }
                    }
                    if shuttingDown && running.isEmpty && stopping.isEmpty { return }
                case .shutdown:
                    shuttingDown = true
                    pending?.done.resume()
                    pending = nil
                    for unit in running.values { unit.stop.yield() }
                    if running.isEmpty && stopping.isEmpty { return }
                }
            }
        }
    }
}

extension CardIDPolicy {
    /// Which policy, for comparing configurations: `raw`, or a value that changes with the
    /// district key (a pseudonym of a fixed text, not the key).
    var identity: String {
        switch self {
        case .raw: "raw"
        case .pseudonym(let pseudonymizer): "pseudonym:" + pseudonymizer.pseudonym(of: "station-agent configuration identity")
        }
    }
}

/// The process's devices in two supervisors, so that shutdown can stop them at different
/// moments: card sources first (taps stop being accepted), alarm inputs last, after the
/// forwarder's drain (a press is read to the end). Each has its own port ledger, so a reload
/// waits only for the lines of its own devices.
struct DeviceSupervisors<C: Clock>: Sendable where C.Duration == Duration {
    let alarmInputs: DeviceSupervisor<C>
    let cardSources: DeviceSupervisor<C>

    init(
        initial: [DeviceKey], logger: Logger, ports: any SerialPortProvider, lines: any ModemLineProvider,
        make: @escaping @Sendable (DeviceKey, any SerialPortProvider, any ModemLineProvider) -> any Service
    ) {
        func supervisor(_ keys: [DeviceKey]) -> DeviceSupervisor<C> {
            let ledger = PortLedger()
            let ports = LedgerPortProvider(inner: ports, ledger: ledger)
            let lines = LedgerModemLineProvider(inner: lines, ledger: ledger)
            return DeviceSupervisor(initial: keys, ledger: ledger, logger: logger) { make($0, ports, lines) }
        }
        alarmInputs = supervisor(initial.filter(\.isAlarmInput))
        cardSources = supervisor(initial.filter { !$0.isAlarmInput })
    }

    /// Brings both to `keys` (see ``DeviceSupervisor/apply(_:)``).
    func apply(_ keys: [DeviceKey]) async {
        async let alarms: Void = alarmInputs.apply(keys.filter(\.isAlarmInput))
        async let cards: Void = cardSources.apply(keys.filter { !$0.isAlarmInput })
        _ = await (alarms, cards)
    }
}
