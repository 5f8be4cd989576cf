import EventModel
import EventStore
import Foundation
import Logging
import PlatformAPI
import ServiceLifecycle
import Uplink

/// Tells the platform every `interval` (default 30 s) that the station is alive, with its queue
/// depth, device states and latched alarms, so the platform can flag a silent station.
public struct HeartbeatService<C: Clock>: Service where C.Duration == Duration {
    let uplink: any CommandUplink
    let store: EventStore
    let coordinator: AlarmCoordinator
    let interval: Duration
    let clock: C
    let logger: Logger

    public init(uplink: any CommandUplink, store: EventStore, coordinator: AlarmCoordinator, interval: Duration, clock: C, logger: Logger) {
        self.uplink = uplink
        self.store = store
        self.coordinator = coordinator
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        try await runUntilGracefulShutdown { try await beatForever() }
    }

    private func beatForever() async throws {
        var failing = false
        while !Task.isCancelled {
            do {
                try await uplink.sendHeartbeat(try await makeHeartbeat())
                if failing { logger.notice("heartbeat delivered again") }
                failing = false
            } catch {
                if !failing { logger.warning("heartbeat failed", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try await clock.sleep(for: interval)
        }
    }

    func makeHeartbeat() async throws -> Heartbeat {
        let summary = try await store.summary()
        let oldest = summary.lanes.values.compactMap(\.oldestStoredAt).min()
        return Heartbeat(
            sentAt: Timestamp.format(Date()), agentVersion: StationAgent.version, bootId: store.bootID,
            queued: Dictionary(uniqueKeysWithValues: summary.lanes.map { ($0.key.rawValue, $0.value.count) }),
            oldestQueuedAt: oldest.map(Timestamp.format),
            devices: summary.devices.map { DeviceHeartbeat(name: $0.name, state: $0.state.rawValue, detail: $0.detail) },
            latchedAlarms: await coordinator.latchedAlarms().map(\.eventID))
    }
}
