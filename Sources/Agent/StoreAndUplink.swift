import EventModel
import EventStore
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import Uplink

/// Opens the event store beside the running devices, then runs everything that needs it: the
/// metrics endpoint and the configuration generations (forwarder, downlink, heartbeat,
/// maintenance, DC-09).
///
/// Opening can take long (the start-up check salvages a damaged file: seconds on a large one) or
/// fail for a while (a disk too full for SQLite's shared-memory file). Neither keeps a device
/// from being read: their events wait in the ``EventIntake``. A failed open is retried with
/// backoff (1 s doubling to 30 s), logged once per different error; only a missing or read-only
/// state directory, which no retry can fix, ends the agent.
struct StoreAndUplink<C: Clock>: Service where C.Duration == Duration {
    let settings: AgentSettings
    let intake: EventIntake
    let coordinator: AlarmCoordinator
    let devices: DeviceSupervisors<C>
    let current: CurrentSettings
    let clock: C
    let logger: Logger
    let reloader: ConfigurationReloader?
    let hangups: UnixSignalsSequence?
    let onReload: @Sendable (ReloadEvent) -> Void
    let metrics: (@Sendable () -> [UInt8])?
    let onMetricsListening: @Sendable (Int) -> Void

    func run() async throws {
        guard let store = try await openStore() else { return }  // shut down before it opened
        // Only the cheap checks ran at open; IntegrityCheckService runs quick_check after ready.
        store.clockSynchronized = SystemClockSource().isSynchronized()
        // Every event keeps the station it was recorded under (a reload that changes the id
        // changes it for the events after).
        store.stationID = settings.stationID
        if settings.dc09 != nil {
            // Before any device event is stored, so no alarm can slip in ahead of the cursor.
            try await DC09Cursor.prepare(in: store)
        }
        if let salvage = store.salvage {
            logger.error("the event store was corrupt; moved aside and salvaged", metadata: ["store.salvage": "\(salvage)"])
            await record(NewEvent(kind: .deviceFault, device: "event-store", detail: salvage.description), in: store)
        }
        // Once per process: reloads do not repeat it.
        await record(
            NewEvent(kind: .agentStarted, device: "agent", detail: "station-agent \(StationAgent.version) boot \(store.bootID ?? "unknown")"),
            in: store)
        try await coordinator.attach(store)
        await intake.attach(store)
        if intake.heldCount > 0 {
            logger.notice("the store is open; storing what the devices reported meanwhile", metadata: ["held": "\(intake.heldCount)"])
        }

        let agent = try AgentGenerations(
            settings: settings, store: store, intake: intake, coordinator: coordinator, devices: devices, current: current, clock: clock,
            logger: logger, reloader: reloader, hangups: hangups, onReload: onReload)
        var services: [any Service] = []
        if let listen = settings.metricsListen, let metrics {
            let gauges = StoreGauges(store: store, stateDirectory: settings.stateDirectory, logger: logger)
            services.append(
                MetricsServer(address: listen, refresh: { await gauges.refresh() }, render: metrics, logger: logger, onListening: onMetricsListening))
        }
        services.append(agent)
        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [], cancellationSignals: [], logger: logger))
        try await group.run()
    }

    /// Stores `event` now, or has the intake hold it when the store refuses it (a full disk).
    private func record(_ event: NewEvent, in store: EventStore) async {
        do {
            _ = try await store.append(event)
        } catch {
            logger.error("cannot store \(event.kind.rawValue) yet; holding it", metadata: ["error": "\(error)"])
            await intake.append(event)
        }
    }

    /// The open store, or nil when shutdown came first. Opens on a thread of its own: a salvage
    /// is seconds of blocking SQLite work, and the cooperative pool has one thread per core.
    private func openStore() async throws -> EventStore? {
        let policy = StoragePolicy(
            maxBytes: settings.storeBudgetBytes, alarmReserveBytes: settings.alarmReserveBytes, integrityCheckAtOpen: false)
        let retry = RetryPolicy(initial: .seconds(1), maximum: .seconds(30))
        var failures = 0
        var lastProblem = ""
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let directory = settings.stateDirectory
            let logger = self.logger
            let opened: Result<EventStore, any Error> = await withCheckedContinuation { done in
                let thread = Thread { done.resume(returning: Result { try EventStore.open(directory: directory, policy: policy, logger: logger) }) }
                thread.name = "store-open"
                thread.start()
            }
            switch opened {
            case .success(let store):
                if failures > 0 { logger.notice("the event store is open", metadata: ["attempts": "\(failures + 1)"]) }
                return store
            case .failure(let error as EventStoreError) where [.stateDirectoryMissing, .stateDirectoryNotWritable].contains(error.code):
                throw error
            case .failure(let error):
                failures += 1
                let problem = "\(error)"
                if problem != lastProblem {
                    logger.critical(
                        "cannot open the event store; the devices are read and their events held in memory until it opens",
                        metadata: ["error": "\(problem)", "held": "\(intake.heldCount)"])
                    lastProblem = problem
                }
                guard await sleepUnlessShuttingDown(for: retry.delay(afterFailures: failures, unit: 0.5), on: clock) else { return nil }
            }
        }
        return nil
    }
}
