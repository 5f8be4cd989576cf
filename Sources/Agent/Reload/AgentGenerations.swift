import AsyncHTTPClient
import EventModel
import EventStore
import Foundation
import Logging
import SerialTransport
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The agent's services as a *generation*: one inner `ServiceGroup` built from one configuration.
/// SIGHUP replaces the generation without ending the process:
///
/// 1. the file is loaded and validated; any problem (or a change to a setting the process keeps:
///    ``FixedSettings``) is logged with its `file:line: key` and the old generation runs on;
/// 2. the new HTTP client is made (a bad `ca_file` is caught here, before anything stops);
/// 3. the running generation shuts down gracefully in reverse start order: the devices stop
///    reading, then the forwarder finishes the request in flight (it does not drain the backlog:
///    ``DrainSwitch``), then the HTTP client closes;
/// 4. the new generation starts from the store, where every accepted event already is.
///
/// The store, the metrics endpoint and the process (and systemd's view of it) stay. SIGTERM
/// shuts the running generation down as before (draining while the platform answers).
public struct AgentGenerations<C: Clock>: Service where C.Duration == Duration {
    /// Where the last reload's outcome is kept for `station-agent status`.
    public static var lastReloadKey: String { "last_reload" }

    let initial: AgentSettings
    let initialHTTP: HTTPClient
    let store: EventStore
    /// The devices' path to the store, for the whole process: writes held while the store
    /// refused them outlive a reload.
    let intake: EventIntake
    /// Which alarms are latched and how far each has come, for the whole process.
    let coordinator: AlarmCoordinator
    /// The device services, for the whole process: a reload replaces only the changed ones.
    /// The caller runs it beside this service (``StationAgent/run``).
    let devices: DeviceSupervisors<C>
    let clock: C
    let logger: Logger
    let reloader: ConfigurationReloader?
    let hangups: UnixSignalsSequence?
    let onReload: @Sendable (ReloadEvent) -> Void
    /// The settings devices are built from (the new ones from a reload on).
    let current: CurrentSettings

    init(
        settings: AgentSettings, store: EventStore, intake: EventIntake, coordinator: AlarmCoordinator, devices: DeviceSupervisors<C>,
        current: CurrentSettings, clock: C, logger: Logger, reloader: ConfigurationReloader?, hangups: UnixSignalsSequence?,
        onReload: @escaping @Sendable (ReloadEvent) -> Void
    ) throws {
        self.initial = settings
        self.initialHTTP = try StationAgent.makeHTTPClient(settings)
        self.store = store
        self.intake = intake
        self.coordinator = coordinator
        self.devices = devices
        self.current = current
        self.clock = clock
        self.logger = logger
        self.reloader = reloader
        self.hangups = hangups
        self.onReload = onReload
    }

    private enum Message: Sendable {
        case hangup
        case ended(generation: Int, error: (any Error)?)
        case shutdown
    }

    private struct Running {
        var number: Int
        var group: ServiceGroup
        var drain: DrainSwitch
    }

