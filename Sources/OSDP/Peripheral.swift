/// A source of random bytes (RND.A, RND.B). Production code uses ``OSDPRandom/system``; tests
/// inject fixed bytes to reproduce published vectors.
public typealias OSDPRandomSource = @Sendable (_ count: Int) -> [UInt8]

/// Random byte sources.
public enum OSDPRandom {
    /// The system's cryptographically secure generator.
    public static let system: OSDPRandomSource = { count in
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}

/// A peripheral device (PD, a card reader) as a pure state machine: it takes decoded frames and
/// returns the reply bytes to send. No I/O, no clock; the simulator drives it on a pseudo-terminal
/// and the control panel's tests drive it directly.
///
/// What it implements: sequence numbers (a command with the last sequence number gets the last
/// reply again, byte for byte; sequence 0 restarts the link; anything else out of order gets NAK
/// 0x04), CRC or checksum as the command used, `osdp_POLL` answered with queued reports,
/// ID/CAP/LSTAT/ISTAT/OSTAT, LED/BUZ/OUT/COMSET recorded, the secure channel (CHLNG/CCRYPT,
/// SCRYPT/RMAC_I, MAC and encrypted sessions, KEYSET), NAK 0x03 for commands it is configured
/// not to support, NAK 0x02 for bad lengths, NAK 0x01 for frames with a bad check.
public struct OSDPPeripheral: Sendable {
    /// How the simulated reader is built.
    public struct Configuration: Sendable {
        /// The PD address, 0...126.
        public var address: UInt8
        /// What `osdp_PDID` reports.
        public var identification: OSDPDeviceIdentification
        /// The number of inputs (`osdp_ISTAT`); 0 makes ISTAT unsupported (NAK 0x03).
        public var inputCount: Int
        /// The number of outputs (`osdp_OUT`, `osdp_OSTAT`); 0 makes them unsupported.
        public var outputCount: Int
        /// The number of LEDs; 0 makes `osdp_LED` unsupported.
        public var ledCount: Int
        /// Whether `osdp_BUZ` is supported.
        public var hasBuzzer: Bool
        /// The reader's own SCBK, nil when it has none yet (then only install mode can open a session).
        public var secureChannelKey: OSDPSecureChannelKey?
        /// Accepts a session under SCBK-D (key selector 0) and `osdp_KEYSET` moving it to its own key.
        public var installMode: Bool
        /// Refuses every command but ID, CAP, CHLNG and SCRYPT outside a secure session (NAK 0x06).
        public var requireSecureChannel: Bool
        /// Whether the reader supports the secure channel at all (capability 9).
        public var supportsSecureChannel: Bool

        /// Creates a configuration: one input, one LED, a buzzer, plain, no key.
        public init(
            address: UInt8,
            identification: OSDPDeviceIdentification = OSDPDeviceIdentification(
                vendorCode: 0x00_5A_A5, model: 1, version: 1, serialNumber: 0x1000_0001, firmware: (1, 0, 0)),
            inputCount: Int = 1, outputCount: Int = 0, ledCount: Int = 1, hasBuzzer: Bool = true,
            secureChannelKey: OSDPSecureChannelKey? = nil, installMode: Bool = false,
            requireSecureChannel: Bool = false, supportsSecureChannel: Bool = true
        ) {
            self.address = address
            self.identification = identification
            self.inputCount = inputCount
            self.outputCount = outputCount
            self.ledCount = ledCount
            self.hasBuzzer = hasBuzzer
            self.secureChannelKey = secureChannelKey
            self.installMode = installMode
            self.requireSecureChannel = requireSecureChannel
            self.supportsSecureChannel = supportsSecureChannel
        }

        /// The `osdp_PDCAP` entries this configuration reports.
        public var capabilities: [OSDPCapability] {
            var entries: [OSDPCapability] = [
                OSDPCapability(.contactStatusMonitoring, compliance: inputCount > 0 ? 1 : 0, count: UInt8(clamping: inputCount)),
                OSDPCapability(.outputControl, compliance: outputCount > 0 ? 1 : 0, count: UInt8(clamping: outputCount)),
                OSDPCapability(.cardDataFormat, compliance: 1, count: 0),
                OSDPCapability(.readerLEDControl, compliance: ledCount > 0 ? 1 : 0, count: UInt8(clamping: ledCount)),
                OSDPCapability(.readerAudibleOutput, compliance: hasBuzzer ? 1 : 0, count: hasBuzzer ? 1 : 0),
                OSDPCapability(.checkCharacterSupport, compliance: 1, count: 0),
                OSDPCapability(.communicationSecurity, compliance: supportsSecureChannel ? 1 : 0, count: 0),
                OSDPCapability(.receiveBufferSize, compliance: 0x00, count: 0x04),
                OSDPCapability(.readers, compliance: 0, count: 1),
                OSDPCapability(.osdpVersion, compliance: 2, count: 0),
            ]
            entries.removeAll { $0.function == .outputControl && outputCount == 0 }
            return entries
        }
    }

