import EventStore
import Foundation
import Logging
import ServiceLifecycle
import Uplink

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
}
