import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import Metrics
import OSDP
import SerialTransport
import ServiceLifecycle
import StationConfig
import Synchronization
import Uplink

/// A configured RS-485 bus of OSDP readers.
public struct OSDPBusConfiguration: Sendable, Hashable {
    public struct Reader: Sendable, Hashable {
        public var address: UInt8
        public var name: String
        public var purpose: String
        public var secureChannel: OSDPSecureChannelMode
        public var alarmInput: Int?

        public init(address: UInt8, name: String, purpose: String, secureChannel: OSDPSecureChannelMode, alarmInput: Int?) {
            self.address = address
            self.name = name
            self.purpose = purpose
            self.secureChannel = secureChannel
            self.alarmInput = alarmInput
        }
    }

    public var name: String
    public var port: PortSpec
    public var baud: Int
    public var turnaroundGap: Duration?
    public var readers: [Reader]
    public var reopen: RetryPolicy

    public init(name: String, port: PortSpec, baud: Int, turnaroundGap: Duration?, readers: [Reader], reopen: RetryPolicy) {
        self.name = name
        self.port = port
        self.baud = baud
        self.turnaroundGap = turnaroundGap
        self.readers = readers
        self.reopen = reopen
    }

    var panelConfiguration: OSDPControlPanelConfiguration {
        var configuration = OSDPControlPanelConfiguration(
            readers: readers.map { OSDPReaderConfiguration(address: $0.address, name: $0.name, secureChannel: $0.secureChannel) })
        configuration.baudRate = baud
        configuration.turnaroundGap = turnaroundGap
        return configuration
    }
}

/// Runs one OSDP bus as its control panel: the pure `OSDPControlPanel` state machine is driven on
/// a dedicated thread (serial reads block), its events come here: a card becomes a stored tap
/// (then the reader shows "accepted"), the input wired to a one-key alarm becomes a latched
/// alarm, tamper and power reports become events, a reader silent for 8 s is reported offline
/// and online again when it answers. An operator's acknowledgement of an alarm raised on a
/// reader is shown on that reader's LED and buzzer.
public struct OSDPBusService<C: Clock>: Service where C.Duration == Duration {
    let bus: OSDPBusConfiguration
    let intake: EventIntake
    let coordinator: AlarmCoordinator
    let ports: any SerialPortProvider
    let clock: C
    let logger: Logger
    /// Raw numbers or pseudonyms (`[privacy] card_ids`).
    let cardIDs: CardIDPolicy
    /// Marks each event's handling, for the watchdog (``WatchdogService``).
    let liveness: Liveness

    public init(
        bus: OSDPBusConfiguration, intake: EventIntake, coordinator: AlarmCoordinator, ports: any SerialPortProvider,
        cardIDs: CardIDPolicy, clock: C, logger: Logger, liveness: Liveness = Liveness()
    ) {
        self.liveness = liveness
        self.cardIDs = cardIDs
        self.bus = bus
        self.intake = intake
        self.coordinator = coordinator
        self.ports = ports
        self.clock = clock
        var logger = logger
        logger[metadataKey: "device"] = "\(bus.name)"
        self.logger = logger
    }

    public func run() async throws {
        try await runUntilGracefulShutdown { try await runForever() }
    }

    private func runForever() async throws {
        var busHealth = DeviceHealth(name: bus.name, purpose: nil, intake: intake, logger: logger)
        var readerHealth = Dictionary(uniqueKeysWithValues: bus.readers.map {
            ($0.name, DeviceHealth(name: $0.name, purpose: $0.purpose, intake: intake, logger: logger))
        })
        var deduplicator = TapDeduplicator(window: .seconds(1))
        let origin = clock.now
        try await DeviceLineDriver(reopen: bus.reopen, port: "\(bus.port)", clock: clock).run(
            health: &busHealth,
            open: { try ports.open(bus.port, settings: SerialSettings(baud: bus.baud)) }
        ) { port, busHealth in
            await busHealth.online("open on \(port.name)")
            let driver: OSDPDriver
            do {
                driver = try OSDPDriver(port: port, configuration: bus.panelConfiguration, logger: logger)
            } catch {
                port.close()
                logger.critical("the OSDP bus configuration is invalid", metadata: ["error": "\(error)"])
                throw error
            }
            defer { driver.stop() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for reader in bus.readers where reader.alarmInput != nil {
                    group.addTask { await showAlarmProgress(on: reader, through: driver) }
                }
                for await event in driver.events {
                    liveness.busy(bus.name)
                    defer { liveness.idle(bus.name) }
                    try await handle(
                        event, driver: driver, readerHealth: &readerHealth, deduplicator: &deduplicator,
                        now: origin.duration(to: clock.now))
                }
                group.cancelAll()
            }
            // The line was lost: every reader restarts with discovery on the next panel.
            return "lost \(port.name)"
        }
    }