    /// What handling one frame produced.
    public struct Response: Sendable {
        /// The bytes to send back (mark byte included), nil when the frame is not for this PD.
        public var bytes: [UInt8]?
        /// The command accepted, when there was one (LED, BUZ, ... for the simulator's records).
        public var command: OSDPCommand?
        /// The reply sent, in plain text.
        public var reply: OSDPReply?
        /// True when the reply is a retransmission of the previous one.
        public var isRetransmission = false
    }

    /// The configuration; the key and install mode change after a successful `osdp_KEYSET`.
    public private(set) var configuration: Configuration
    /// Input states, true = active.
    public private(set) var inputs: [Bool]
    /// Tamper and power status.
    public private(set) var localStatus = OSDPLocalStatus(tamper: false, powerFailure: false)
    /// True while a secure session is established.
    public var isSecureChannelActive: Bool { session != nil }
    /// True when the current session runs under SCBK-D.
    public private(set) var sessionUsesDefaultKey = false

    private var reports: [OSDPReply] = []
    private var lastSequence: UInt8?
    private var lastReplyBytes: [UInt8]?
    private var session: OSDPSecureSession?
    private var handshake: (keys: OSDPSessionKeys, cpRandom: [UInt8], pdRandom: [UInt8], defaultKey: Bool)?
    private let random: OSDPRandomSource

    /// The most reports kept for `osdp_POLL`; older ones are dropped first.
    public static let reportQueueLimit = 32

    /// Creates a PD.
    public init(configuration: Configuration, random: @escaping OSDPRandomSource = OSDPRandom.system) {
        self.configuration = configuration
        self.inputs = [Bool](repeating: false, count: configuration.inputCount)
        self.random = random
    }

    /// Reports waiting for the next `osdp_POLL`.
    public var pendingReports: [OSDPReply] { reports }

    // MARK: Things happening at the reader

    /// Queues a report for the next `osdp_POLL` (card data, keypad, status).
    public mutating func enqueue(_ report: OSDPReply) {
        reports.append(report)
        if reports.count > Self.reportQueueLimit { reports.removeFirst(reports.count - Self.reportQueueLimit) }
    }

    /// A card is presented: queues `osdp_RAW`.
    public mutating func presentCard(_ card: OSDPRawCardData) {
        enqueue(.rawCardData(card))
    }

    /// Keys pressed: queues `osdp_KEYPAD`.
    public mutating func pressKeys(_ text: String, reader: UInt8 = 0) {
        enqueue(.keypad(OSDPKeypadData(reader: reader, text: text)))
    }

    /// Sets input `index` and queues `osdp_ISTATR` when it changed.
    public mutating func setInput(_ index: Int, active: Bool) {
        guard inputs.indices.contains(index), inputs[index] != active else { return }
        inputs[index] = active
        enqueue(.inputStatus(inputs))
    }

    /// Sets the tamper switch and queues `osdp_LSTATR` when it changed.
    public mutating func setTamper(_ tamper: Bool) {
        guard localStatus.tamper != tamper else { return }
        localStatus.tamper = tamper
        enqueue(.localStatus(localStatus))
    }

    /// Sets the power status and queues `osdp_LSTATR` when it changed.
    public mutating func setPowerFailure(_ failure: Bool) {
        guard localStatus.powerFailure != failure else { return }
        localStatus.powerFailure = failure
        enqueue(.localStatus(localStatus))
    }

    // MARK: Frames

    /// Handles one decoder output: a frame for this address gets a reply; frames for others,
    /// replies and rejected frames not addressed here get nothing.
    public mutating func handle(_ output: OSDPFrameDecoder.Output) -> Response {
        switch output {
        case .packet(let packet):
            return handle(packet)
        case .rejected(.badCheck(let address, let isReply, let sequence)) where !isReply && address == configuration.address:
            return plainReply(.nak(.badCheck), sequence: sequence, check: .crc16, advance: false)
        case .rejected:
            return Response()
        }
    }

