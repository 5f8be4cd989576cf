import Dispatch
import Foundation
import OSDP
import SerialTransport
import Synchronization
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

/// The OSDP control panel state machine driven on a real serial port (the simulator's pty) on a
/// dedicated thread, as the agent's OSDP service will drive it.
private final class OSDPPanelRunner: Sendable {
    private struct State: Sendable {
        var panel: OSDPControlPanel
        var events: [OSDPEvent] = []
        var running = true
    }

    private let state: Mutex<State>
    private let done = DispatchSemaphore(value: 0)

    init(path: String, configuration: OSDPControlPanelConfiguration) throws {
        state = Mutex(State(panel: try OSDPControlPanel(configuration: configuration)))
        let port = try SerialPortOpener.open(path: path, settings: .default9600_8N1)
        let thread = Thread { [self] in
            loop(port: port)
        }
        thread.name = "osdp-panel-test"
        thread.start()
    }

    private func loop(port: any SerialPort) {
        let clock = ContinuousClock()
        let origin = clock.now
        var actions = state.withLock { $0.panel.start(now: .zero) }
        while true {
            for action in actions {
                switch action {
                case .send(let bytes): try? port.write(bytes)
                case .event(let event): state.withLock { $0.events.append(event) }
                }
            }
            let (running, deadline) = state.withLock { ($0.running, $0.panel.nextDeadline) }
            guard running else { break }
            let now = clock.now - origin
            let wait = min(max((deadline ?? now + .milliseconds(20)) - now, .zero), .milliseconds(20))
            let bytes = (try? port.read(maxCount: 512, timeout: wait)) ?? []
            let later = clock.now - origin
            actions = state.withLock { bytes.isEmpty ? $0.panel.tick(now: later) : $0.panel.receive(bytes, now: later) }
        }
        port.close()
        done.signal()
    }

    func stop() {
        state.withLock { $0.running = false }
        _ = done.wait(timeout: .now() + 2)
    }

    var events: [OSDPEvent] { state.withLock { $0.events } }

    func events(for address: UInt8) -> [OSDPEvent.Kind] { events.filter { $0.address == address }.map(\.kind) }

    func status(of address: UInt8) -> OSDPReaderStatus? { state.withLock { $0.panel.status(of: address) } }

    func enqueue(_ command: OSDPCommand, for address: UInt8) throws {
        try state.withLock { state throws(OSDPControlPanelError) in try state.panel.enqueue(command, for: address) }
    }
}

/// A fresh directory for device links; removed on deinit.
private final class OSDPLinkDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/osdp-sim-tests-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw CocoaError(.fileWriteUnknown)
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Polls `condition` every 20 ms for at most `timeout`.
private func osdpEventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

@Suite("Virtual OSDP readers on a pseudo-terminal")
struct VirtualOSDPReaderTests {
    static let key = OSDPSecureChannelKey.random()

    @Test("two plain readers on one bus: card, keypad, alarm input, tamper, power; LED and buzzer recorded")
    func twoPlainReaders() async throws {
        let directory = try OSDPLinkDirectory()
        let bus = try VirtualOSDPBus(
            linkPath: directory.path + "/osdp-bus", readers: [.init(address: 1), .init(address: 2, inputCount: 0)])
        bus.start()
        defer { bus.stop() }
        let panel = try OSDPPanelRunner(
            path: bus.linkPath,
            configuration: OSDPControlPanelConfiguration(readers: [
                OSDPReaderConfiguration(address: 1, name: "door"), OSDPReaderConfiguration(address: 2, name: "kiosk"),
            ]))
        defer { panel.stop() }
        #expect(await osdpEventually { panel.status(of: 1)?.isOnline == true && panel.status(of: 2)?.isOnline == true })
        let door = try #require(bus.reader(1))
        let kiosk = try #require(bus.reader(2))
        // Discovery (ID, CAP, LSTAT, ISTAT) is over once the readers are polled.
        #expect(await osdpEventually { door.pollCount > 0 && kiosk.pollCount > 0 })

        try kiosk.presentCard(WiegandCard(format: .wiegand26, facilityCode: 12, cardNumber: 3456))
        try door.presentCard(WiegandCard(format: .wiegand34, facilityCode: 4660, cardNumber: 22136))
        kiosk.pressKeys("7#")
        door.setInput(0, active: true)
        kiosk.setTamper(true)
        kiosk.setPowerFailure(true)
        // Reports go out one per poll, in the order they happened.
        #expect(await osdpEventually { panel.events(for: 2).contains(.powerChanged(failure: true)) })
        #expect(await osdpEventually { panel.events(for: 1).contains(.inputChanged(input: 0, active: true)) })
        #expect(door.pendingReports.isEmpty && kiosk.pendingReports.isEmpty)

        let kioskCards = panel.events(for: 2).compactMap { if case .cardRead(let card) = $0 { card } else { nil } }
        #expect(kioskCards.map(\.wiegand.card) == [WiegandCard(format: .wiegand26, facilityCode: 12, cardNumber: 3456)])
        let doorCards = panel.events(for: 1).compactMap { if case .cardRead(let card) = $0 { card } else { nil } }
        #expect(doorCards.first?.raw.bitCount == 34)
        #expect(doorCards.first?.wiegand.card?.description == "4660:22136")
        #expect(panel.events(for: 2).contains(.keypad(OSDPKeypadData(text: "7#"))))
        #expect(panel.events(for: 2).contains(.tamperChanged(tampered: true)))

        for command in OSDPFeedback.accepted.commands() { try panel.enqueue(command, for: 1) }
        #expect(await osdpEventually { door.buzzerCommands.count == 1 })
        #expect(door.ledCommands == [OSDPFeedback.accepted.led()])
        #expect(door.buzzerCommands == [OSDPFeedback.accepted.buzzer()])
        #expect(kiosk.ledCommands.isEmpty)
        // The kiosk reader has no inputs: the panel never asked for them.
        #expect(!kiosk.receivedCommands.contains(.inputStatus))
    }

