import EventStore
import Foundation
import Logging
import PlatformAPI
import ServiceLifecycle
import Uplink

/// Keeps one long-poll request open to the platform for commands about this station's alarms
/// (acknowledged, dispatched, reset) and hands them to the ``AlarmCoordinator`` as they come, so
/// the button shows an operator's action within a moment of it. The cursor is stored, so a
/// restarted agent neither misses nor repeats a command.
public struct DownlinkService<C: Clock>: Service where C.Duration == Duration {
    static var cursorKey: String { "downlink_cursor" }

    let uplink: any CommandUplink
    let store: EventStore
    let coordinator: AlarmCoordinator
    let wait: Duration
    let retry: RetryPolicy
    let clock: C
    let logger: Logger

    public init(
        uplink: any CommandUplink, store: EventStore, coordinator: AlarmCoordinator, wait: Duration = .seconds(25),
        retry: RetryPolicy = RetryPolicy(initial: .seconds(1), maximum: .seconds(15)), clock: C, logger: Logger
    ) {
        self.uplink = uplink
        self.store = store
        self.coordinator = coordinator
        self.wait = wait
        self.retry = retry
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        try await runUntilGracefulShutdown { try await pollForever() }
    }

    private func pollForever() async throws {
        // Read inside the retry loop: a store that does not answer yet (its lock held elsewhere)
        // delays the first poll, it does not end the agent; polling from 0 instead would apply
        // old commands again.
        var known: Int64?
        var failures = 0
        while !Task.isCancelled {
            do {
                let start: Int64
                if let known {
                    start = known
                } else {
                    start = Int64(try await store.meta.value(Self.cursorKey) ?? "0") ?? 0
                }
                var cursor = start
                defer { known = cursor }
                let page = try await uplink.pollCommands(after: cursor, wait: wait)
                failures = 0
                for command in page.commands where command.id > cursor {
                    try await coordinator.apply(command)
                    cursor = command.id
                    try await store.meta.set(Self.cursorKey, String(cursor))
                }
                cursor = max(cursor, page.next)
            } catch {
                if Task.isCancelled { return }
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("cannot fetch or apply platform commands; retrying", metadata: ["error": "\(error)"])
                }
                let retryAfter = (error as? UplinkError)?.retryAfter
                try await clock.sleep(for: retry.delay(afterFailures: failures, retryAfter: retryAfter, unit: Double.random(in: 0..<1)))
            }
        }
    }
}
