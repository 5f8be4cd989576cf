import AsyncHTTPClient
import EventModel
import EventStore
import Foundation
import Logging
import PlatformAPI
import SerialTransport
import ServiceLifecycle
import StationConfig
import UnixSignals
import Uplink

/// Everything the agent needs to run, already validated (see `AgentSettings.init(_:)` for the
/// mapping from the configuration file).
public struct AgentSettings: Sendable {
    public var stationID: String
    public var location: GridLocation?
    public var stateDirectory: String
    public var platformURL: String
    public var token: String?
    public var caFile: String?
    public var requestTimeout: Duration
    public var batchSize: Int
    public var retry: RetryPolicy
    public var retention: Duration
    public var readers: [CardReaderDevice]
    public var alarmBoxes: [AlarmBoxConfiguration]
    public var alarmButtons: [AlarmButtonConfiguration]
    /// How often the agent's heartbeat goes to the platform.
    public var heartbeatInterval: Duration
    /// The queue's size budget on disk (0: none) and the space reserved for alarms.
    public var storeBudgetBytes: Int64 = 0
    public var alarmReserveBytes: Int64 = 8 << 20
    /// Alarms also go to an alarm receiving centre over SIA DC-09, when set.
    public var dc09: DC09Settings?
    /// RS-485 buses of OSDP readers.
    public var osdpBuses: [OSDPBusConfiguration] = []
    /// Where `GET /metrics` is served (nil: nowhere). Fixed for the process: a reload keeps it.
    public var metricsListen: StationConfiguration.ListenAddress?
    /// The lowest level logged (a reload applies a change).
    public var logLevel: StationConfiguration.LogLevel = .info
    /// Security settings: request signing, client certificate, card pseudonyms (`[privacy]`).
    public var security = SecuritySettings()

    public init(
        stationID: String, location: GridLocation?, stateDirectory: String, platformURL: String, token: String?,
        caFile: String?, requestTimeout: Duration, batchSize: Int, retry: RetryPolicy, retention: Duration,
        readers: [CardReaderDevice], alarmBoxes: [AlarmBoxConfiguration] = [], alarmButtons: [AlarmButtonConfiguration] = [],
        heartbeatInterval: Duration = .seconds(30)
    ) {
        self.alarmBoxes = alarmBoxes
        self.alarmButtons = alarmButtons
        self.heartbeatInterval = heartbeatInterval
        self.stationID = stationID
        self.location = location
        self.stateDirectory = stateDirectory
        self.platformURL = platformURL
        self.token = token
        self.caFile = caFile
        self.requestTimeout = requestTimeout
        self.batchSize = batchSize
        self.retry = retry
        self.retention = retention
        self.readers = readers
    }

    /// The alarm lane retries on a short leash whatever the normal lane does: at most 2 s
    /// between attempts, and a `Retry-After` is honoured up to 5 s only. One small request every
    /// 2 s is no load for a platform, and an alarm must not sit out a long backoff.
    public var alarmRetry: RetryPolicy {
        RetryPolicy(
            initial: min(retry.initial, .milliseconds(200)), maximum: .seconds(2), multiplier: 2, jitter: retry.jitter,
            retryAfterCeiling: .seconds(5))
    }
}

/// The composition root: the one place where the agent's parts are wired together.
public enum StationAgent {
    /// The agent's version, reported in its `agent_started` event.
    public static let version = "0.1.0"