    public func run() async throws {
        let (messages, post) = AsyncStream.makeStream(of: Message.self)
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                if let hangups {
                    tasks.addTask {
                        for await _ in hangups { post.yield(.hangup) }
                    }
                }
                var settings = initial
                var running: Running
                do {
                    running = try await start(settings, http: initialHTTP, number: 0, announce: false, tasks: &tasks, post: post)
                } catch {
                    try? await initialHTTP.shutdown()
                    throw error
                }
                var pending: (settings: AgentSettings, http: HTTPClient)?
                var shuttingDown = false
                defer { post.finish() }

                for await message in messages {
                    switch message {
                    case .shutdown:
                        // The running generation sees the graceful shutdown itself (it inherits
                        // it) and drains; its end finishes this loop.
                        shuttingDown = true
                    case .hangup:
                        guard let reloader, !shuttingDown else { continue }
                        guard pending == nil else {
                            logger.notice("SIGHUP while a reload is in progress; ignored (send it again once it is done)")
                            continue
                        }
                        logger.notice("SIGHUP: reloading the configuration", metadata: ["config": "\(reloader.file)"])
                        switch await prepare(reloader, current: settings) {
                        case .failure(let rejection):
                            await reject(rejection.reason)
                        case .success(let next):
                            onReload(.reloading)
                            pending = next
                            running.drain.stopAfterInFlight()
                            await running.group.triggerGracefulShutdown()
                            // Devices whose configuration did not change keep reading meanwhile.
                            current.value = next.settings
                            await devices.apply(DeviceKey.all(next.settings))
                        }
                    case .ended(let number, let error):
                        guard number == running.number else { continue }
                        if let next = pending, !shuttingDown {
                            pending = nil
                            do {
                                running = try await start(next.settings, http: next.http, number: number + 1, announce: false, tasks: &tasks, post: post)
                                for removed in settings.deviceNames.subtracting(next.settings.deviceNames) {
                                    DeviceMetrics.forget(removed)
                                }
                                settings = next.settings
                                store.stationID = settings.stationID
                                await applied(settings)
                            } catch {
                                try? await next.http.shutdown()
                                await reject("the new configuration's services could not start: \(error); the old configuration runs again")
                                current.value = settings
                                await devices.apply(DeviceKey.all(settings))
                                running = try await start(
                                    settings, http: try StationAgent.makeHTTPClient(settings), number: number + 1, announce: false,
                                    tasks: &tasks, post: post)
                            }
                            continue
                        }
                        if let next = pending { try? await next.http.shutdown() }
                        tasks.cancelAll()
                        if let error { throw error }
                        return
                    }
                }
            }
        } onGracefulShutdown: {
            post.yield(.shutdown)
        }
    }

    /// Builds a generation's services and runs them in an inner group, as a child task that
    /// posts `.ended` when the group returns.
    private func start(
        _ settings: AgentSettings, http: HTTPClient, number: Int, announce: Bool, tasks: inout ThrowingTaskGroup<Void, any Error>,
        post: AsyncStream<Message>.Continuation
    ) async throws -> Running {
        let drain = DrainSwitch()
        let services = try await StationAgent.makeServices(
            settings: settings, store: store, http: http, clock: clock, logger: logger, announce: announce, drain: drain, intake: intake,
            coordinator: coordinator)
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [], cancellationSignals: [], logger: logger))
        tasks.addTask {
            do {
                try await group.run()
                post.yield(.ended(generation: number, error: nil))
            } catch {
                post.yield(.ended(generation: number, error: error))
            }
        }
        return Running(number: number, group: group, drain: drain)
    }

    /// Loads and checks the new configuration and makes its HTTP client; nothing running is touched.
    private func prepare(_ reloader: ConfigurationReloader, current: AgentSettings) async -> Result<(settings: AgentSettings, http: HTTPClient), ReloadRejection> {
        let next: AgentSettings
        do {
            next = try await reloader.load()
        } catch {
            return .failure(ReloadRejection("\(error)"))
        }
        let fixed = FixedSettings.problems(old: current, new: next, file: reloader.file)
        guard fixed.isEmpty else { return .failure(ReloadRejection(fixed.joined(separator: "\n"))) }
        do {
            return .success((next, try StationAgent.makeHTTPClient(next)))
        } catch {
            return .failure(ReloadRejection("\(reloader.file): platform.ca_file: \(error)"))
        }
    }

    private func reject(_ reason: String) async {
        logger.error(
            "configuration reload rejected; the running configuration stays",
            metadata: ["reload.reason": "\(reason)", "config": "\(reloader?.file ?? "")"])
        await record("rejected: \(reason)")
        onReload(.rejected(reason))
    }

    private func applied(_ settings: AgentSettings) async {
        logger.notice(
            "configuration reloaded",
            metadata: [
                "config": "\(reloader?.file ?? "")", "readers": "\(settings.readers.count)",
                "devices": "\(settings.deviceNames.count)",
            ])
        await record("applied")
        onReload(.applied(settings))
    }

    private func record(_ outcome: String) async {
        do {
            try await store.meta.set(Self.lastReloadKey, "\(Timestamp.format(Date())) \(outcome)")
        } catch {
            logger.warning("cannot record the reload's outcome in the store", metadata: ["error": "\(error)"])
        }
    }
}

struct ReloadRejection: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// The settings the device services are built from, changed by a reload.
final class CurrentSettings: Sendable {
    private let settings: Mutex<AgentSettings>

    init(_ settings: AgentSettings) {
        self.settings = Mutex(settings)
    }

    var value: AgentSettings {
        get { settings.withLock { $0 } }
        set { settings.withLock { $0 = newValue } }
    }
}
