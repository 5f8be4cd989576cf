import ServiceLifecycle

/// Runs a service's loop until graceful shutdown (SIGTERM, or a reload replacing the services)
/// cancels it. The cancellation that shutdown causes can surface anywhere in the loop, in a
/// backoff sleep or in the middle of a store call, and is a clean stop, never an error that
/// fails the service group. Every long-running service's `run()` goes through here.
func runUntilGracefulShutdown(_ loop: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown(loop)
    } catch is CancellationError {
        return
    }
}

/// Sleeps for `duration` on `clock` unless graceful shutdown (or cancellation) comes first.
/// Returns `false` when the caller should stop instead of going on.
func sleepUnlessShuttingDown<C: Clock>(for duration: C.Duration, on clock: C) async -> Bool {
    do {
        try await cancelWhenGracefulShutdown { try await clock.sleep(for: duration) }
        return true
    } catch {
        return false
    }
}