    private func handle(
        _ event: OSDPEvent, driver: OSDPDriver, readerHealth: inout [String: DeviceHealth], deduplicator: inout TapDeduplicator,
        now: Duration
    ) async throws {
        guard let reader = bus.readers.first(where: { $0.address == event.address }) else { return }
        switch event.kind {
        case .cardRead(let card):
            let read: CardRead
            if let decoded = card.wiegand.card {
                read = CardRead(uid: "\(decoded.facilityCode):\(decoded.cardNumber)", format: decoded.format.rawValue)
            } else {
                read = CardRead(uid: card.raw.bitString, format: "osdp-raw-\(card.raw.bitCount)")
            }
            guard deduplicator.admit("\(reader.address)/\(read.uid)", at: now) else { return }
            guard
                let stored = await intake.append(
                    NewEvent(kind: .cardTap, device: reader.name, purpose: reader.purpose, card: cardIDs.apply(read)))
            else {
                // Held in memory, not yet durable: the reader must not say "accepted".
                driver.feedback(.rejected, to: reader.address)
                return
            }
            driver.feedback(.accepted, to: reader.address)
            logger.info(
                "card tap stored",
                metadata: ["reader": "\(reader.name)", "event.seq": "\(stored.seq)", "card": "\(CardReaderService<C>.masked(stored.event.card?.uid ?? ""))"])
        case .inputChanged(let input, let active):
            guard input == reader.alarmInput else {
                logger.info("reader input changed", metadata: ["reader": "\(reader.name)", "input": "\(input)", "active": "\(active)"])
                return
            }
            if active {
                await coordinator.raise(device: reader.name, purpose: reader.purpose, detail: "one-key alarm on OSDP input \(input)")
            }
        case .tamperChanged(let tampered):
            await intake.append(
                NewEvent(kind: .tamper, device: reader.name, purpose: reader.purpose, detail: tampered ? "reader tamper" : "reader tamper cleared"))
        case .powerChanged(let failure):
            await intake.append(
                NewEvent(kind: failure ? .powerLoss : .powerRestored, device: reader.name, purpose: reader.purpose, detail: "reported by the reader"))
        case .offline(let silentFor):
            await readerHealth[reader.name]?.offline("no reply for \(silentFor)")
        case .online:
            await readerHealth[reader.name]?.online("answers on OSDP address \(reader.address)")
        case .secureChannelFailed(let reason):
            await intake.append(
                NewEvent(kind: .deviceFault, device: reader.name, purpose: reader.purpose, detail: "secure channel: \(reason)"))
            logger.error("OSDP secure channel failed", metadata: ["reader": "\(reader.name)", "reason": "\(reason)"])
        case .keyInstalled:
            logger.notice("OSDP key installed; set install = false for this reader", metadata: ["reader": "\(reader.name)"])
        case .secureChannelEstablished(let defaultKey):
            logger.info("OSDP secure channel established", metadata: ["reader": "\(reader.name)", "default_key": "\(defaultKey)"])
        case .keypad(let keys):
            logger.info("keypad input (not forwarded in this version)", metadata: ["reader": "\(reader.name)", "keys": "\(keys.text.count)"])
        case .identified, .capabilities, .commandAcknowledged:
            return
        case .commandRejected, .capabilityMissing, .commandDropped, .protocolError:
            logger.debug("OSDP", metadata: ["reader": "\(reader.name)", "event": "\(event.kind)"])
        }
    }

    /// Shows an operator's acknowledgement of an alarm raised on this reader's input.
    private func showAlarmProgress(on reader: OSDPBusConfiguration.Reader, through driver: OSDPDriver) async {
        for await indication in await coordinator.indications(for: reader.name) {
            switch indication {
            case .acknowledged, .dispatched: driver.feedback(.alarmAcknowledged, to: reader.address)
            case .idle: driver.feedback(.idle, to: reader.address)
            default: continue
            }
        }
    }
}

/// The control panel on its own thread: reads the port with a short timeout, feeds the state
/// machine, writes what it says, and hands its events to an async stream. Feedback commands from
/// the async side are queued under a lock and enqueued between reads.
final class OSDPDriver: Sendable {
    let events: AsyncStream<OSDPEvent>
    private let shared = Shared()

    /// What the thread and the async side share.
    private final class Shared: Sendable {
        let feedback = Mutex<[(OSDPFeedback, UInt8)]>([])
        let stopped = Atomic<Bool>(false)
    }

    init(port: any SerialPort, configuration: OSDPControlPanelConfiguration, logger: Logger) throws {
        let initial = try OSDPControlPanel(configuration: configuration)
        let (events, sink) = AsyncStream<OSDPEvent>.makeStream()
        self.events = events
        let thread = Thread { [shared] in
            var panel = initial
            let clock = ContinuousClock()
            let origin = clock.now
            var actions = panel.start(now: .zero)
            loop: while !shared.stopped.load(ordering: .relaxed) {
                for action in actions {
                    switch action {
                    case .send(let bytes):
                        do {
                            try port.write(bytes)
                        } catch {
                            logger.warning("OSDP write failed", metadata: ["error": "\(error)"])
                            if let serial = error as? SerialError, serial.code == .hangup || serial.code == .closed { break loop }
                        }
                    case .event(let event):
                        sink.yield(event)
                    }
                }
                for (feedback, address) in shared.feedback.withLock({ queue in defer { queue.removeAll() }; return queue }) {
                    for command in feedback.commands(reader: 0) { try? panel.enqueue(command, for: address) }
                }
                let now = clock.now - origin
                let wait = min(max((panel.nextDeadline ?? now + .milliseconds(20)) - now, .zero), .milliseconds(20))
                let bytes: [UInt8]
                do {
                    bytes = try port.read(maxCount: 512, timeout: max(wait, .milliseconds(1)))
                } catch {
                    logger.warning("OSDP bus line lost", metadata: ["error": "\(error)"])
                    break loop
                }
                let later = clock.now - origin
                actions = bytes.isEmpty ? panel.tick(now: later) : panel.receive(bytes, now: later)
            }
            port.close()
            sink.finish()
        }
        thread.name = "osdp-bus \(port.name)"
        thread.start()
    }

    func feedback(_ feedback: OSDPFeedback, to address: UInt8) {
        shared.feedback.withLock { $0.append((feedback, address)) }
    }

    func stop() {
        shared.stopped.store(true, ordering: .relaxed)
    }
}
