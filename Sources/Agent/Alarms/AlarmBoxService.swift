import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import SerialTransport
import ServiceLifecycle
import StationConfig
import Uplink

/// A configured serial alarm box (`Hardware/alarm-box/protocol.md`).
public struct AlarmBoxConfiguration: Sendable, Hashable {
    public var name: String
    public var purpose: String
    public var port: PortSpec
    /// No frame (event or heartbeat) for this long is a device fault.
    public var supervision: Duration
    public var reopen: RetryPolicy

    public init(name: String, purpose: String, port: PortSpec, supervision: Duration, reopen: RetryPolicy) {
        self.name = name
        self.purpose = purpose
        self.port = port
        self.supervision = supervision
        self.reopen = reopen
    }

    /// The box's line: 115200 8N1, as the protocol document fixes it.
    public static let settings = SerialSettings(baud: 115_200)
}

/// Runs one alarm box: keeps its line open (reopening with backoff), runs the host side of the
/// link protocol (acknowledgements, retransmission, duplicate suppression), turns a press into a
/// durably stored, latched alarm before anything else, shows each alarm's progress on the box's
/// LED and buzzer, and supervises the box: silence for `supervision` is a `device_fault`.
public struct AlarmBoxService<C: Clock>: Service where C.Duration == Duration {
    let box: AlarmBoxConfiguration
    let intake: EventIntake
    let coordinator: AlarmCoordinator
    let ports: any SerialPortProvider
    let clock: C
    let logger: Logger
    /// Marks each input's handling, for the watchdog (``WatchdogService``).
    let liveness: Liveness

    public init(
        box: AlarmBoxConfiguration, intake: EventIntake, coordinator: AlarmCoordinator, ports: any SerialPortProvider, clock: C,
        logger: Logger, liveness: Liveness = Liveness()
    ) {
        self.liveness = liveness
        self.box = box
        self.intake = intake
        self.coordinator = coordinator
        self.ports = ports
        self.clock = clock
        var logger = logger
        logger[metadataKey: "device"] = "\(box.name)"
        self.logger = logger
    }

    /// What the service loop reacts to, merged into one sequence so the link state machine has
    /// a single owner.
    enum Input: Sendable {
        case bytes([UInt8])
        case indication(AlarmIndication)
        case tick
        case lineLost(String)
    }

    public func run() async throws {
        try await runUntilGracefulShutdown { try await superviseForever() }
    }

    private func superviseForever() async throws {
        var health = DeviceHealth(name: box.name, purpose: box.purpose, intake: intake, coordinator: coordinator, logger: logger)
        try await DeviceLineDriver(reopen: box.reopen, port: "\(box.port)", clock: clock).run(
            health: &health,
            open: { try ports.open(box.port, settings: AlarmBoxConfiguration.settings) }
        ) { port, health in
            logger.info("alarm box line open", metadata: ["port": "\(port.name)"])
            return try await serve(port, health: &health)
        }
    }