    @Test("secure channel on one bus: a keyed reader and an install-mode reader that receives its key")
    func secureReaders() async throws {
        let directory = try OSDPLinkDirectory()
        let bus = try VirtualOSDPBus(
            linkPath: directory.path + "/osdp-bus",
            readers: [
                .init(address: 1, secureChannelKey: Self.key, requireSecureChannel: true),
                .init(address: 2, installMode: true),
            ])
        bus.start()
        defer { bus.stop() }
        let panel = try OSDPPanelRunner(
            path: bus.linkPath,
            configuration: OSDPControlPanelConfiguration(readers: [
                OSDPReaderConfiguration(address: 1, name: "door", secureChannel: .required(key: Self.key, allowInstall: false)),
                OSDPReaderConfiguration(address: 2, name: "kiosk", secureChannel: .required(key: Self.key, allowInstall: true)),
            ]))
        defer { panel.stop() }
        #expect(await osdpEventually { panel.status(of: 1)?.isSecureChannelActive == true })
        #expect(await osdpEventually { panel.events(for: 2).contains(.keyInstalled) })
        #expect(await osdpEventually { panel.status(of: 2)?.isSecureChannelActive == true })
        let door = try #require(bus.reader(1))
        let kiosk = try #require(bus.reader(2))
        #expect(door.isSecureChannelActive && !door.sessionUsesDefaultKey)
        #expect(kiosk.secureChannelKey == Self.key)
        #expect(!kiosk.isInInstallMode)

        try kiosk.presentCard(WiegandCard(format: .wiegand26, facilityCode: 1, cardNumber: 2))
        door.setInput(0, active: true)
        #expect(await osdpEventually {
            panel.events(for: 2).contains { if case .cardRead = $0 { true } else { false } }
                && panel.events(for: 1).contains(.inputChanged(input: 0, active: true))
        })
        try panel.enqueue(.led([OSDPFeedback.alarmAcknowledged.led()]), for: 1)
        #expect(await osdpEventually { door.ledCommands == [OSDPFeedback.alarmAcknowledged.led()] })
    }

    @Test("a silent reader is reported offline, the other keeps working, and it comes back online")
    func silentReader() async throws {
        let directory = try OSDPLinkDirectory()
        let bus = try VirtualOSDPBus(linkPath: directory.path + "/osdp-bus", readers: [.init(address: 1), .init(address: 2)])
        bus.start()
        defer { bus.stop() }
        // A short offline timeout keeps the test quick; the 8 s default is covered without a pty.
        let panel = try OSDPPanelRunner(
            path: bus.linkPath,
            configuration: OSDPControlPanelConfiguration(
                readers: [OSDPReaderConfiguration(address: 1, name: "door"), OSDPReaderConfiguration(address: 2, name: "kiosk")],
                offlineTimeout: .milliseconds(1500), offlineProbeInterval: .milliseconds(300)))
        defer { panel.stop() }
        #expect(await osdpEventually { panel.status(of: 1)?.isOnline == true && panel.status(of: 2)?.isOnline == true })
        let door = try #require(bus.reader(1))
        door.setSilent(true)
        let clock = ContinuousClock()
        let silentAt = clock.now
        #expect(await osdpEventually { panel.events(for: 1).contains { if case .offline = $0 { true } else { false } } })
        let offlineAfter = clock.now - silentAt
        // Not before the offline timeout (1.5 s, less the probe interval's rounding); how much
        // later depends on the machine's load, so no upper bound beyond the wait itself.
        #expect(offlineAfter >= .milliseconds(1300), "offline after \(offlineAfter)")
        #expect(panel.status(of: 2)?.isOnline == true)

        let kiosk = try #require(bus.reader(2))
        try kiosk.presentCard(WiegandCard(format: .wiegand26, facilityCode: 5, cardNumber: 6))
        #expect(await osdpEventually { panel.events(for: 2).contains { if case .cardRead = $0 { true } else { false } } })

        door.setSilent(false)
        #expect(await osdpEventually { panel.events(for: 1).filter { if case .online = $0 { true } else { false } }.count == 2 })
        #expect(panel.status(of: 1)?.isOnline == true)
    }
}
