import DC09Receiver
import DeviceProtocols
import EventModel
import EventStore
import Foundation
import OSDP
import PlatformAPI
import SIADC09
import TestSupport
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

/// A store that fails every write while the agent runs (the disk fills up), on every kind of
/// device at once: nothing is lost, nothing says "stored" that is not, and everything is stored
/// with the time it happened and delivered once space returns.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct FailingStoreTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit")))
    func aDiskThatFillsUpWhileRunningLosesNothingFromAnyDeviceKind() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(1))
        defer { box.stop() }
        let button = try VirtualAlarmButton(path: station.directory + "/button-1.lines")
        let bus = try VirtualOSDPBus(
            linkPath: station.directory + "/osdp-bus", readers: [OSDPPeripheral.Configuration(address: 1, inputCount: 2)])
        bus.start()
        defer { bus.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL,
            extraDevices: AlarmEndToEndTests.alarmBoxConfig(box) + AlarmEndToEndTests.buttonConfig(button, minimumPressMs: 300)
                + OSDPAndDC09EndToEndTests.osdpBusConfig(bus, readers: ["address = 1\nname = \"entrance\"\nalarm_input = 1"]))
        let agent = try station.startAgent()
        let entrance = try #require(bus.reader(1))
        #expect(
            await eventually {
                let powered = try button.drivedDTR()
                return powered && box.currentIndication == .idle && agent.log.contains("alarm box line open") && entrance.pollCount > 0
            }, "every device is open; log:\n\(agent.log)")
        func store() throws -> EventStore { try EventStore.openReadOnly(directory: station.stateDirectory) }
        #expect(await eventually { try await store().events(limit: 1000).contains { $0.event.kind == .agentStarted } })

        // The disk fills up: every write of the agent now fails (EFBIG, as ENOSPC would).
        let full = try ChildProcess("/usr/bin/prlimit", ["--pid", "\(agent.pid)", "--fsize=0:unlimited"])
        #expect(await full.waitForExit() == 0, "\(full.log)")
        let storedBefore = try await store().events(limit: 10_000).count
        let feedbackBefore = entrance.ledCommands.count

        let started = Date()
        try station.readers["reader-1"]!.tap(uid: "7D00C0FFEE")
        try entrance.presentCard(WiegandCard(format: .wiegand26, facilityCode: 77, cardNumber: 1234))
        box.press()
        entrance.setInput(1, active: true)
        try await button.hold(for: .milliseconds(600))

        #expect(await box.waitForIndication(.fault, timeout: .seconds(30)), "the box shows its press is not yet stored; log:\n\(agent.log)")
        #expect(
            await eventually { entrance.ledCommands.dropFirst(feedbackBefore).contains { $0.temporaryOnColor == .red } },
            "the OSDP reader does not say \"accepted\" for a tap only held in memory: \(entrance.ledCommands); log:\n\(agent.log)")
        #expect(
            !entrance.ledCommands.dropFirst(feedbackBefore).contains { $0.temporaryOnColor == .green },
            "no \"accepted\" while nothing can be stored")
        #expect(
            await eventually { agent.log.contains("holding it in memory and retrying") },
            "the agent says it holds what it cannot store; log:\n\(agent.log)")
        for device in ["alarm-1", "button-1", "entrance"] {
            #expect(
                await eventually { agent.log.contains("device=\(device) held=") && agent.log.contains("ALARM pressed but not yet stored") },
                "\(device): the alarm is said to be held, not stored; log:\n\(agent.log)")
        }
        #expect(try await store().events(limit: 10_000).count == storedBefore, "nothing was stored while the disk was full")
        box.release()
        entrance.setInput(1, active: false)
        #expect(agent.isRunning, "a full disk does not end the agent; log:\n\(agent.log)")

        // Space returns.
        let lifted = try ChildProcess("/usr/bin/prlimit", ["--pid", "\(agent.pid)", "--fsize=unlimited:unlimited"])
        #expect(await lifted.waitForExit() == 0, "\(lifted.log)")
        let spaceBack = ContinuousClock.now
        let expected: [(kind: String, device: String)] = [
            ("card_tap", "reader-1"), ("card_tap", "entrance"), ("alarm", "alarm-1"), ("alarm", "button-1"), ("alarm", "entrance"),
        ]
        let arrived = await eventually(timeout: .seconds(60)) {
            let received = try await platform.received()
            return expected.allSatisfy { wanted in
                received.contains { $0.event.kind == wanted.kind && $0.event.device == wanted.device && $0.event.happenedAfter(started) }
            }
        }
        #expect(arrived, "every held event is stored and delivered; log:\n\(agent.log)")
        Measured.report("full disk while running: space back to every held event at the platform", since: spaceBack)
        let received = try await platform.received()
        for wanted in expected {
            let matches = received.filter { $0.event.kind == wanted.kind && $0.event.device == wanted.device && $0.event.happenedAfter(started) }
            #expect(matches.count == 1, "\(wanted.kind) from \(wanted.device) once: \(matches.map(\.event.id))")
            if let occurred = matches.first.flatMap({ Timestamp.parse($0.event.occurredAt) }) {
                #expect(occurred.timeIntervalSince(started) < 10, "\(wanted.device): stored with the time it happened, not when space returned")
            }
        }
        #expect(try await platform.received().contains { $0.event.card?.uid == "77:1234" }, "the OSDP tap kept its card")
        #expect(await box.waitForIndication(.received, timeout: .seconds(30)), "box shows \(box.currentIndication)")
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    /// The disk fills up while an alarm is on its way to the alarm receiving centre: the DC-09
    /// lane cannot save its place once the receiver acknowledges, and goes on (it used to end
    /// the agent); the reset at the box, after space returns, reaches the receiver too.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit")))
    func theDC09LaneGoesOnWhenItCannotSaveItsPlace() async throws {
        try await OSDPAndDC09EndToEndTests.withAlarmBoxAndReceiver { fixture in
            let (box, receiver, platform, agent) = (fixture.box, fixture.receiver, fixture.platform, fixture.agent)

            // The press is stored and reaches the platform; the receiver does not read yet.
            receiver.setReading(false)
            box.press()
            #expect(await eventually { try await platform.received().contains { $0.event.kind == "alarm" } }, "log:\n\(agent.log)")
            box.release()
            #expect(await eventually { agent.log.contains("DC-09 attempt failed") }, "log:\n\(agent.log)")

            // The disk fills up; then the receiver reads and acknowledges.
            let full = try ChildProcess("/usr/bin/prlimit", ["--pid", "\(agent.pid)", "--fsize=0:unlimited"])
            #expect(await full.waitForExit() == 0, "\(full.log)")
            receiver.setReading(true)
            #expect(
                await eventually(timeout: .seconds(20)) { agent.log.contains("cannot save the DC-09 lane's place in the store yet") },
                "received: \(receiver.received); log:\n\(agent.log)")
            #expect(agent.isRunning, "log:\n\(agent.log)")

            // Space returns; the reset at the box goes to the receiver after the alarm.
            let lifted = try ChildProcess("/usr/bin/prlimit", ["--pid", "\(agent.pid)", "--fsize=unlimited:unlimited"])
            #expect(await lifted.waitForExit() == 0, "\(lifted.log)")
            box.keySwitchReset()
            #expect(
                await eventually(timeout: .seconds(20)) {
                    receiver.received.contains { $0.answer == .ack && $0.message?.data.contains("PH") == true }
                }, "received: \(receiver.received); log:\n\(agent.log)")
            #expect(agent.isRunning, "log:\n\(agent.log)")
        }
    }
}

extension WireEvent {
    /// Whether the event happened at or after `date` (one second of slack for rounding).
    fileprivate func happenedAfter(_ date: Date) -> Bool {
        guard let occurred = Timestamp.parse(occurredAt) else { return false }
        return occurred.timeIntervalSince(date) > -1
    }
}