    /// Serves one open line until it is lost; returns why (nil: stopped, not lost).
    private func serve(_ port: any SerialPort, health: inout DeviceHealth) async throws -> String? {
        let (inputs, feed) = AsyncStream<Input>.makeStream()
        let bytes = SerialByteStream(port: port, logger: logger)
        let origin = clock.now
        let indications = await coordinator.indications(for: box.name)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            defer { group.cancelAll() }
            group.addTask {
                do {
                    for try await chunk in bytes.chunks { feed.yield(.bytes(chunk)) }
                    feed.yield(.lineLost("the line was closed"))
                } catch {
                    feed.yield(.lineLost("\(error)"))
                }
            }
            group.addTask {
                for await indication in indications { feed.yield(.indication(indication)) }
            }
            group.addTask { [clock] in
                while !Task.isCancelled {
                    try await clock.sleep(for: .milliseconds(50))
                    feed.yield(.tick)
                }
            }

            var link = AlarmBoxLink()
            var latchCheck = AlarmBoxLatchCheck()
            var lastFrame = clock.now
            var shown: AlarmIndication?
            var wanted: AlarmIndication = .idle
            defer { liveness.idle(box.name) }
            for await input in inputs {
                liveness.busy(box.name)
                defer { liveness.idle(box.name) }
                let now = origin.duration(to: clock.now)
                var outputs: [AlarmBoxLink.Action] = []
                switch input {
                case .bytes(let chunk):
                    outputs = link.received(chunk, now: now)
                case .indication(let indication):
                    wanted = indication
                case .tick:
                    outputs = link.tick(now: now)
                case .lineLost(let reason):
                    bytes.stop()
                    return "lost \(port.name): \(reason)"
                }
                // Supervision counts what the box sends of its own accord (heartbeats and events),
                // not its acknowledgements of our commands: a box that only answers is not healthy,
                // and counting its answers would flap between fault and online.
                if outputs.contains(where: { if case .event = $0 { true } else { false } }) {
                    lastFrame = clock.now
                    await health.online("frames from \(port.name)")
                }
                if lastFrame.duration(to: clock.now) > box.supervision {
                    await health.offline("no heartbeat or event from the alarm box for \(box.supervision)", kind: .deviceFault)
                }
                if shown != wanted {
                    if wanted == .idle, let previous = shown, previous != .idle, previous != .fault {
                        outputs += link.send(.resetLatch, now: now)
                    }
                    outputs += link.send(.indicate(wanted), now: now)
                    shown = wanted
                }
                for output in outputs {
                    if case .event(.heartbeat(let status)) = output, latchCheck.shouldCheck(status, at: now, lastHello: link.lastHelloAt) {
                        try await recoverLatch(status)
                    }
                    try await handle(output, port: port)
                }
            }
            return nil
        }
    }

    private func handle(_ output: AlarmBoxLink.Action, port: any SerialPort) async throws {
        switch output {
        case .write(let frame):
            do {
                try port.write(frame)
            } catch {
                logger.warning("cannot write to the alarm box", metadata: ["error": "\(error)"])
            }
        case .event(let event):
            try await record(event)
        case .commandDelivered:
            break
        case .commandFailed(let command):
            logger.warning("the alarm box did not acknowledge a command", metadata: ["command": "\(command)"])
        }
    }

    /// The box acknowledges a press's frame before the agent's commit; if the agent died in
    /// between, the box's latch is the only record of it. Checked once per open line, when
    /// ``AlarmBoxLatchCheck`` says a press the box still held has surely arrived (later
    /// heartbeats may still show a latch the agent just reset).
    private func recoverLatch(_ status: AlarmBoxStatus) async throws {
        guard status.latched, await !coordinator.hasAlarm(on: box.name) else { return }
        await coordinator.raise(
            device: box.name, purpose: box.purpose,
            detail: "the alarm box reports a latched alarm the agent had not stored (recovered from its heartbeat)")
    }

    /// Turns a box event into a stored event. A press is stored and latched before anything
    /// else happens; the box then shows `stored`.
    private func record(_ event: AlarmBoxEvent) async throws {
        let kind: EventKind
        let detail: String
        switch event {
        case .pressed:
            await coordinator.raise(device: box.name, purpose: box.purpose, detail: "alarm box button pressed")
            return
        case .released:
            return
        case .heartbeat:
            return
        case .keySwitchReset:
            await coordinator.resetAtDevice(box.name)
            return
        case .tamperOpened: (kind, detail) = (.tamper, "enclosure opened")
        case .tamperClosed: (kind, detail) = (.tamper, "enclosure closed")
        case .lowBattery: (kind, detail) = (.lowBattery, "battery low")
        case .batteryOK: (kind, detail) = (.lowBattery, "battery ok again")
        case .powerLost: (kind, detail) = (.powerLoss, "mains power lost, on battery")
        case .powerRestored: (kind, detail) = (.powerRestored, "mains power back")
        }
        let stored = await intake.append(NewEvent(kind: kind, device: box.name, purpose: box.purpose, detail: detail))
        logger.notice(
            "alarm box reports \(kind.rawValue)", metadata: ["detail": "\(detail)", "event.seq": "\(stored.map { "\($0.seq)" } ?? "held")"])
    }
}
