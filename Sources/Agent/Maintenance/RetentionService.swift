import EventStore
import Foundation
import Logging
import ServiceLifecycle
import Uplink
import EventModel

/// Prunes delivered events older than the retention period, once at start and then every
/// `interval`. Undelivered events are never pruned.
public struct RetentionService<C: Clock>: Service where C.Duration == Duration {
    let store: EventStore
    let retention: Duration
    let interval: Duration
    let clock: C
    let logger: Logger

    public init(store: EventStore, retention: Duration, interval: Duration = .seconds(3600), clock: C, logger: Logger) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await store.prune(deliveredBefore: Date().addingTimeInterval(-retention.seconds))
                try await reportEvictions()
            } catch {
                logger.error("pruning delivered events failed; will try again", metadata: ["error": "\(error)"])
            }
            do {
                try await cancelWhenGracefulShutdown { [clock, interval] in try await clock.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// Tells the platform (as a `device_fault` of the store) how many events the size budget
    /// evicted since the last report.
    private func reportEvictions() async throws {
        let counts = try await store.evictionCounts()
        let reported = Int64(try await store.metaValue("evictions_reported") ?? "0") ?? 0
        guard counts.total > reported else { return }
        _ = try await store.append(
            NewEvent(
                kind: .deviceFault, device: "event-store",
                detail: "evicted \(counts.total - reported) events to stay within [store] max_mb (\(counts.undeliveredTaps) undelivered taps so far)"))
        try await store.setMetaValue("evictions_reported", String(counts.total))
        logger.warning("the storage budget evicted events", metadata: ["store.evicted": "\(counts.total - reported)"])
    }
}
