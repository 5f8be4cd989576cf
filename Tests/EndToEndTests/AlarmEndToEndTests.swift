import DeviceProtocols
import EventModel
import EventStore
import Foundation
import PlatformAPI
import SerialTransport
import TestSupport
import Testing
import VirtualDevices

/// The one-key alarm with real processes: a virtual alarm box and a virtual dry-contact button,
/// a real agent, the platform emulator, and an operator acting through the emulator's API.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct AlarmEndToEndTests {
    static func alarmBoxConfig(_ box: VirtualAlarmBox, supervisionSeconds: Int = 30) -> String {
        """
        [[device]]
        name = "alarm-1"
        kind = "alarm-box"
        purpose = "one-key-alarm"
        port = "\(box.linkPath)"
        supervision_seconds = \(supervisionSeconds)
        reopen_initial_ms = 50
        reopen_max_ms = 200

        """
    }

    @Test func anAlarmOvertakesATapBacklogOnASlowPlatformAndTheLoopClosesAtTheBox() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(2))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL, extraPlatform: "batch_size = 20\nheartbeat_seconds = 1",
            extraDevices: Self.alarmBoxConfig(box))
        // A slow platform: every answer takes 400 ms (50 taps/s in batches of 20), so the backlog
        // builds up even when a loaded 2-core machine stores taps at only a few hundred a second.
        try await platform.setFaults(#"{"delayMs": 400}"#)
        let agent = try station.startAgent()

        // Thousands of taps queue up behind the slow platform...
        let reader = station.readers["reader-1"]!
        for index in 0..<2000 {
            try reader.tap(uid: String(format: "%010X", 0x6A_0000_0000 + index))
        }
        // How fast taps are stored depends on the machine's load; wait for a real backlog (500
        // taps, 10 s of the slow platform's work) rather than for a fixed share of the 2000.
        func backlog() async throws -> Int {
            try await EventStore.openReadOnly(directory: station.stateDirectory).summary().lanes[.normal]?.count ?? 0
        }
        let queued = await eventually { try await backlog() >= 500 }
        #expect(queued, "taps are stored faster than the slow platform takes them; log:\n\(agent.log)")

        // ...and the alarm still goes first.
        let receivedAtPress = try await platform.received().filter { $0.event.kind == "card_tap" }.count
        let queuedAtPress = try await backlog()
        let pressed = ContinuousClock.now
        box.press()
        let arrived = await eventually {
            try await platform.received().contains { $0.event.kind == "alarm" }
        }
        #expect(arrived, "log:\n\(agent.log)")
        let elapsed = pressed.duration(to: .now)
        #expect(elapsed < .seconds(10), "press to platform took \(elapsed) (the field rule is 2 s; latency is measured by the benchmark, this only guards against waiting for the backlog)")
        let tapsBefore = try await platform.received().filter { $0.event.kind == "card_tap" }.count
        // The platform takes 50 taps a second: the alarm did not wait for the backlog it found
        // if fewer than half of that backlog went before it.
        #expect(
            tapsBefore - receivedAtPress < queuedAtPress / 2,
            "the alarm waited for the backlog (\(tapsBefore - receivedAtPress) of \(queuedAtPress) queued taps went first)")

        // The loop closes at the box: received, acknowledged, dispatched.
        #expect(await box.waitForIndication(.received, timeout: .seconds(30)), "box shows \(box.currentIndication)")
        let alarms = try await platform.alarms()
        #expect(alarms.count == 1, "one press, one alarm: \(alarms)")
        let alarm = try #require(try await platform.alarms().first)
        try await platform.operatorAction("acknowledge", alarm: alarm.eventId)
        #expect(await box.waitForIndication(.acknowledged, timeout: .seconds(30)), "box shows \(box.currentIndication)")
        try await platform.operatorAction("dispatch", alarm: alarm.eventId)
        #expect(await box.waitForIndication(.dispatched, timeout: .seconds(30)), "box shows \(box.currentIndication)")

        // A key switch at the box resets it; the reset reaches the platform as an event.
        box.keySwitchReset()
        #expect(await box.waitForIndication(.idle, timeout: .seconds(30)))
        #expect(await eventually { try await platform.alarms().first?.state == .reset }, "log:\n\(agent.log)")

        // The heartbeat keeps the station from looking silent.
        let stationView = try await platform.stations().first { $0.stationID == "ST-E2E" }
        #expect(stationView?.silent == false)
        #expect(stationView?.heartbeat?.devices.contains { $0.name == "alarm-1" && $0.state == "online" } == true)

        await agent.stop()
        await platform.stop()
    }

    @Test func aKilledAgentLosesNoLatchedAlarm() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(2))
        defer { box.stop() }
        let database = station.directory + "/platform.sqlite"
        var platform = try await EmulatorProcess(database: database)
        let port = platform.port
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.alarmBoxConfig(box))
        await platform.stop()  // the platform is down when the alarm is pressed

        var agent = try station.startAgent()
        box.press()
        #expect(await box.waitForIndication(.stored, timeout: .seconds(10)), "log:\n\(agent.log)")
        agent.signal(SIGKILL)
        _ = await agent.waitForExit()

        platform = try await EmulatorProcess(database: database, port: port)
        agent = try station.startAgent()
        #expect(await eventually { try await platform.received().contains { $0.event.kind == "alarm" } }, "log:\n\(agent.log)")
        #expect(await box.waitForIndication(.received, timeout: .seconds(10)), "box shows \(box.currentIndication)")
        let alarms = try await platform.received().filter { $0.event.kind == "alarm" }
        #expect(alarms.count == 1, "one press, one alarm")
        await agent.stop()
        await platform.stop()
    }

    /// Found by the setup wizard's end-to-end test: a box pressed while no agent answered holds
    /// its PRESSED behind its unanswered HELLO, while its heartbeats already show the latch. The
    /// agent used to raise one alarm from the first heartbeat's latch and one from the PRESSED.
    @Test func aPressTheBoxHeldWhileNoAgentAnsweredIsOneAlarm() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .milliseconds(500))
        defer { box.stop() }
        #expect(await eventually { box.displayedIndication == .fault }, "an unanswered HELLO becomes a link fault")
        // What the box wrote so far is read away (as `setup` listening to the line does), so the
        // first frame the agent reads is a heartbeat that shows the latch, not an old one.
        let line = try SerialPortOpener.open(path: box.linkPath, settings: SerialSettings(baud: 115_200))
        while try !line.read(maxCount: 4096, timeout: .milliseconds(50)).isEmpty {}
        line.close()
        box.press()
        box.sendHeartbeatNow()
        #expect(box.isLatched && box.unacknowledgedEvents.contains(.pressed))
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.alarmBoxConfig(box))
        let agent = try station.startAgent()
        #expect(await eventually { try await platform.alarms().count >= 1 }, "log:\n\(agent.log)")
        // The latch is judged on a heartbeat at least 2 s after the HELLO: wait until the agent
        // has acted on heartbeats past that (at 500 ms each, five and one more).
        let acknowledged = box.heartbeatsAcknowledged
        #expect(await eventually { box.heartbeatsAcknowledged >= acknowledged + 6 }, "log:\n\(agent.log)")
        let alarms = try await platform.alarms()
        #expect(alarms.count == 1, "one press, one alarm: \(alarms)\nlog:\n\(agent.log)")
        let details = try await platform.received().filter { $0.event.kind == "alarm" }.map { $0.event.detail ?? "" }
        #expect(details == ["alarm box button pressed"], "\(details)")
        await agent.stop()
        await platform.stop()
    }

    /// The latch is the only record of a press the box had delivered to an agent that lost it
    /// (here: its store is gone): the next agent raises the alarm from the box's heartbeat.
    @Test func aLatchNoAgentRecordedIsRaisedFromTheHeartbeat() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .milliseconds(500))
        defer { box.stop() }
        // The first agent has no platform: it takes the press, and its store is then lost.
        try station.writeConfig(platformURL: "http://127.0.0.1:9", extraDevices: Self.alarmBoxConfig(box))
        var agent = try station.startAgent()
        #expect(await eventually { box.isHelloAcknowledged }, "log:\n\(agent.log)")
        box.press()
        #expect(await box.waitUntilAcknowledged(timeout: .seconds(30)), "log:\n\(agent.log)")
        await agent.stop()
        try FileManager.default.removeItem(atPath: station.stateDirectory)
        try FileManager.default.createDirectory(atPath: station.stateDirectory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        #expect(box.isLatched)

        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.alarmBoxConfig(box))
        agent = try station.startAgent()
        #expect(await eventually { try await platform.alarms().count >= 1 }, "log:\n\(agent.log)")
        let acknowledged = box.heartbeatsAcknowledged
        #expect(await eventually { box.heartbeatsAcknowledged >= acknowledged + 2 }, "log:\n\(agent.log)")
        let alarms = try await platform.alarms()
        #expect(alarms.count == 1, "\(alarms)\nlog:\n\(agent.log)")
        let details = try await platform.received().filter { $0.event.kind == "alarm" }.map { $0.event.detail ?? "" }
        #expect(details.count == 1 && details[0].contains("recovered from its heartbeat"), "\(details)")
        await agent.stop()
        await platform.stop()
    }

    @Test func aSilentAlarmBoxBecomesADeviceFault() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .milliseconds(500))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.alarmBoxConfig(box, supervisionSeconds: 2))
        let agent = try station.startAgent()
        #expect(await eventually { box.isHelloAcknowledged }, "the agent answers the box first; log:\n\(agent.log)")
        box.stopHeartbeats()
        #expect(await eventually {
            try await platform.received().contains { $0.event.kind == "device_fault" && $0.event.device == "alarm-1" }
        }, "log:\n\(agent.log)")
        #expect(await box.waitForIndication(.fault, timeout: .seconds(30)) || box.displayedIndication == .fault)
        // The box's acknowledgements of the fault indication are not heartbeats: the fault stays.
        try await Task.sleep(for: .seconds(3))
        let whileSilent = try await platform.received().filter { $0.event.device == "alarm-1" }.map(\.event.kind)
        #expect(!whileSilent.contains("device_online"), "no flapping while the box is silent: \(whileSilent)")
        #expect(box.currentIndication == .fault)
        box.resumeHeartbeats()
        #expect(await eventually {
            try await platform.received().contains { $0.event.kind == "device_online" && $0.event.device == "alarm-1" }
        }, "log:\n\(agent.log)")
        await agent.stop()
        await platform.stop()
    }

    @Test func aDryContactButtonPressIsAnAlarmAndAPlatformResetUnlatchesIt() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let button = try VirtualAlarmButton(path: station.directory + "/button-1.lines")
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL,
            extraDevices: """
                [[device]]
                name = "button-1"
                kind = "alarm-button"
                purpose = "one-key-alarm"
                port = "\(button.portPath)"
                input = "cts"
                drive = "dtr"

                """)
        let agent = try station.startAgent()
        #expect(await eventually { try button.drivedDTR() }, "the agent powers the contact; log:\n\(agent.log)")
        try await button.hold(for: .milliseconds(100))  // too short: not an alarm
        try await Task.sleep(for: .milliseconds(200))
        try await button.hold(for: .milliseconds(600))
        #expect(await eventually { try await platform.received().contains { $0.event.kind == "alarm" } }, "log:\n\(agent.log)")
        let alarms = try await platform.received().filter { $0.event.kind == "alarm" }
        #expect(alarms.count == 1, "the short touch was ignored")
        let alarm = try #require(try await platform.alarms().first)
        try await platform.operatorAction("reset", alarm: alarm.eventId)
        #expect(await eventually {
            try await platform.received().contains { $0.event.kind == "alarm_reset" && $0.event.related == alarm.eventId }
        }, "the platform's reset comes back as an alarm_reset event; log:\n\(agent.log)")
        await agent.stop()
        await platform.stop()
    }
}