    /// Handles one decoded frame.
    public mutating func handle(_ packet: OSDPPacket) -> Response {
        guard !packet.isReply,
            packet.address == configuration.address || packet.address == OSDPPacket.broadcastAddress
        else { return Response() }
        let sequence = packet.sequence
        if sequence == 0 {
            lastSequence = nil
            lastReplyBytes = nil
            session = nil
            handshake = nil
        } else if let last = lastSequence {
            if sequence == last, let bytes = lastReplyBytes {
                return Response(bytes: bytes, isRetransmission: true)
            }
            let expected: UInt8 = last == 3 ? 1 : last + 1
            if sequence != expected {
                return plainReply(.nak(.unexpectedSequence), sequence: sequence, check: packet.check, advance: false)
            }
        } else {
            return plainReply(.nak(.unexpectedSequence), sequence: sequence, check: packet.check, advance: false)
        }

        // Unwrap the security layer.
        var code = packet.code
        var data = packet.data
        var secureFrame = false
        if let block = packet.securityBlock {
            guard configuration.supportsSecureChannel else {
                return plainReply(.nak(.securityBlockUnsupported), sequence: sequence, check: packet.check)
            }
            switch block.blockType {
            case .challenge?:
                return challenge(packet, selector: block.data.first ?? 1)
            case .serverCryptogram?:
                return serverCryptogram(packet, selector: block.data.first ?? 1)
            case .commandMAC?, .commandMACEncrypted?:
                guard var current = session else {
                    return plainReply(.nak(.encryptionRequired), sequence: sequence, check: packet.check)
                }
                do {
                    (code, data) = try current.openCommand(packet)
                    session = current
                    secureFrame = true
                } catch {
                    session = nil
                    return plainReply(.nak(.encryptionRequired), sequence: sequence, check: packet.check)
                }
            default:
                return plainReply(.nak(.securityBlockUnsupported), sequence: sequence, check: packet.check)
            }
        } else if session != nil {
            // Plain text inside a session: refuse, as the session may be under attack.
            return plainReply(.nak(.encryptionRequired), sequence: sequence, check: packet.check)
        }

        if configuration.requireSecureChannel, !secureFrame,
            code != OSDPCommandCode.id.rawValue, code != OSDPCommandCode.capabilities.rawValue
        {
            return plainReply(.nak(.encryptionRequired), sequence: sequence, check: packet.check)
        }

        let command: OSDPCommand
        do {
            command = try OSDPCommand.decode(code: code, data: data)
        } catch {
            return reply(.nak(.badLength), sequence: sequence, check: packet.check, secure: secureFrame)
        }
        let (answer, accepted) = execute(command)
        var response = reply(answer, sequence: sequence, check: packet.check, secure: secureFrame)
        response.command = accepted ? command : nil
        if case .keySet(let newKey) = command, accepted {
            // The ACK went out under the old session; the new key applies from the next handshake.
            configuration.secureChannelKey = newKey
            configuration.installMode = false
            session = nil
            sessionUsesDefaultKey = false
        }
        return response
    }

    /// The reply to a decoded command, and whether it was accepted.
    private mutating func execute(_ command: OSDPCommand) -> (OSDPReply, Bool) {
        switch command {
        case .poll:
            if reports.isEmpty { return (.ack, true) }
            return (reports.removeFirst(), true)
        case .id:
            return (.identification(configuration.identification), true)
        case .capabilities:
            return (.capabilities(configuration.capabilities), true)
        case .localStatus:
            return (.localStatus(localStatus), true)
        case .inputStatus:
            guard configuration.inputCount > 0 else { return (.nak(.unknownCommand), false) }
            return (.inputStatus(inputs), true)
        case .outputStatus:
            guard configuration.outputCount > 0 else { return (.nak(.unknownCommand), false) }
            return (.outputStatus([Bool](repeating: false, count: configuration.outputCount)), true)
        case .output(let records):
            guard configuration.outputCount > 0 else { return (.nak(.unknownCommand), false) }
            guard records.allSatisfy({ Int($0.output) < configuration.outputCount }) else { return (.nak(.unableToProcess), false) }
            return (.ack, true)
        case .led(let records):
            guard configuration.ledCount > 0 else { return (.nak(.unknownCommand), false) }
            guard records.allSatisfy({ Int($0.led) < configuration.ledCount }) else { return (.nak(.unableToProcess), false) }
            return (.ack, true)
        case .buzzer:
            guard configuration.hasBuzzer else { return (.nak(.unknownCommand), false) }
            return (.ack, true)
        case .comSet(let address, let baud):
            guard address < OSDPPacket.broadcastAddress else { return (.nak(.unableToProcess), false) }
            return (.communicationConfiguration(address: address, baudRate: baud), true)
        case .keySet:
            guard session != nil else { return (.nak(.encryptionRequired), false) }
            return (.ack, true)
        case .challenge, .serverCryptogram:
            // Without their security block these are not part of a handshake.
            return (.nak(.encryptionRequired), false)
        case .readerStatus, .other:
            return (.nak(.unknownCommand), false)
        }
    }

