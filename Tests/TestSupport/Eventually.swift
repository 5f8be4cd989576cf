/// Waits for `condition` to hold: polls it every `interval` until it returns true, for at most
/// `timeout`. Returns whether it held. A condition that throws counts as "not yet".
///
/// The timeout is a guard against a hang, not a timing assertion: a passing test never waits
/// for it, so it is generous. A test about time waits for the event itself or uses an injected
/// clock.
///
/// ```swift
/// #expect(await eventually { try await platform.received().contains { $0.event.kind == "alarm" } })
/// ```
public func eventually(
    timeout: Duration = .seconds(30), pollingEvery interval: Duration = .milliseconds(10), _ condition: () async throws -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: interval)
    }
    return (try? await condition()) == true
}
