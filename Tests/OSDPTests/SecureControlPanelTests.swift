import OSDP
import Testing

@Suite("Control panel: secure channel")
struct SecureControlPanelTests {
    static let key = OSDPSecureChannelKey.random()

    @Test("handshake after discovery; every later command is MACed (SCS_15) or encrypted (SCS_17); cards arrive")
    func establishAndUse() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1, secure: .required(key: Self.key, allowInstall: false))]),
            devices: [.init(address: 1, secureChannelKey: Self.key, requireSecureChannel: true)])
        bus.start()
        bus.run(for: .milliseconds(500))
        let frames = bus.commands(to: 1)
        #expect(frames.prefix(4).map(\.packet.code) == [0x61, 0x62, 0x76, 0x77])
        #expect(frames[2].packet.securityBlock == OSDPSecurityBlock(.challenge, data: [1]))
        #expect(frames[3].packet.securityBlock == OSDPSecurityBlock(.serverCryptogram, data: [1]))
        #expect(bus.events(for: 1).contains(.secureChannelEstablished(defaultKey: false)))
        let session = frames.dropFirst(4)
        #expect(session.count > 3)
        for frame in session {
            let type = try #require(frame.packet.securityBlock?.blockType)
            #expect(type == .commandMAC || type == .commandMACEncrypted)
            #expect(frame.packet.mac?.count == 4)
        }
        #expect(bus.devices[1]?.isSecureChannelActive == true)

        // Encrypted reply (SCS_18) with a card, and an encrypted command (SCS_17) with LED data.
        bus.device(1) { $0.presentCard(OSDPRawCardData(bits: bits("1 01111011 0001000111010111 0"))) }
        try bus.panel.enqueue(.led([OSDPFeedback.accepted.led()]), for: 1)
        bus.run(for: .milliseconds(300))
        let card = try #require(bus.events(for: 1).compactMap(\.card).first)
        #expect(card.wiegand.card == WiegandCard(format: .wiegand26, facilityCode: 123, cardNumber: 4567))
        #expect(bus.accepted.contains { if case .led = $0.command { true } else { false } })
        let ledFrame = try #require(bus.commands(to: 1).first { $0.packet.code == 0x69 })
        #expect(ledFrame.packet.securityBlock?.blockType == .commandMACEncrypted)
        #expect(ledFrame.packet.data != OSDPFeedback.accepted.led().bytes)
        #expect(bus.panel.status(of: 1)?.isSecureChannelActive == true)
    }

    @Test("install mode: SCBK-D session, KEYSET with the configured key, new session under it")
    func installMode() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1, secure: .required(key: Self.key, allowInstall: true))]),
            devices: [.init(address: 1, secureChannelKey: nil, installMode: true)])
        bus.start()
        bus.run(for: .seconds(1))
        let kinds = bus.events(for: 1)
        let secureKinds = kinds.filter {
            switch $0 {
            case .secureChannelEstablished, .keyInstalled, .secureChannelFailed: true
            default: false
            }
        }
        #expect(secureKinds == [.secureChannelEstablished(defaultKey: true), .keyInstalled, .secureChannelEstablished(defaultKey: false)])
        let pd = try #require(bus.devices[1])
        #expect(pd.configuration.secureChannelKey == Self.key)
        #expect(!pd.configuration.installMode)
        #expect(pd.isSecureChannelActive && !pd.sessionUsesDefaultKey)
        // The first challenge asked for the reader's own key; it has none, so SCBK-D was tried.
        let challenges = bus.commands(to: 1).filter { $0.packet.code == 0x76 }
        #expect(challenges.map { $0.packet.securityBlock?.data } == [[1], [0], [1]])
        let keySet = try #require(bus.commands(to: 1).first { $0.packet.code == 0x75 })
        #expect(keySet.packet.securityBlock?.blockType == .commandMACEncrypted)
        #expect(!keySet.bytes.containsSequence(Self.key.withUnsafeKeyBytes { $0 }))
    }

    @Test("a reader holding another key: wrongKey reported, retried later, never polled in plain text")
    func wrongKey() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1, secure: .required(key: Self.key, allowInstall: false))]),
            devices: [.init(address: 1, secureChannelKey: OSDPSecureChannelKey.random())])
        bus.start()
        bus.run(for: .seconds(5))
        // Reported once; the handshake is retried every 2 s (at about 0, 2 and 4 s).
        #expect(bus.events(for: 1).filter { $0 == .secureChannelFailed(.wrongKey) }.count == 1)
        #expect(bus.commands(to: 1).filter { $0.packet.code == 0x76 }.count == 3)
        #expect(!bus.commands(to: 1).contains { $0.packet.code == 0x60 })
        #expect(!bus.events(for: 1).contains { $0.isSecureEstablished })
        #expect(!bus.commands(to: 1).contains { $0.packet.code == 0x77 })
        // The reader answers, so it stays online.
        #expect(bus.panel.status(of: 1)?.isOnline == true)
    }

    @Test("a reader without secure channel support: reported once, kept online by handshake retries, never polled")
    func notSupported() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1, secure: .required(key: Self.key, allowInstall: false))]),
            devices: [.init(address: 1, supportsSecureChannel: false)])
        bus.start()
        bus.run(for: .seconds(20))
        let kinds = bus.events(for: 1)
        #expect(kinds.filter { $0 == .secureChannelFailed(.notSupported) }.count == 1)
        #expect(!kinds.contains { $0.isOffline })
        #expect(!bus.commands(to: 1).contains { $0.packet.code == 0x60 })
        #expect(bus.panel.status(of: 1)?.isOnline == true)
    }

    @Test("a plain control panel and a reader that insists on encryption: reported once, reader stays online")
    func requiredByReader() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1)]),
            devices: [.init(address: 1, secureChannelKey: Self.key, requireSecureChannel: true)])
        bus.start()
        bus.run(for: .seconds(2))
        let kinds = bus.events(for: 1)
        #expect(kinds.filter { $0 == .secureChannelFailed(.requiredByReader) }.count == 1)
        #expect(kinds.filter { $0 == .commandRejected(code: 0x60, error: .encryptionRequired) }.count == 1)
        #expect(bus.panel.status(of: 1)?.isOnline == true)
    }

    @Test("a reply with a bad MAC drops the session; a new handshake restores it")
    func badMACRecovers() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1, secure: .required(key: Self.key, allowInstall: false))]),
            devices: [.init(address: 1, secureChannelKey: Self.key)])
        bus.start()
        bus.run(for: .milliseconds(500))
        let corrupt = BusyOnce()
        bus.rewriteReply = { _, bytes in
            guard corrupt.take() else { return bytes }
            var frame = Array(bytes.dropFirst())  // without the FF mark
            let macStart = frame.count - 6
            frame[macStart] ^= 0xFF
            frame.removeLast(2)
            return [0xFF] + frame + OSDPCheck.crc16.bytes(for: frame)
        }
        bus.run(for: .seconds(3))
        let kinds = bus.events(for: 1)
        #expect(kinds.contains(.secureChannelFailed(.badMAC)))
        #expect(kinds.filter { $0.isSecureEstablished }.count == 2)
        #expect(bus.panel.status(of: 1)?.isSecureChannelActive == true)
        #expect(bus.panel.status(of: 1)?.isOnline == true)
    }

    @Test("a secure reader that goes offline and returns gets a new session")
    func offlineResetsSession() throws {
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1, secure: .required(key: Self.key, allowInstall: false))]),
            devices: [.init(address: 1, secureChannelKey: Self.key)])
        bus.start()
        bus.run(for: .seconds(1))
        bus.silent.insert(1)
        bus.run(for: .seconds(9))
        #expect(bus.events(for: 1).contains { $0.isOffline })
        #expect(bus.panel.status(of: 1)?.isSecureChannelActive == false)
        bus.powerCycle(1)
        bus.silent.remove(1)
        bus.run(for: .seconds(2))
        #expect(bus.events(for: 1).filter { $0.isSecureEstablished }.count == 2)
        #expect(bus.panel.status(of: 1)?.isSecureChannelActive == true)
    }
}