    private mutating func challenge(_ packet: OSDPPacket, selector: UInt8) -> Response {
        session = nil
        handshake = nil
        let useDefault = selector == 0
        let key: OSDPSecureChannelKey?
        if useDefault {
            key = configuration.installMode ? OSDPSecureChannelKey.defaultInstallKey : nil
        } else {
            key = configuration.secureChannelKey
        }
        guard let key, packet.code == OSDPCommandCode.challenge.rawValue, packet.data.count == 8 else {
            return plainReply(.nak(.encryptionRequired), sequence: packet.sequence, check: packet.check)
        }
        let pdRandom = random(8)
        do {
            let keys = try OSDPSessionKeys(baseKey: key, cpRandom: packet.data)
            let cryptogram = try keys.clientCryptogram(cpRandom: packet.data, pdRandom: pdRandom)
            handshake = (keys, packet.data, pdRandom, useDefault)
            let uid = clientUID
            return send(
                .clientCryptogram(clientUID: uid, random: pdRandom, cryptogram: cryptogram),
                block: OSDPSecurityBlock(.clientCryptogram, data: [useDefault ? 0 : 1]),
                sequence: packet.sequence, check: packet.check)
        } catch {
            return plainReply(.nak(.unableToProcess), sequence: packet.sequence, check: packet.check)
        }
    }

    private mutating func serverCryptogram(_ packet: OSDPPacket, selector: UInt8) -> Response {
        guard let pending = handshake, packet.code == OSDPCommandCode.serverCryptogram.rawValue, packet.data.count == 16 else {
            return plainReply(.nak(.encryptionRequired), sequence: packet.sequence, check: packet.check)
        }
        handshake = nil
        do {
            let expected = try pending.keys.serverCryptogram(cpRandom: pending.cpRandom, pdRandom: pending.pdRandom)
            let accepted = constantTimeEqual(expected, packet.data)
            let rmac = try pending.keys.initialRMAC(serverCryptogram: packet.data)
            if accepted {
                session = OSDPSecureSession(keys: pending.keys, initialRMAC: rmac)
                sessionUsesDefaultKey = pending.defaultKey
            }
            return send(
                .initialRMAC(rmac), block: OSDPSecurityBlock(.initialRMAC, data: [accepted ? 1 : 0]),
                sequence: packet.sequence, check: packet.check)
        } catch {
            return plainReply(.nak(.unableToProcess), sequence: packet.sequence, check: packet.check)
        }
    }

    /// The 8-byte client UID: vendor code, model, version, serial number (as libosdp and most readers build it).
    public var clientUID: [UInt8] {
        let id = configuration.identification
        return Array(id.vendorCode.littleEndianBytes.prefix(2)) + [id.model, id.version] + id.serialNumber.littleEndianBytes
    }

    private mutating func reply(_ reply: OSDPReply, sequence: UInt8, check: OSDPCheck, secure: Bool) -> Response {
        guard secure, var current = session else {
            return plainReply(reply, sequence: sequence, check: check)
        }
        do {
            let packet = try current.sealReply(address: configuration.address, sequence: sequence, code: reply.code, data: reply.data)
            session = current
            return record(packet.encoded(), reply: reply, sequence: sequence, advance: true)
        } catch {
            session = nil
            return plainReply(.nak(.unableToProcess), sequence: sequence, check: check)
        }
    }

    private mutating func plainReply(_ reply: OSDPReply, sequence: UInt8, check: OSDPCheck, advance: Bool = true) -> Response {
        send(reply, block: nil, sequence: sequence, check: check, advance: advance)
    }

    private mutating func send(
        _ reply: OSDPReply, block: OSDPSecurityBlock?, sequence: UInt8, check: OSDPCheck, advance: Bool = true
    ) -> Response {
        let packet = OSDPPacket(
            address: configuration.address, isReply: true, sequence: sequence, check: check,
            securityBlock: block, code: reply.code, data: reply.data)
        return record(packet.encoded(), reply: reply, sequence: sequence, advance: advance)
    }

    private mutating func record(_ bytes: [UInt8], reply: OSDPReply, sequence: UInt8, advance: Bool) -> Response {
        if advance {
            lastSequence = sequence
            lastReplyBytes = bytes
        }
        return Response(bytes: bytes, command: nil, reply: reply)
    }
}
