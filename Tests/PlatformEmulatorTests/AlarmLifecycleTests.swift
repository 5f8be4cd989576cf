import Foundation
import PlatformAPI
import ServiceLifecycleTestKit
import TestSupport
import Testing

@testable import PlatformEmulator

@Suite("Alarm lifecycle and command signal")
struct AlarmLifecycleTests {
    static let states: [AlarmView.State] = [.received, .acknowledged, .dispatched, .reset]

    /// The table of `docs/platform-api.yaml`, written out: every (action, state) pair.
    static let expected: [AlarmAction: [AlarmView.State: AlarmView.State?]] = [
        .acknowledge: [.received: .acknowledged, .acknowledged: nil, .dispatched: nil, .reset: nil],
        .dispatch: [.received: .dispatched, .acknowledged: .dispatched, .dispatched: nil, .reset: nil],
        .reset: [.received: .reset, .acknowledged: .reset, .dispatched: .reset, .reset: nil],
    ]

    @Test("every action from every state goes where the documented table says", arguments: AlarmAction.allCases)
    func transitions(_ action: AlarmAction) throws {
        let row = try #require(Self.expected[action])
        #expect(row.count == Self.states.count)
        for state in Self.states {
            let want = try #require(row[state])
            #expect(action.nextState(from: state) == want, "\(action.rawValue) from \(state.rawValue)")
        }
    }

    @Test("each action sends its own command type")
    func commandTypes() {
        #expect(AlarmAction.acknowledge.commandType == .alarmAcknowledged)
        #expect(AlarmAction.dispatch.commandType == .alarmDispatched)
        #expect(AlarmAction.reset.commandType == .alarmReset)
        #expect(Set(AlarmAction.allCases.map(\.commandType)) == Set(StationCommandType.allCases))
    }

    @Test("a refusal names the alarm, the action and why")
    func refusal() {
        let text = AlarmAction.acknowledge.refusal(eventID: uuid(4), state: .reset)
        #expect(text.hasPrefix("alarm \(uuid(4)): cannot acknowledge because it was already reset"))
        #expect(AlarmAction.dispatch.refusal(eventID: uuid(4), state: .dispatched).contains("already dispatched"))
    }

    @Test("a wait returns at once when the version already moved")
    func waitAfterAdvance() async {
        let signal = CommandSignal()
        let version = signal.version(of: "station-1")
        signal.advance("station-1")
        #expect(signal.version(of: "station-1") == version + 1)
        let start = ContinuousClock.now
        await signal.wait(for: "station-1", past: version, timeout: .seconds(60))
        // Milliseconds when the machine is idle; the bound leaves room for a loaded CI runner.
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(signal.waitingCount == 0)
    }

    @Test("a wait ends after its timeout when nothing happens, and an advance elsewhere does not end it")
    func waitTimesOut() async {
        let signal = CommandSignal()
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await signal.wait(for: "station-1", past: 0, timeout: .milliseconds(300)) }
            group.addTask { signal.advance("station-2") }
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(300))
        #expect(elapsed < .seconds(20))
        #expect(signal.waitingCount == 0)
    }

    @Test("an advance wakes every waiter of the station promptly")
    func advanceWakes() async throws {
        let signal = CommandSignal()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask { await signal.wait(for: "station-1", past: 0, timeout: .seconds(60)) }
            }
            #expect(await eventually { signal.waitingCount == 3 })
            signal.advance("station-1")
            try await group.waitForAll()
        }
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(signal.waitingCount == 0)
    }

    @Test("cancelling the waiting task ends the wait")
    func cancellationEndsWait() async throws {
        let signal = CommandSignal()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await signal.wait(for: "station-1", past: 0, timeout: .seconds(60)) }
            #expect(await eventually { signal.waitingCount == 1 })
            group.cancelAll()
            try await group.waitForAll()
        }
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(signal.waitingCount == 0)
    }

    @Test("a graceful shutdown ends a wait, so a long-poll does not hold the server's shutdown back")
    func gracefulShutdownEndsWait() async throws {
        let signal = CommandSignal()
        let start = ContinuousClock.now
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await signal.wait(for: "station-1", past: 0, timeout: .seconds(60)) }
                #expect(await eventually { signal.waitingCount == 1 })
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(signal.waitingCount == 0)
    }
}