extension AlarmEndToEndTests {
    static func buttonConfig(_ button: VirtualAlarmButton, minimumPressMs: Int) -> String {
        """
        [[device]]
        name = "button-1"
        kind = "alarm-button"
        purpose = "one-key-alarm"
        port = "\(button.portPath)"
        input = "cts"
        drive = "dtr"
        minimum_press_ms = \(minimumPressMs)

        """
    }

    /// Reloads that leave the button alone keep it watched; one that changes it closes its line
    /// before the new one opens it (no "not closed yet" wait), and a press after it is an alarm.
    @Test func aButtonIsKeptOrClosedForCertainByAReload() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let button = try VirtualAlarmButton(path: station.directory + "/button-1.lines")
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.buttonConfig(button, minimumPressMs: 300))
        let agent = try station.startAgent()
        #expect(await eventually { try button.drivedDTR() }, "log:\n\(agent.log)")

        // 1. Only the reader changes: the button keeps running.
        try station.writeConfig(
            platformURL: platform.baseURL, extraDevices: Self.buttonConfig(button, minimumPressMs: 300), privacy: "card_ids = \"raw\"\n")
        var text = try String(contentsOfFile: station.configPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "purpose = \"check-in\"", with: "purpose = \"attendance\"")
        try text.write(toFile: station.configPath, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        _ = try await agent.firstLine(containing: "configuration reloaded")
        #expect(agent.log.contains(#"devices=["button-1"] station=ST-E2E [Agent] devices unchanged by the reload keep running"#), "\(agent.log)")
        #expect(agent.log.contains("device=reader-1 station=ST-E2E [Agent] device changed or removed by the reload"), "\(agent.log)")

        // 2. The button changes: it is stopped and its line closed before the new one opens it.
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.buttonConfig(button, minimumPressMs: 200))
        agent.signal(SIGHUP)
        #expect(await eventually { ReloadEndToEndTests.occurrences(of: "configuration reloaded", in: agent.log) == 2 }, "\(agent.log)")
        #expect(!agent.log.contains("have not closed their lines yet"), "the changed button closed its line:\n\(agent.log)")
        #expect(await eventually { try button.drivedDTR() })
        try await button.hold(for: .milliseconds(600))
        #expect(await eventually { try await platform.received().contains { $0.event.kind == "alarm" } }, "log:\n\(agent.log)")
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }
}

extension VirtualAlarmButton {
    /// Whether the agent has driven DTR high (powered the contact).
    func drivedDTR() throws -> Bool {
        try drivenOutputs()[.dtr] == true
    }
}