    /// Starts the devices, opens the store beside them (``StoreAndUplink``: retried while it
    /// cannot be opened), records an `agent_started` event, and runs every service until SIGTERM
    /// or SIGINT, which drain gracefully (devices stop first, then the forwarder sends what it
    /// can).
    ///
    /// - Parameters:
    ///   - metrics: renders the metrics exposition; with `settings.metricsListen` set, `GET
    ///     /metrics` serves it (the caller bootstraps swift-metrics with the matching backend).
    ///   - reloader: with one, SIGHUP reloads the configuration (see ``AgentGenerations``).
    ///   - onReload: told when a reload starts, is applied or is rejected.
    public static func run(
        settings: AgentSettings, logger: Logger, ports: any SerialPortProvider = LiveSerialPortProvider(),
        lines: any ModemLineProvider = LiveModemLineProvider(), metrics: (@Sendable () -> [UInt8])? = nil,
        reloader: ConfigurationReloader? = nil, onReady: @Sendable () -> Void = {},
        watchdog: (interval: Duration, ping: @Sendable () -> Void)? = nil,
        onReload: @escaping @Sendable (ReloadEvent) -> Void = { _ in }, onMetricsListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        // A missing or read-only state directory is a configuration error no retry can fix.
        try EventStore.checkStateDirectory(settings.stateDirectory)
        // Trap SIGHUP before saying ready: its default action ends the process.
        let hangups = reloader == nil ? nil : await UnixSignalsSequence(trapping: .sighup)
        let clock = ContinuousClock()
        // The devices start first and depend on nothing but their lines: what they report while
        // the store opens (a salvage takes seconds on a large damaged file) or cannot be opened
        // (a full disk) is held by the intake and stored once it is open.
        let intake = EventIntake(store: nil, logger: logger)
        let coordinator = AlarmCoordinator(intake: intake, stateDirectory: settings.stateDirectory, logger: logger)
        let current = CurrentSettings(settings)
        let liveness = Liveness()
        let devices = DeviceSupervisors<ContinuousClock>(initial: DeviceKey.all(settings), logger: logger, ports: ports, lines: lines) {
            key, ports, lines in
            makeDeviceService(
                key, settings: current.value, intake: intake, coordinator: coordinator, ports: ports, lines: lines, clock: clock,
                logger: logger, liveness: liveness)
        }
        let uplink = StoreAndUplink(
            settings: settings, intake: intake, coordinator: coordinator, devices: devices, current: current, clock: clock,
            logger: logger, reloader: reloader, hangups: hangups, onReload: onReload, metrics: metrics,
            onMetricsListening: onMetricsListening)
        // Graceful shutdown runs in reverse: card sources stop first (no tap is accepted that the
        // drain would not see), then the uplink drains (within its limit), then the alarm inputs:
        // a press is read until the very end, and one the drain missed is sent after the next start.
        var services: [any Service] = [devices.alarmInputs, uplink, devices.cardSources]
        if let watchdog {
            // First in the list, so it stops last: the pings go on while the agent drains.
            services.insert(
                WatchdogService(interval: watchdog.interval, liveness: liveness, intake: intake, clock: clock, logger: logger, ping: watchdog.ping),
                at: 0)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger))
        logger.info(
            "station agent running",
            metadata: [
                "station": "\(settings.stationID)", "platform": "\(settings.platformURL)",
                "state_dir": "\(settings.stateDirectory)", "readers": "\(settings.readers.count)",
                "alarm_devices": "\(settings.alarmBoxes.count + settings.alarmButtons.count)",
            ])
        onReady()
        try await group.run()
        logger.info("station agent stopped")
    }

    /// The uplink's HTTP client for `settings` (trust roots, connect timeout).
    static func makeHTTPClient(_ settings: AgentSettings) throws -> HTTPClient {
        try PlatformClient.makeHTTPClient(
            caFile: settings.caFile, clientCertificate: settings.security.clientCertificate,
            connectTimeout: min(settings.requestTimeout, .seconds(5)))
    }

    /// Builds the services of one configuration generation in start order: the intake's retry,
    /// HTTP client owner, forwarder, downlink, heartbeat, retention, clock watch, integrity check,
    /// DC-09. The devices are not among them: they run under the ``DeviceSupervisor`` for the
    /// whole process (a reload keeps unchanged ones open), built by ``makeDeviceService``.
    public static func makeServices<C: Clock>(
        settings: AgentSettings, store: EventStore, http: HTTPClient,
        clock: C, logger: Logger, announce: Bool = true, drain: DrainSwitch = DrainSwitch(), intake: EventIntake,
        coordinator: AlarmCoordinator
    ) async throws -> [any Service] where C.Duration == Duration {
        if announce {
            _ = try await store.append(
                NewEvent(kind: .agentStarted, device: "agent", detail: "station-agent \(version) boot \(store.bootID ?? "unknown")"))
        }
        do {
            // Only `status`'s device table: a store that refuses now (its lock held elsewhere, a
            // full disk) must not keep the configuration from running.
            try await store.deviceStates.retain(
                named: Set(
                    settings.readers.map(\.name) + settings.alarmBoxes.map(\.name) + settings.alarmButtons.map(\.name)
                        + settings.osdpBuses.flatMap { [$0.name] + $0.readers.map(\.name) }))
        } catch {
            logger.warning("cannot drop removed devices from the store's device table yet", metadata: ["error": "\(error)"])
        }

        let endpoint = PlatformEndpoint(
            baseURL: settings.platformURL, station: WireStation(id: settings.stationID, location: settings.location),
            token: settings.token, timeout: settings.requestTimeout)
        let platformClock = PlatformClock(bootID: store.bootID)
        let client = PlatformClient(
            http: http, endpoint: endpoint, logger: logger,
            signer: settings.security.signingKey.map { RequestSigner(key: $0, now: { platformClock.now() }) }, clock: platformClock)
        var services: [any Service] = [
            // First, so it stops last: after the devices, with a last try at what they left held.
            IntakeRetryService(intake: intake, clock: clock, logger: logger),
            HTTPClientOwner(client: http),
            ForwarderService(
                store: store, uplink: client,
                lanes: [
                    .alarm: .init(policy: settings.alarmRetry, batchSize: min(settings.batchSize, 50)),
                    .normal: .init(policy: settings.retry, batchSize: settings.batchSize),
                ],
                clock: clock, logger: logger, observer: coordinator, drainOnShutdown: { drain.drains }),
            DownlinkService(uplink: client, store: store, coordinator: coordinator, clock: clock, logger: logger),
            HeartbeatService(
                uplink: client, store: store, coordinator: coordinator, interval: settings.heartbeatInterval, clock: clock,
                logger: logger),
            RetentionService(store: store, retention: settings.retention, clock: clock, logger: logger),
            ClockWatchService(store: store, clock: clock, logger: logger),
            IntegrityCheckService(store: store, logger: logger),
        ]
        if let dc09 = settings.dc09 {
            // Before the devices start, so no alarm can slip in ahead of the cursor.
            try await DC09Cursor.prepare(in: store)
            services.append(DC09Service(settings: dc09, store: store, clock: clock, logger: logger))
        }
        return services
    }

    /// The service of one device, sharing the process's intake and alarm coordinator.
    static func makeDeviceService<C: Clock>(
        _ key: DeviceKey, settings: AgentSettings, intake: EventIntake, coordinator: AlarmCoordinator, ports: any SerialPortProvider,
        lines: any ModemLineProvider, clock: C, logger: Logger, liveness: Liveness
    ) -> any Service where C.Duration == Duration {
        switch key {
        case .reader(let reader, _):
            return CardReaderService(
                device: reader, intake: intake, ports: ports, cardIDs: settings.security.cardIDs, clock: clock, logger: logger)
        case .alarmBox(let box):
            return AlarmBoxService(
                box: box, intake: intake, coordinator: coordinator, ports: ports, clock: clock, logger: logger, liveness: liveness)
        case .osdpBus(let bus, _):
            return OSDPBusService(
                bus: bus, intake: intake, coordinator: coordinator, ports: ports, cardIDs: settings.security.cardIDs, clock: clock,
                logger: logger, liveness: liveness)
        case .alarmButton(let button):
            return AlarmButtonService(
                button: button, intake: intake, coordinator: coordinator, lines: lines, clock: clock, logger: logger, liveness: liveness)
        }
    }
}

/// Owns the uplink's HTTP client: it lives until graceful shutdown has reached it (after the
/// forwarder, which stops before it), then shuts the client down.
struct HTTPClientOwner: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
