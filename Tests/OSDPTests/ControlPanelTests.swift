import OSDP
import Synchronization
import Testing

@Suite("Control panel: discovery, polling, sequence numbers, timing")
struct ControlPanelTests {
    @Test("discovery at start: ID, CAP, LSTAT, ISTAT, then polls; sequence 0, then 1, 2, 3, 1, ...")
    func discoveryAndSequence() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]),
            devices: [.init(address: 1)])
        bus.start()
        bus.run(for: .milliseconds(400))
        let frames = bus.commands(to: 1)
        #expect(frames.prefix(6).map(\.packet.code) == [0x61, 0x62, 0x64, 0x65, 0x60, 0x60])
        #expect(frames.prefix(9).map(\.packet.sequence) == [0, 1, 2, 3, 1, 2, 3, 1, 2])
        #expect(frames.allSatisfy { $0.packet.check == .crc16 && $0.bytes.first == 0xFF })
        let kinds = bus.events(for: 1)
        #expect(kinds.first?.isOnline == true)
        #expect(kinds.contains { if case .identified(let id) = $0 { id.serialNumber == 0x1000_0001 } else { false } })
        #expect(kinds.contains { if case .capabilities(let caps) = $0 { !caps.isEmpty } else { false } })
        let status = try #require(bus.panel.status(of: 1))
        #expect(status.isOnline && status.inputs == [false] && status.localStatus?.tamper == false)
        #expect(status.retransmissions == 0 && status.timeouts == 0)
    }

    @Test("two readers on one bus: both discovered, polled in turn, each with its own sequence numbers")
    func multiDrop() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1), readerConfig(2)]),
            devices: [.init(address: 1), .init(address: 2)])
        bus.start()
        bus.run(for: .seconds(1))
        for address: UInt8 in [1, 2] {
            let frames = bus.commands(to: address)
            #expect(frames.prefix(4).map(\.packet.code) == [0x61, 0x62, 0x64, 0x65])
            #expect(frames.prefix(8).map(\.packet.sequence) == [0, 1, 2, 3, 1, 2, 3, 1])
            #expect(frames.count > 10)
            #expect(bus.panel.status(of: address)?.isOnline == true)
        }
        // Strict alternation while both are idle: no reader starves the other.
        let order = bus.sent.map(\.packet.address)
        let switches = zip(order, order.dropFirst()).filter { $0 != $1 }.count
        #expect(switches >= order.count - 2)
    }

    @Test("half duplex: one command in flight; the next waits for the reply plus a turnaround gap")
    func oneAtATime() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1), readerConfig(2)], baudRate: 9600),
            devices: [.init(address: 1), .init(address: 2)])
        bus.replyLatency = .milliseconds(40)
        bus.start()
        bus.run(for: .seconds(1))
        let times = bus.sent.map(\.time)
        let gap = OSDPControlPanelConfiguration(readers: [readerConfig(1)]).effectiveTurnaroundGap
        #expect(gap >= .microseconds(2080) && gap < .microseconds(2090))
        for (earlier, later) in zip(times, times.dropFirst()) {
            #expect(later - earlier >= .milliseconds(40) + gap)
        }
    }

    @Test("a reply 150 ms late is accepted; no reply within 200 ms after the command's last byte is a timeout")
    func replyDeadline() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]), devices: [.init(address: 1)])
        bus.replyLatency = .milliseconds(150)
        bus.start()
        bus.run(for: .seconds(2))
        #expect(bus.panel.status(of: 1)?.timeouts == 0)
        #expect(bus.commands(to: 1).count >= 8)

        var slow = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]), devices: [.init(address: 1)])
        slow.replyLatency = .milliseconds(250)
        slow.start()
        slow.run(for: .seconds(2))
        #expect((slow.panel.status(of: 1)?.timeouts ?? 0) > 0)

        // A reader that never answers: each retransmission of the ID (same bytes, sequence 0) goes
        // out no earlier than 200 ms plus the command's transmission time after the previous one.
        var silent = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]), devices: [.init(address: 1)])
        silent.silent.insert(1)
        silent.start()
        silent.run(for: .seconds(2))
        let frames = silent.commands(to: 1)
        #expect(frames.count >= 8 && frames.count <= 10)
        let transmission = OSDPControlPanelConfiguration(readers: [readerConfig(1)]).characterTime * frames[0].bytes.count
        for (earlier, later) in zip(frames, frames.dropFirst()) {
            #expect(later.time - earlier.time >= .milliseconds(200) + transmission)
            #expect(later.bytes == earlier.bytes)
        }
        #expect(frames.allSatisfy { $0.packet.sequence == 0 && $0.packet.code == 0x61 })
    }

    @Test("a lost reply: the same bytes, same sequence number, go out again; the PD answers from its cache")
    func retransmissionSameSequence() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]), devices: [.init(address: 1)])
        bus.start()
        bus.run(for: .milliseconds(500))
        let bits1234 = try Wiegand.encode(WiegandCard(format: .wiegand26, facilityCode: 7, cardNumber: 1234))
        bus.device(1) { $0.presentCard(OSDPRawCardData(bits: bits1234)) }
        bus.dropReplies[1] = 1
        let before = bus.commands(to: 1).count
        bus.run(for: .milliseconds(500))
        let frames = Array(bus.commands(to: 1).dropFirst(before))
        let lost = try #require(frames.first)
        let again = try #require(frames.dropFirst().first)
        #expect(again.bytes == lost.bytes)
        #expect(again.packet.sequence == lost.packet.sequence)
        #expect(again.time - lost.time >= .milliseconds(200))
        #expect(bus.retransmittedReplies == 1)
        let cards = bus.events(for: 1).compactMap(\.card)
        #expect(cards.count == 1)
        #expect(cards.first?.wiegand.card == WiegandCard(format: .wiegand26, facilityCode: 7, cardNumber: 1234))
        #expect(bus.panel.status(of: 1)?.retransmissions == 1)
        // After the retransmission the sequence moves on normally.
        let third = try #require(frames.dropFirst(2).first)
        let expected: UInt8 = lost.packet.sequence == 3 ? 1 : lost.packet.sequence + 1
        #expect(third.packet.sequence == expected)
    }

    @Test("osdp_BUSY: the command is sent again with the same sequence number after a short wait")
    func busy() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]), devices: [.init(address: 1)])
        bus.start()
        bus.run(for: .milliseconds(300))
        let busyOnce = BusyOnce()
        bus.interceptCommand = { packet in
            guard busyOnce.take() else { return nil }
            return OSDPPacket(address: packet.address, isReply: true, sequence: 0, code: 0x79).encoded()
        }
        let before = bus.commands(to: 1).count
        bus.run(for: .milliseconds(200))
        let frames = Array(bus.commands(to: 1).dropFirst(before))
        #expect(frames.count >= 2)
        #expect(frames[1].bytes == frames[0].bytes)
        #expect(frames[1].time - frames[0].time >= .milliseconds(50))
        #expect(bus.panel.status(of: 1)?.isOnline == true)
    }

    @Test("a reader silent for 8 s is offline (within 8-10 s); it is probed and reported online when it answers")
    func offlineAndBack() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1), readerConfig(2)]),
            devices: [.init(address: 1), .init(address: 2)])
        bus.start()
        bus.run(for: .seconds(1))
        let silentAt = bus.now
        bus.silent.insert(1)
        bus.run(for: .seconds(12))
        let offlineAt = try #require(bus.firstTime(of: 1, where: \.isOffline))
        // Silence began with the last reply, at most one poll interval before `silentAt`.
        #expect(offlineAt - silentAt >= .seconds(8) - .milliseconds(60))
        #expect(offlineAt - silentAt <= .seconds(10))
        if case .offline(let silence) = bus.events(for: 1).first(where: \.isOffline) {
            #expect(silence >= .seconds(8))
        }
        #expect(bus.panel.status(of: 1)?.isOnline == false)
        // The other reader kept being polled the whole time.
        #expect(bus.panel.status(of: 2)?.isOnline == true)
        #expect(!bus.events(for: 2).contains { $0.isOffline })
        let polls2 = bus.commands(to: 2).filter { $0.time > silentAt }
        #expect(polls2.count >= 60)
        // While offline, reader 1 is probed about once a second with ID, sequence 0.
        let probes = bus.commands(to: 1).filter { $0.time > offlineAt }
        #expect(probes.allSatisfy { $0.packet.code == 0x61 && $0.packet.sequence == 0 })
        #expect(probes.count >= 3 && probes.count <= 5)

        bus.powerCycle(1)
        bus.silent.remove(1)
        let backAt = bus.now
        bus.run(for: .seconds(3))
        let onlineTimes = bus.events.filter { $0.event.address == 1 && $0.event.kind.isOnline }.map(\.time)
        #expect(onlineTimes.count == 2)
        let online = try #require(onlineTimes.last)
        #expect(online - backAt <= .milliseconds(1300))
        // Rediscovery restarts at sequence 0.
        let after = bus.commands(to: 1).filter { $0.time >= online - .milliseconds(10) }
        #expect(after.prefix(4).map(\.packet.code) == [0x61, 0x62, 0x64, 0x65])
        #expect(after.first?.packet.sequence == 0)
        #expect(bus.panel.status(of: 1)?.isOnline == true)
    }

    @Test("a reader that never answers is reported offline 8 s after start")
    func neverAnswers() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1), readerConfig(9)]),
            devices: [.init(address: 1)])
        bus.start()
        bus.run(for: .seconds(10))
        let offline = try #require(bus.firstTime(of: 9, where: \.isOffline))
        #expect(offline >= .seconds(8) && offline <= .seconds(10))
        #expect(!bus.events(for: 9).contains { $0.isOnline })
        #expect(bus.panel.status(of: 1)?.isOnline == true)
    }

    @Test("replies become events: card (raw + Wiegand), keypad, input change, tamper, power")
    func events() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]),
            devices: [.init(address: 1, inputCount: 2)])
        bus.start()
        bus.run(for: .milliseconds(500))
        let card34 = WiegandCard(format: .wiegand34, facilityCode: 4660, cardNumber: 22136)
        let bits34 = try Wiegand.encode(card34)
        bus.device(1) { pd in
            pd.presentCard(OSDPRawCardData(bits: bits34))
            pd.presentCard(OSDPRawCardData(format: .unspecified, bits: bits("1011")))
            pd.pressKeys("42#")
            pd.setInput(1, active: true)
            pd.setTamper(true)
            pd.setPowerFailure(true)
        }
        bus.run(for: .milliseconds(600))
        bus.device(1) { pd in
            pd.setInput(1, active: false)
            pd.setTamper(false)
        }
        bus.run(for: .milliseconds(300))
        let kinds = bus.events(for: 1)
        let cards = kinds.compactMap(\.card)
        #expect(cards.count == 2)
        #expect(cards.first?.wiegand == .card(card34))
        #expect(cards.first?.raw.bitCount == 34)
        #expect(cards.last?.wiegand == .unsupportedLength(4))
        #expect(cards.last?.raw.bitString == "1011")
        #expect(kinds.contains(.keypad(OSDPKeypadData(text: "42#"))))
        #expect(kinds.filter { if case .inputChanged = $0 { true } else { false } }
            == [.inputChanged(input: 1, active: true), .inputChanged(input: 1, active: false)])
        #expect(kinds.filter { if case .tamperChanged = $0 { true } else { false } }
            == [.tamperChanged(tampered: true), .tamperChanged(tampered: false)])
        #expect(kinds.contains(.powerChanged(failure: true)))
    }

    @Test("an input already active at start is reported once; inactive inputs are not")
    func initialInputs() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]),
            devices: [.init(address: 1, inputCount: 3)])
        bus.device(1) { $0.setInput(2, active: true) }
        bus.start()
        bus.run(for: .milliseconds(500))
        let inputs = bus.events(for: 1).filter { if case .inputChanged = $0 { true } else { false } }
        #expect(inputs == [.inputChanged(input: 2, active: true)])
    }

    @Test("LED and buzzer commands go out before the next poll and are acknowledged; the PD records them")
    func feedbackCommands() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]), devices: [.init(address: 1)])
        bus.start()
        bus.run(for: .milliseconds(300))
        for command in OSDPFeedback.accepted.commands(reader: 0) {
            try bus.panel.enqueue(command, for: 1)
        }
        bus.run(for: .milliseconds(200))
        let received = bus.accepted.filter { $0.address == 1 }.map(\.command)
        #expect(received.contains { if case .led = $0 { true } else { false } })
        #expect(received.contains { if case .buzzer = $0 { true } else { false } })
        let acks = bus.events(for: 1).filter { if case .commandAcknowledged = $0 { true } else { false } }
        #expect(acks == [.commandAcknowledged(code: 0x69), .commandAcknowledged(code: 0x6A)])
    }

    @Test("NAK 0x03 marks the command unsupported; the reader stays online and polling continues")
    func nakUnsupported() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]),
            devices: [.init(address: 1, hasBuzzer: false)])
        bus.start()
        bus.run(for: .milliseconds(300))
        try bus.panel.enqueue(.buzzer([OSDPBuzzerControl(onTime: 1, offTime: 0, count: 1)]), for: 1)
        bus.run(for: .seconds(2))
        let kinds = bus.events(for: 1)
        #expect(kinds.contains(.commandRejected(code: 0x6A, error: .unknownCommand)))
        #expect(kinds.contains(.capabilityMissing(code: 0x6A)))
        #expect(!kinds.contains { $0.isOffline })
        let status = try #require(bus.panel.status(of: 1))
        #expect(status.isOnline)
        #expect(status.unsupportedCommands == [0x6A])
        #expect(throws: OSDPControlPanelError.self) {
            try bus.panel.enqueue(.buzzer([OSDPBuzzerControl(onTime: 1, offTime: 0, count: 1)]), for: 1)
        }
        let lastPoll = try #require(bus.commands(to: 1).last)
        #expect(lastPoll.packet.code == 0x60 && bus.now - lastPoll.time < .milliseconds(100))
    }

    @Test("a reader without inputs gets no ISTAT; a NAK to ISTAT skips it")
    func noInputs() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]),
            devices: [.init(address: 1, inputCount: 0)])
        bus.start()
        bus.run(for: .milliseconds(300))
        #expect(!bus.commands(to: 1).contains { $0.packet.code == 0x65 })
        #expect(bus.commands(to: 1).last?.packet.code == 0x60)
    }

    @Test("NAK 0x04 after a PD restart: the CP restarts at sequence 0 and carries on")
    func sequenceResync() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]), devices: [.init(address: 1)])
        bus.start()
        bus.run(for: .milliseconds(400))
        bus.powerCycle(1)
        let before = bus.commands(to: 1).count
        bus.run(for: .milliseconds(400))
        let frames = Array(bus.commands(to: 1).dropFirst(before))
        #expect(bus.events(for: 1).contains(.commandRejected(code: 0x60, error: .unexpectedSequence)))
        #expect(frames.dropFirst().first?.packet.sequence == 0)
        #expect(frames.dropFirst(2).first?.packet.sequence == 1)
        #expect(bus.panel.status(of: 1)?.isOnline == true)
        #expect(!bus.events(for: 1).contains { $0.isOffline })
    }

    @Test("noise and foreign frames on the line are ignored")
    func noise() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]), devices: [.init(address: 1)])
        bus.start()
        for step in 1...20 {
            bus.inject([0x00, 0x53, 0x99, 0xFF, 0x12], at: .milliseconds(step * 37))
        }
        // A reply from an address we did not ask.
        bus.inject(OSDPPacket(address: 5, isReply: true, sequence: 1, code: 0x40).encoded(), at: .milliseconds(333))
        bus.run(for: .seconds(1))
        #expect(bus.panel.status(of: 1)?.isOnline == true)
        #expect(bus.panel.decoderCounters.garbageBytes > 0)
        #expect(bus.commands(to: 1).count > 10)
    }

    @Test("a reply cut short is dropped after the inter-character timeout and the command retransmitted")
    func interCharacterGap() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]), devices: [.init(address: 1)])
        bus.start()
        bus.run(for: .milliseconds(300))
        let cut = CutOnce()
        bus.rewriteReply = { _, bytes in cut.take() ? Array(bytes.prefix(4)) : bytes }
        let before = bus.commands(to: 1).count
        bus.run(for: .milliseconds(600))
        #expect(bus.panel.decoderCounters.interCharacterTimeouts == 1)
        #expect(bus.panel.status(of: 1)?.timeouts == 1)
        let frames = Array(bus.commands(to: 1).dropFirst(before))
        #expect(frames.count >= 2 && frames[0].bytes == frames[1].bytes)
        #expect(bus.panel.status(of: 1)?.isOnline == true)
    }

    @Test("invalid configurations are refused with the reader named")
    func configurationValidation() {
        #expect(throws: OSDPConfigurationError.self) { try OSDPControlPanel(configuration: .init(readers: [])) }
        do {
            _ = try OSDPControlPanel(configuration: .init(readers: [readerConfig(1, "a"), readerConfig(1, "b")]))
            Issue.record("duplicate addresses must be refused")
        } catch {
            #expect(error.description.contains("a-1"))
        }
        #expect(throws: OSDPConfigurationError.self) { try OSDPControlPanel(configuration: .init(readers: [readerConfig(127)])) }
        #expect(throws: OSDPConfigurationError.self) {
            try OSDPControlPanel(configuration: .init(readers: [readerConfig(1)], baudRate: 1200))
        }
    }

    @Test("commands for unknown or offline readers, or reserved commands, are refused")
    func enqueueRefusals() throws {
        var panel = try OSDPControlPanel(configuration: .init(readers: [readerConfig(1)]))
        _ = panel.start(now: .zero)
        #expect(throws: OSDPControlPanelError.self) { try panel.enqueue(.poll, for: 2) }
        do {
            try panel.enqueue(.led([OSDPLEDControl()]), for: 1)
            Issue.record("a reader not yet online must refuse feedback")
        } catch {
            #expect(error.reason == .readerOffline)
        }
        do {
            try panel.enqueue(.keySet(.defaultInstallKey), for: 1)
            Issue.record("KEYSET is the control panel's own")
        } catch {
            #expect(error.reason == .reservedCommand)
            #expect(!error.description.contains("30"))
        }
    }
}

/// A flag that is true exactly once (for hooks that must act on one frame).
final class BusyOnce: Sendable {
    private let used = Mutex(false)

    func take() -> Bool {
        used.withLock { used in
            defer { used = true }
            return !used
        }
    }
}

typealias CutOnce = BusyOnce
