import DC09Receiver
import DeviceProtocols
import EventModel
import EventStore
import Foundation
import GRDB
import PlatformAPI
import SIADC09
import TestSupport
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
        #expect(await box.waitForIndication(.fault, timeout: .seconds(30)), "the box shows the press is not yet stored; log:\n\(agent.log)")
        box.release()
        #expect(try await platform.received().isEmpty)

        // Space returns.
        let lifted = try ChildProcess("/usr/bin/prlimit", ["--pid", "\(agent.pid)", "--fsize=unlimited:unlimited"])
        #expect(await lifted.waitForExit() == 0, "\(lifted.log)")
        let spaceBack = ContinuousClock.now
        let arrived = await eventually(timeout: .seconds(60)) {
            try await platform.received().contains { $0.event.kind == "alarm" }
        }
        #expect(arrived, "the held press is stored and delivered; log:\n\(agent.log)")
        Measured.report("start on a full disk: space back to the alarm at the platform", since: spaceBack)
        let alarm = try #require(try await platform.received().first { $0.event.kind == "alarm" })
        let occurred = try #require(Timestamp.parse(alarm.event.occurredAt))
        #expect(abs(occurred.timeIntervalSince(pressed)) < 5, "stored with the time of the press, not of the store's opening")
        #expect(await box.waitForIndication(.received, timeout: .seconds(30)), "box shows \(box.currentIndication)")
        #expect(try await platform.received().contains { $0.event.kind == EventKind.agentStarted.rawValue && $0.event.detail != "an earlier run" })
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    /// The integrity check after start finds the store damaged and salvages it (seconds on a
    /// large store; every write waits for the fresh file): an alarm pressed while the salvage
    /// runs is read at once, stored with the time of the press once the fresh file is in place,
    /// and reaches the platform.
    @Test func anAlarmPressedWhileTheStoreIsSalvagedIsStoredWithItsTimeAndDelivered() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        // 100,000 delivered events, then a page in the middle overwritten: the cheap checks at
        // open pass, the full check after start finds it.
        do {
            let store = try EventStore.open(directory: station.stateDirectory)
            for chunk in 0..<10 {
                let stored = try await store.append(
                    contentsOf: (0..<10_000).map {
                        NewEvent(
                            kind: .cardTap, device: "reader-1", purpose: "check-in",
                            card: CardRead(uid: String(format: "%010X", chunk * 10_000 + $0), format: "em4100"))
                    })
                try await store.markDelivered(stored.map { DeliveryOutcome(seq: $0.seq, status: .accepted) })
            }
            try store.checkpoint()
        }
        try station.damageMiddlePageOfTheStore()

        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(1))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        let agent = try station.startAgent()
        _ = try await agent.firstLine(containing: "event database corrupt: salvaging into a fresh store", timeout: .seconds(60))
        let pressed = Date()
        let pressedAt = ContinuousClock.now
        box.press()
        #expect(
            !agent.log.contains("event database recovered at run time"),
            "the press came while the salvage was still running (it was too quick to test the window); log:\n\(agent.log)")
        let arrived = await eventually(timeout: .seconds(60)) {
            try await platform.received().contains { $0.event.kind == "alarm" }
        }
        #expect(arrived, "the press during the salvage is stored and delivered; log:\n\(agent.log)")
        Measured.report("store salvaged after start: press to the alarm at the platform", since: pressedAt)
        #expect(await eventually { agent.log.contains("event database recovered at run time") }, "log:\n\(agent.log)")
        let alarm = try #require(try await platform.received().first { $0.event.kind == "alarm" })
        let occurred = try #require(Timestamp.parse(alarm.event.occurredAt))
        #expect(abs(occurred.timeIntervalSince(pressed)) < 2, "stored with the time of the press, not of the salvage's end")
        #expect(await box.waitForIndication(.received, timeout: .seconds(30)), "box shows \(box.currentIndication); log:\n\(agent.log)")
        box.release()
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
        let stopped = ContinuousClock.now
        agent.signal(SIGTERM)
        // Two more batches after SIGTERM: the drain is under way, and the readers have stopped.
        #expect(await eventually { try await platform.received().count >= before + 10 }, "the drain is under way; log:\n\(agent.log)")
        #expect(agent.isRunning)
        box.press()
        #expect(await agent.waitForExit(timeout: .seconds(40)) == 0, "log:\n\(agent.log)")
        Measured.report("shutdown drain on a slow platform: SIGTERM to exit", since: stopped)
        let alarms = try await store().events(limit: 10_000).filter { $0.event.kind == .alarm }
        #expect(alarms.count == 1, "the press during the drain was stored; log:\n\(agent.log)")

        try await platform.clearFaults()
        agent = try station.startAgent()
        #expect(await eventually { try await platform.received().contains { $0.event.kind == "alarm" } }, "log:\n\(agent.log)")
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0)
        await platform.stop()
    }

    /// An alarm receiving centre that stops reading (it still accepts connections; what the
    /// agent sends waits unread in the kernel's buffers): each DC-09 exchange is abandoned at
    /// `response_timeout_seconds` and repeated, the HTTP lane is not held by it (the press reaches
    /// the platform at once, with its time), and once the receiver reads again it gets the alarm.
    @Test func anAlarmPressedWhileTheDC09ReceiverStopsReadingReachesThePlatformAtOnceAndTheReceiverLater() async throws {
        try await OSDPAndDC09EndToEndTests.withAlarmBoxAndReceiver { fixture in
            let (box, receiver, platform, agent) = (fixture.box, fixture.receiver, fixture.platform, fixture.agent)

            receiver.setReading(false)
            let pressed = Date()
            let pressedAt = ContinuousClock.now
            box.press()
            #expect(
                await eventually { try await platform.received().contains { $0.event.kind == "alarm" } },
                "the HTTP lane is not held by the DC-09 one; log:\n\(agent.log)")
            Measured.report("DC-09 receiver not reading: press to the alarm at the platform", since: pressedAt)
            let alarm = try #require(try await platform.received().first { $0.event.kind == "alarm" })
            let occurred = try #require(Timestamp.parse(alarm.event.occurredAt))
            #expect(abs(occurred.timeIntervalSince(pressed)) < 2, "stored with the time of the press")
            #expect(
                await eventually { agent.log.contains("DC-09 attempt failed") },
                "the unanswered exchange is abandoned at its deadline and logged; log:\n\(agent.log)")
            #expect(receiver.received.isEmpty, "the receiver read nothing: \(receiver.received)")
            #expect(agent.isRunning)

            receiver.setReading(true)
            let readingAgain = ContinuousClock.now
            #expect(
                await eventually(timeout: .seconds(20)) {
                    receiver.received.contains { $0.answer == .ack && $0.message?.data.contains("PA") == true }
                        && agent.log.contains("DC-09 receiver acknowledged")
                }, "once the receiver reads again it gets the alarm; received: \(receiver.received); log:\n\(agent.log)")
            Measured.report("DC-09 receiver not reading: reading again to the ACK", since: readingAgain)
        }
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
        let (agent, socket) = try await Self.startWatchedAgent(station)
        let first = await socket.messages(until: "WATCHDOG=1")
        #expect(first.last?.contains("WATCHDOG=1") == true, "\(first)\nlog:\n\(agent.log)")
        let second = await socket.messages(until: "WATCHDOG=1")
        #expect(second.last?.contains("WATCHDOG=1") == true, "pings go on; log:\n\(agent.log)")
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    /// The store's commit path hangs (another process holds the database's write lock, as a
    /// `sqlite3` shell left in a transaction does): the watchdog probe gets no answer and the
    /// alarm loop stays busy storing a press, so `WATCHDOG=1` stops for longer than
    /// `WatchdogSec` (systemd would restart the agent); once the lock goes, the press is stored
    /// with its time and delivered, and the pings resume.
    @Test func aHungCommitPathStopsTheWatchdogPingsUntilItAnswersAgain() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(1))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        let (agent, socket) = try await Self.startWatchedAgent(station)
        #expect(await socket.messages(until: "WATCHDOG=1").last?.contains("WATCHDOG=1") == true, "log:\n\(agent.log)")
        #expect(await eventually { box.currentIndication == .idle && agent.log.contains("alarm box line open") }, "log:\n\(agent.log)")
        // The store is open (before that, the commit path is not waited for: a store that does
        // not open yet is not a hang, and the devices are read meanwhile).
        #expect(
            await eventually { try await platform.received().contains { $0.event.kind == EventKind.agentStarted.rawValue } },
            "log:\n\(agent.log)")

        var holder = Configuration()
        holder.allowsUnsafeTransactions = true  // the point: a transaction left open, holding the lock
        holder.busyMode = .timeout(10)
        let lock = try DatabaseQueue(path: station.stateDirectory + "/" + EventStore.fileName, configuration: holder)
        try await lock.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        let pressed = Date()
        box.press()
        _ = try await agent.firstLine(containing: "watchdog pings withheld", timeout: .seconds(20))
        _ = await socket.messages(until: "WATCHDOG=1", timeout: .zero)  // what came before the line
        let during = await socket.messages(until: "WATCHDOG=1", timeout: .seconds(5))
        #expect(!during.contains { $0.contains("WATCHDOG=1") }, "no ping for 2.5 × WatchdogSec while the commit path hangs: \(during)")
        #expect(try await platform.received().allSatisfy { $0.event.kind != "alarm" })

        try await lock.writeWithoutTransaction { try $0.execute(sql: "COMMIT") }
        try lock.close()
        let released = ContinuousClock.now
        #expect(
            await socket.messages(until: "WATCHDOG=1").last?.contains("WATCHDOG=1") == true,
            "pings resume once the commit path answers; log:\n\(agent.log)")
        Measured.report("hung commit path: lock released to the next WATCHDOG=1", since: released)
        #expect(await eventually { agent.log.contains("watchdog pings resume") }, "log:\n\(agent.log)")
        #expect(await eventually { try await platform.received().contains { $0.event.kind == "alarm" } }, "log:\n\(agent.log)")
        let alarm = try #require(try await platform.received().first { $0.event.kind == "alarm" })
        let occurred = try #require(Timestamp.parse(alarm.event.occurredAt))
        #expect(abs(occurred.timeIntervalSince(pressed)) < 2, "stored with the time of the press")
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    /// The agent under a systemd watchdog of 2 s (`NOTIFY_SOCKET`, `WATCHDOG_USEC`), once it has
    /// said `READY=1`.
    static func startWatchedAgent(_ station: Station) async throws -> (ChildProcess, NotifySocket) {
        let socket = try NotifySocket(path: station.directory + "/notify.sock")
        let agent = try ChildProcess(
            Binaries.agent, ["run", "--config", station.configPath],
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "2000000"])
        _ = await socket.messages(until: "READY=1")
        return (agent, socket)
    }
}
