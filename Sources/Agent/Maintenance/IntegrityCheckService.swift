import EventStore
import Logging
import ServiceLifecycle

/// Runs the store's full integrity check (`PRAGMA quick_check`, seconds on a large store) once,
/// right after the agent is ready, on a connection of its own; a corrupt file is recovered
/// without a restart (``EventStore/checkIntegrityAndRecover()``). Keeps the check off the path
/// from start to ready, where only the cheap checks run.
public struct IntegrityCheckService: Service {
    let store: EventStore
    let logger: Logger

    public init(store: EventStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        do {
            if let report = try await store.checkIntegrityAndRecover() {
                logger.error("the integrity check after start found the store corrupt; recovered", metadata: ["store.salvage": "\(report)"])
            } else {
                logger.debug("event store integrity check passed")
            }
        } catch {
            logger.error("the integrity check of the event store failed", metadata: ["error": "\(error)"])
        }
        // Stay alive until shutdown: a service that returns early ends the group.
        try? await gracefulShutdown()
    }
}
