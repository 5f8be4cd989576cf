import DeviceProtocols
import EventModel
import EventStore
import Foundation
import PlatformAPI
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

/// An alarm is read at every moment the agent runs: here, while the store cannot be opened.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct LivenessTests {
    /// A start on a disk too full for SQLite (the agent's file size limit is 0: every write fails
    /// with EFBIG, as on a full disk): the agent starts anyway, reads the alarm box, holds the
    /// press and shows `fault` ("not yet stored"); once space returns the store opens, the press
    /// is stored with the time it was made and reaches the platform.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit")))
    func anAgentStartedOnAFullDiskReadsTheAlarmAndStoresItWhenSpaceReturns() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(1))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        // A store from an earlier run, closed cleanly.
        do {
            let store = try EventStore.open(directory: station.stateDirectory)
            _ = try await store.append(NewEvent(kind: .agentStarted, device: "agent", detail: "an earlier run"))
            try store.checkpoint()
        }

        let agent = try ChildProcess("/usr/bin/prlimit", ["--fsize=0:unlimited", Binaries.agent, "run", "--config", station.configPath])
        _ = try await agent.firstLine(containing: "cannot open the event store; the devices are read", timeout: .seconds(30))
        let pressed = Date()
        box.press()
        #expect(await box.waitForIndication(.fault, timeout: .seconds(15)), "the box shows the press is not yet stored; log:\n\(agent.log)")
        box.release()
        #expect(try await platform.received().isEmpty)

        // Space returns.
        let lifted = try ChildProcess("/usr/bin/prlimit", ["--pid", "\(agent.pid)", "--fsize=unlimited:unlimited"])
        #expect(await lifted.waitForExit() == 0, "\(lifted.log)")
        let arrived = await eventually(timeout: .seconds(60)) {
            try await platform.received().contains { $0.event.kind == "alarm" }
        }
        #expect(arrived, "the held press is stored and delivered; log:\n\(agent.log)")
        let alarm = try #require(try await platform.received().first { $0.event.kind == "alarm" })
        let occurred = try #require(Timestamp.parse(alarm.event.occurredAt))
        #expect(abs(occurred.timeIntervalSince(pressed)) < 5, "stored with the time of the press, not of the store's opening")
        #expect(await box.waitForIndication(.received, timeout: .seconds(15)), "box shows \(box.currentIndication)")
        #expect(try await platform.received().contains { $0.event.kind == EventKind.agentStarted.rawValue && $0.event.detail != "an earlier run" })
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    /// SIGTERM with a backlog on a slow platform: the readers stop first, the forwarder drains,
    /// and the alarm box is read to the end: a press during the drain is stored, and sent after
    /// the next start if the drain did not take it.
    @Test func anAlarmPressedDuringTheShutdownDrainIsStored() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(1))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL, extraPlatform: "batch_size = 5", extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        try await platform.setFaults(#"{"delayMs": 500}"#)
        var agent = try station.startAgent()
        #expect(await eventually { box.currentIndication == .idle && agent.log.contains("alarm box line open") }, "log:\n\(agent.log)")
        for index in 0..<60 { try station.readers["reader-1"]!.tap(uid: String(format: "%010X", 0x7D_0000_0000 + index)) }
        func store() throws -> EventStore { try EventStore.openReadOnly(directory: station.stateDirectory) }
        #expect(await eventually { try await store().summary().lanes[.normal]?.count ?? 0 >= 30 }, "a backlog; log:\n\(agent.log)")

        let before = try await platform.received().count
        agent.signal(SIGTERM)
        // Two more batches after SIGTERM: the drain is under way, and the readers have stopped.
        #expect(await eventually { try await platform.received().count >= before + 10 }, "the drain is under way; log:\n\(agent.log)")
        #expect(agent.isRunning)
        box.press()
        #expect(await agent.waitForExit(timeout: .seconds(40)) == 0, "log:\n\(agent.log)")
        let alarms = try await store().events(limit: 10_000).filter { $0.event.kind == .alarm }
        #expect(alarms.count == 1, "the press during the drain was stored; log:\n\(agent.log)")

        try await platform.clearFaults()
        agent = try station.startAgent()
        #expect(await eventually { try await platform.received().contains { $0.event.kind == "alarm" } }, "log:\n\(agent.log)")
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0)
        await platform.stop()
    }

    /// With `WatchdogSec=` (here 2 s: `WATCHDOG_USEC`), the running agent sends `WATCHDOG=1`
    /// while its alarm loops and commit path make progress (a hung loop withholds them:
    /// `WatchdogTests`).
    @Test func aHealthyAgentFeedsTheWatchdog() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(1))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        let socket = try NotifySocket(path: station.directory + "/notify.sock")
        let agent = try ChildProcess(
            Binaries.agent, ["run", "--config", station.configPath],
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "2000000"])
        _ = await socket.messages(until: "READY=1")
        let first = await socket.messages(until: "WATCHDOG=1")
        #expect(first.last?.contains("WATCHDOG=1") == true, "\(first)\nlog:\n\(agent.log)")
        let second = await socket.messages(until: "WATCHDOG=1")
        #expect(second.last?.contains("WATCHDOG=1") == true, "pings go on; log:\n\(agent.log)")
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }
}
