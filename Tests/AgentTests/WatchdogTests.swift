import Agent
import Clocks
import EventStore
import Foundation
import InMemoryLogging
import Logging
import Synchronization
import TestSupport
import Testing

/// The watchdog reports progress, not time: `WATCHDOG=1` only while no alarm loop is hung in a
/// step and the store's writer answers.
@Suite struct WatchdogTests {
    /// A monotonic instant a test moves by hand.
    final class ManualInstant: Sendable {
        private let value = Mutex(ContinuousClock.now)
        private let readCount = Mutex(0)
        var now: ContinuousClock.Instant {
            readCount.withLock { $0 += 1 }
            return value.withLock { $0 }
        }
        /// How often `now` was read: the watchdog reads it once per check.
        var reads: Int { readCount.withLock { $0 } }
        func advance(_ duration: Duration) { value.withLock { $0 = $0.advanced(by: duration) } }
    }

    final class Pings: Sendable {
        private let count = Mutex(0)
        func ping() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    @Test func aLoopIsHungOnlyWhenBusyPastTheLimitNeverWhileWaiting() {
        let instant = ManualInstant()
        let liveness = Liveness(now: { instant.now })
        liveness.busy("button-1")
        instant.advance(.seconds(10))
        #expect(liveness.stalled(limit: .seconds(15)).isEmpty)
        instant.advance(.seconds(10))
        #expect(liveness.stalled(limit: .seconds(15)) == ["button-1"])
        liveness.idle("button-1")
        instant.advance(.seconds(600))  // waiting (a long reopen backoff, no bytes) is not a hang
        #expect(liveness.stalled(limit: .seconds(15)).isEmpty)
        liveness.busy("box-1")
        liveness.busy("box-1")  // still the first step's start
        instant.advance(.seconds(16))
        #expect(liveness.stalled(limit: .seconds(15)) == ["box-1"])
    }

    @Test func pingsStopWhileAnAlarmLoopIsHungAndResumeWhenItMovesAgain() async throws {
        let instant = ManualInstant()
        let liveness = Liveness(now: { instant.now })
        let store = try EventStore.inMemory()
        let intake = EventIntake(store: store, logger: Logger(label: "test"))
        let clock = TestClock()
        let pings = Pings()
        let logs = InMemoryLogHandler()
        let service = WatchdogService(
            interval: .seconds(15), liveness: liveness, intake: intake, clock: clock, logger: Logger(label: "test") { _ in logs },
            ping: pings.ping)
        func withheld() -> Bool { logs.entries.contains { "\($0.message)".contains("watchdog pings withheld") } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            #expect(await eventually { pings.value == 1 }, "pings at once while everything moves")
            #expect(await eventually {
                await clock.advance(by: .seconds(15))
                return pings.value >= 3
            })
            // The button's loop hangs in a step.
            liveness.busy("button-1")
            instant.advance(.seconds(16))
            #expect(await eventually {
                await clock.advance(by: .seconds(15))
                return withheld()
            }, "the service saw the hung loop and withheld its ping")
            let whileHung = pings.value
            for _ in 0..<3 {
                // Each advance wakes the service for one more check (it reads the instant then).
                let checks = instant.reads
                #expect(await eventually {
                    await clock.advance(by: .seconds(15))
                    return instant.reads > checks
                }, "the service checked again")
            }
            #expect(pings.value == whileHung, "no ping while the loop is hung")
            liveness.idle("button-1")
            #expect(await eventually {
                await clock.advance(by: .seconds(15))
                return pings.value > whileHung
            }, "pings resume once the loop moves")
            group.cancelAll()
        }
    }
}
