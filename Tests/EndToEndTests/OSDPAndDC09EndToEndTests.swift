import DC09Receiver
import DeviceProtocols
import EventModel
import Foundation
import Logging
import OSDP
import PlatformAPI
import SIADC09
import TestSupport
import Testing
import VirtualDevices

/// OSDP readers on one simulated RS-485 bus and an SIA DC-09 receiving centre, with a real agent.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OSDPAndDC09EndToEndTests {
    @Test func twoOSDPReadersOneSecureDeliverTapsAndAnInputWiredAlarmAndASilentReaderGoesOffline() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let keyHex = "00112233445566778899AABBCCDDEEFF"
        let keyFile = station.directory + "/entrance.key"
        try keyHex.write(toFile: keyFile, atomically: true, encoding: .utf8)
        #expect(chmod(keyFile, 0o600) == 0)
        let bus = try VirtualOSDPBus(
            linkPath: station.directory + "/osdp-bus",
            readers: [
                OSDPPeripheral.Configuration(address: 1, inputCount: 2, secureChannelKey: try OSDPSecureChannelKey(hex: keyHex),
                                             requireSecureChannel: true),
                OSDPPeripheral.Configuration(address: 2),
            ])
        bus.start()
        defer { bus.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL,
            extraDevices: Self.osdpBusConfig(bus, readers: [
                "address = 1\nname = \"entrance\"\nsecure = true\nkey_file = \"\(keyFile)\"\nalarm_input = 1",
                "address = 2\nname = \"desk\"\npurpose = \"service-request\"",
            ]))
        let agent = try station.startAgent()
        let entrance = try #require(bus.reader(1))
        let desk = try #require(bus.reader(2))
        #expect(await eventually { entrance.isSecureChannelActive && desk.pollCount > 0 }, "log:\n\(agent.log)")

        try entrance.presentCard(WiegandCard(format: .wiegand26, facilityCode: 123, cardNumber: 4567))
        try desk.presentCard(WiegandCard(format: .wiegand34, facilityCode: 4000, cardNumber: 65_000))
        #expect(await eventually {
            let taps = try await platform.received().filter { $0.event.kind == "card_tap" }
            return Set(taps.compactMap(\.event.card?.uid)) == ["123:4567", "4000:65000"]
        }, "log:\n\(agent.log)")
        let taps = try await platform.received().filter { $0.event.kind == "card_tap" }
        #expect(taps.first { $0.event.device == "desk" }?.event.purpose == "service-request")
        #expect(await eventually { !entrance.ledCommands.isEmpty }, "the reader shows the tap was stored")

        entrance.setInput(1, active: true)
        #expect(await eventually {
            try await platform.received().contains { $0.event.kind == "alarm" && $0.event.device == "entrance" }
        }, "log:\n\(agent.log)")

        let silencedAt = ContinuousClock.now
        desk.setSilent(true)
        #expect(await eventually {
            try await platform.received().contains { $0.event.kind == "device_offline" && $0.event.device == "desk" }
        }, "log:\n\(agent.log)")
        let offlineAfter = silencedAt.duration(to: .now)
        #expect(offlineAfter >= .seconds(7) && offlineAfter <= .seconds(11), "offline after \(offlineAfter)")
        desk.setSilent(false)
        #expect(await eventually {
            try await platform.received().contains { $0.event.kind == "device_online" && $0.event.device == "desk" }
        }, "log:\n\(agent.log)")
        await agent.stop()
        await platform.stop()
    }

    @Test func anAlarmAlsoReachesTheDC09ReceivingCentreAndItsResetIsARestore() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(2))
        defer { box.stop() }
        let receiver = try await Self.startReceiver()
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL,
            extraDevices: """
                [[device]]
                name = "alarm-1"
                kind = "alarm-box"
                purpose = "one-key-alarm"
                port = "\(box.linkPath)"

                """ + Self.siaConfig(receiver))
        let agent = try station.startAgent()
        #expect(await eventually { box.currentIndication == .idle && agent.log.contains("alarm box line open") }, "log:\n\(agent.log)")
        box.press()
        let messages = await receiver.waitForMessages(count: 1, timeout: .seconds(30))
        #expect(messages.first?.message?.data.contains("PA") == true, "received: \(messages); log:\n\(agent.log)")
        #expect(messages.first?.answer == .ack)
        box.keySwitchReset()
        let more = await receiver.waitForMessages(count: 2, timeout: .seconds(30))
        #expect(more.count >= 2 && more[1].message?.data.contains("PH") == true, "received: \(more); log:\n\(agent.log)")
        #expect(await eventually { try await platform.received().contains { $0.event.kind == "alarm" } })
        await agent.stop()
        await platform.stop()
        await receiver.shutdown()
    }
}

extension OSDPAndDC09EndToEndTests {
    /// A simulated receiving centre that knows account 1234 (no encryption).
    /// An `osdp-bus` device "door-bus" on `bus` (purpose check-in) with one `[[device.reader]]`
    /// per entry of `readers`, each its keys as TOML lines.
    static func osdpBusConfig(_ bus: VirtualOSDPBus, readers: [String]) -> String {
        """

        [[device]]
        name = "door-bus"
        kind = "osdp-bus"
        port = "\(bus.linkPath)"
        purpose = "check-in"

        """ + readers.map { "\n[[device.reader]]\n\($0)\n" }.joined()
    }

    /// What ``withAlarmBoxAndReceiver(_:)`` starts.
    struct AlarmBoxAndReceiver {
        let station: Station
        let box: VirtualAlarmBox
        let receiver: DC09ReceiverServer
        let platform: EmulatorProcess
        let agent: ChildProcess
    }

    /// A station with an alarm box, a DC-09 receiver (1 s response timeout, 5 s retry) and the
    /// platform emulator, the agent started and the box's line open; runs `body`, then stops the
    /// agent with SIGTERM (expecting a clean exit), the receiver and the platform.
    static func withAlarmBoxAndReceiver(_ body: (AlarmBoxAndReceiver) async throws -> Void) async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(1))
        defer { box.stop() }
        let receiver = try await startReceiver()
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL,
            extraDevices: AlarmEndToEndTests.alarmBoxConfig(box) + siaConfig(receiver, responseTimeoutSeconds: 1, retrySeconds: 5))
        let agent = try station.startAgent()
        #expect(await eventually { box.currentIndication == .idle && agent.log.contains("alarm box line open") }, "log:\n\(agent.log)")
        try await body(AlarmBoxAndReceiver(station: station, box: box, receiver: receiver, platform: platform, agent: agent))
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await receiver.shutdown()
        await platform.stop()
    }

    static func startReceiver() async throws -> DC09ReceiverServer {
        try await DC09ReceiverServer.start(
            policy: DC09ReceiverPolicy(accounts: [try DC09Account("1234"): nil]), logger: Logger(label: "test.dc09"))
    }

    /// The `[sia]` table pointing the agent at `receiver` as account 1234, without link tests;
    /// the timeouts as given, or the agent's defaults.
    static func siaConfig(_ receiver: DC09ReceiverServer, responseTimeoutSeconds: Int? = nil, retrySeconds: Int? = nil) -> String {
        var text = """

            [sia]
            receiver = "127.0.0.1:\(receiver.port)"
            account = "1234"
            receiver_number = "1"
            link_test_seconds = 0

            """
        if let responseTimeoutSeconds { text += "response_timeout_seconds = \(responseTimeoutSeconds)\n" }
        if let retrySeconds { text += "retry_seconds = \(retrySeconds)\n" }
        return text
    }
}
