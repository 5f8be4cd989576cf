import Agent
import Testing
import Uplink

/// The reconnect state machine every device service runs (``DeviceLineMachine``), event by event.
@Suite struct DeviceLineMachineTests {
    /// No jitter at `unit` 0.5: the delays are the policy's base delays (1 s doubling to 8 s).
    let policy = RetryPolicy(initial: .seconds(1), maximum: .seconds(8), multiplier: 2, jitter: 0.2)

    @Test func itOpensFirstAndServesWhatOpened() {
        var machine = DeviceLineMachine(reopen: policy, port: "/dev/ttyUSB0")
        #expect(machine.start() == [.open])
        #expect(machine.handle(.opened, unit: 0.5) == [.serve])
    }

    @Test func failedOpensReportOfflineAndBackOffUpToTheMaximum() {
        var machine = DeviceLineMachine(reopen: policy, port: "/dev/ttyUSB0")
        let waits = (1...5).map { _ in machine.handle(.openFailed(reason: "No such file or directory"), unit: 0.5) }
        #expect(waits[0] == [.reportOffline("cannot open /dev/ttyUSB0: No such file or directory"), .wait(.seconds(1)), .open])
        #expect(waits.map { $0[1] } == [.wait(.seconds(1)), .wait(.seconds(2)), .wait(.seconds(4)), .wait(.seconds(8)), .wait(.seconds(8))])
        #expect(machine.failures == 5)
    }

    @Test func aLineThatOpensResetsTheBackoffAndALostOneIsTriedAgainSoon() {
        var machine = DeviceLineMachine(reopen: policy, port: "/dev/ttyUSB0")
        _ = machine.handle(.openFailed(reason: "busy"), unit: 0.5)
        _ = machine.handle(.openFailed(reason: "busy"), unit: 0.5)
        _ = machine.handle(.openFailed(reason: "busy"), unit: 0.5)
        #expect(machine.handle(.opened, unit: 0.5) == [.serve])
        #expect(machine.failures == 0)
        #expect(machine.handle(.lost(reason: "lost /dev/ttyUSB0"), unit: 0.5) == [.reportOffline("lost /dev/ttyUSB0"), .wait(.seconds(1)), .open])
        // It does not open again: the next failure continues from the first step.
        #expect(machine.handle(.openFailed(reason: "gone"), unit: 0.5)[1] == .wait(.seconds(2)))
    }

    @Test func theJitterComesFromTheInjectedUnit() {
        var low = DeviceLineMachine(reopen: policy, port: "p")
        var high = DeviceLineMachine(reopen: policy, port: "p")
        #expect(low.handle(.openFailed(reason: "x"), unit: 0)[1] == .wait(.milliseconds(800)))
        #expect(high.handle(.openFailed(reason: "x"), unit: 1)[1] == .wait(.milliseconds(1200)))
    }
}
