import Agent
import Clocks
import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import SerialTransport
import Synchronization
import TestSupport
import Testing
import Uplink

/// A modem-line source whose input a test sets.
final class FakeModemLines: ModemLineSource, ModemLineProvider {
    let name = "sim:/fake/button"
    private let state = Mutex((signals: ModemSignals(), outputs: [ModemOutput: Bool](), present: true, samples: 0))

    func set(cts: Bool) { state.withLock { $0.signals.cts = cts } }
    func unplug() { state.withLock { $0.present = false } }
    var outputs: [ModemOutput: Bool] { state.withLock { $0.outputs } }
    /// How many times the lines were read.
    var samples: Int { state.withLock { $0.samples } }

    func open(_ path: String) throws -> any ModemLineSource {
        guard state.withLock({ $0.present }) else {
            throw SerialError(code: .notFound, path: path, operation: "open", message: "gone", hint: "plug it in")
        }
        return self
    }

    func setOutput(_ output: ModemOutput, high: Bool) throws(SerialError) {
        state.withLock { $0.outputs[output] = high }
    }

    func signals() throws(SerialError) -> ModemSignals {
        let (signals, present) = state.withLock { state in
            state.samples += 1
            return (state.signals, state.present)
        }
        guard present else {
            throw SerialError(code: .hangup, path: name, operation: "signals", message: "gone", hint: "plug it in")
        }
        return signals
    }

    func close() {}
}

/// Moves the clock `count` poll intervals (10 ms), each time waiting until the service has read
/// the lines again: the detector sees every step, however slowly the machine runs the service.
func pollSteps(_ count: Int, _ clock: TestClock<Duration>, _ lines: FakeModemLines) async -> Bool {
    for _ in 0..<count {
        let before = lines.samples
        await clock.advance(by: .milliseconds(10))
        let sampled = await eventually {
            if lines.samples > before { return true }
            // The service's sleep began just after the advance: a millisecond more wakes it.
            await clock.advance(by: .milliseconds(1))
            return false
        }
        if !sampled { return false }
    }
    return true
}

@Suite struct AlarmButtonServiceTests {
    let button = AlarmButtonConfiguration(
        name: "button-1", purpose: "one-key-alarm", path: "sim:/fake/button", input: .cts, drive: .dtr, normallyClosed: false,
        debounce: .milliseconds(30), minimumPress: .milliseconds(300), pollInterval: .milliseconds(10),
        reopen: RetryPolicy(initial: .seconds(1), maximum: .seconds(1), jitter: 0))

    @Test func aShortTapIsIgnoredAndAHeldPressRaisesOneLatchedAlarm() async throws {
        let store = try EventStore.inMemory()
        let coordinator = AlarmCoordinator(store: store, logger: Logger(label: "test"))
        let lines = FakeModemLines()
        let clock = TestClock()
        let service = AlarmButtonService(
            button: button, intake: EventIntake(store: store, logger: Logger(label: "test")), coordinator: coordinator, lines: lines, clock: clock, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            #expect(await eventually {
                await clock.advance(by: .milliseconds(10))
                return lines.outputs[.dtr] == true
            }, "the contact is powered")
            // A 100 ms brush against the button.
            lines.set(cts: true)
            #expect(await pollSteps(10, clock, lines))
            lines.set(cts: false)
            #expect(await pollSteps(50, clock, lines))
            #expect(await coordinator.latchedAlarms().isEmpty, "a 100 ms touch is not an alarm")
            // A real press, held for a second, then released.
            lines.set(cts: true)
            #expect(await eventually {
                await clock.advance(by: .milliseconds(10))
                return await !coordinator.latchedAlarms().isEmpty
            })
            lines.set(cts: false)
            #expect(await pollSteps(50, clock, lines))
            group.cancelAll()
        }
        let alarms = try await store.events().map(\.event).filter { $0.kind == .alarm }
        #expect(alarms.count == 1)
        #expect(alarms.first?.event.device == "button-1")
        #expect(await coordinator.latchedAlarms().count == 1, "released, but still latched")
    }
}
