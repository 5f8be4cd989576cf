import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import SerialTransport
import ServiceLifecycle
import Uplink

/// A configured dry-contact alarm button on a serial port's modem lines.
public struct AlarmButtonConfiguration: Sendable, Hashable {
    public var name: String
    public var purpose: String
    /// The port's path, or `sim:PATH` for the simulator's line-state file.
    public var path: String
    public var input: ModemLine
    public var drive: ModemOutput
    public var normallyClosed: Bool
    public var debounce: Duration
    public var minimumPress: Duration
    public var pollInterval: Duration
    public var reopen: RetryPolicy

    public init(
        name: String, purpose: String, path: String, input: ModemLine, drive: ModemOutput, normallyClosed: Bool,
        debounce: Duration, minimumPress: Duration, pollInterval: Duration, reopen: RetryPolicy
    ) {
        self.name = name
        self.purpose = purpose
        self.path = path
        self.input = input
        self.drive = drive
        self.normallyClosed = normallyClosed
        self.debounce = debounce
        self.minimumPress = minimumPress
        self.pollInterval = pollInterval
        self.reopen = reopen
    }
}

/// Opens a modem-line source by path (`sim:` paths and plain files are the simulator's).
public protocol ModemLineProvider: Sendable {
    func open(_ path: String) throws -> any ModemLineSource
}

public struct LiveModemLineProvider: ModemLineProvider {
    public init() {}

    public func open(_ path: String) throws -> any ModemLineSource {
        try ModemLineOpener.open(path: path)
    }
}

/// Watches a dry-contact button: powers the contact from DTR or RTS, samples the input line
/// every `pollInterval`, debounces it, ignores presses shorter than `minimumPress` (false
/// triggers), and turns a press into a durably stored, latched alarm. The alarm stays latched
/// until the platform resets it (a bare contact has no key switch). A port that disappears is
/// reported offline and reopened with backoff.
public struct AlarmButtonService<C: Clock>: Service where C.Duration == Duration {
    let button: AlarmButtonConfiguration
    let intake: EventIntake
    let coordinator: AlarmCoordinator
    let lines: any ModemLineProvider
    let clock: C
    let logger: Logger
    /// Marks each poll, for the watchdog (``WatchdogService``).
    let liveness: Liveness

    public init(
        button: AlarmButtonConfiguration, intake: EventIntake, coordinator: AlarmCoordinator, lines: any ModemLineProvider, clock: C,
        logger: Logger, liveness: Liveness = Liveness()
    ) {
        self.liveness = liveness
        self.button = button
        self.intake = intake
        self.coordinator = coordinator
        self.lines = lines
        self.clock = clock
        var logger = logger
        logger[metadataKey: "device"] = "\(button.name)"
        self.logger = logger
    }

    public func run() async throws {
        try await runUntilGracefulShutdown { try await watchForever() }
    }

    private func watchForever() async throws {
        var health = DeviceHealth(name: button.name, purpose: button.purpose, intake: intake, coordinator: coordinator, logger: logger)
        let origin = clock.now
        try await DeviceLineDriver(reopen: button.reopen, port: "\(button.path)", clock: clock).run(
            health: &health,
            open: {
                let source = try lines.open(button.path)
                do {
                    try source.setOutput(button.drive, high: true)
                } catch {
                    source.close()
                    throw error
                }
                return source
            }
        ) { source, health in
            // Closed on every way out: a line left open stays open for good, and a reload that
            // changed this button would wait for it in vain.
            defer { source.close() }
            do {
                // Let the contact's supply settle before the first sample, or a normally-closed
                // loop reads as pressed for a moment.
                try await clock.sleep(for: .milliseconds(100))
                await health.online("watching \(button.input.rawValue.uppercased()) on \(source.name)")
                var detector = DryContactDetector(
                    debounce: button.debounce, minimumPress: button.minimumPress, activeWhenClosed: !button.normallyClosed)
                defer { liveness.idle(button.name) }
                while !Task.isCancelled {
                    liveness.busy(button.name)
                    let high = try source.signals()[button.input]
                    for event in detector.sample(active: high, at: origin.duration(to: clock.now)) {
                        try await handle(event)
                    }
                    liveness.idle(button.name)
                    try await clock.sleep(for: button.pollInterval)
                }
                return nil
            } catch let error as SerialError {
                return "lost \(source.name): \(error)"
            }
        }
    }

    private func handle(_ event: DryContactEvent) async throws {
        switch event {
        case .pressed:
            await coordinator.raise(device: button.name, purpose: button.purpose, detail: "alarm button pressed")
        case .released:
            logger.info("alarm button released (the alarm stays latched until reset)")
        case .ignored(let shortPress):
            logger.notice("ignored a press shorter than the minimum", metadata: ["press": "\(shortPress)", "minimum": "\(button.minimumPress)"])
        }
    }
}