extension Array where Element == UInt8 {
    func containsSequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}

@Suite("Control panel: keys stay out of descriptions")
struct ControlPanelRedactionTests {
    @Test("configurations, statuses, events and a dumped panel in a session show no key bytes")
    func noKeyInDumps() throws {
        let key = try OSDPSecureChannelKey(bytes: [UInt8](repeating: 0xA7, count: 16))
        var bus = try BusHarness(
            configuration: OSDPControlPanelConfiguration(readers: [readerConfig(1, secure: .required(key: key, allowInstall: true))]),
            devices: [.init(address: 1, installMode: true)])
        bus.start()
        bus.run(for: .seconds(1))
        #expect(bus.events(for: 1).contains(.keyInstalled))
        var texts = ["\(bus.panel.configuration)", "\(bus.panel.readerStatuses)", "\(bus.events.map(\.event))"]
        var dumped = ""
        dump(bus.panel.configuration, to: &dumped)
        dump(bus.panel.readerStatuses, to: &dumped)
        dump(bus.devices[1]?.configuration, to: &dumped)
        texts.append(dumped)
        for text in texts {
            #expect(!text.lowercased().contains("a7a7"))
            #expect(!text.contains("167"))
            #expect(!text.lowercased().contains("0xa7"))
        }
        #expect(texts[0].contains("OSDPSecureChannelKey(redacted)"))
    }
}
