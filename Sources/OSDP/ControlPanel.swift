/// The OSDP control panel (CP) for one RS-485 bus, as a pure state machine with time injected.
///
/// It owns the bus: one command at a time, round robin over the readers, each reply awaited for
/// the reply timeout (200 ms after the command's last byte, extended while a reply is still
/// arriving within the inter-character timeout), a turnaround gap of at least two character
/// times before each transmission.
///
/// Per reader it runs discovery (`osdp_ID`, `osdp_CAP`), the secure channel handshake when
/// configured (`osdp_CHLNG`/`osdp_CCRYPT`, `osdp_SCRYPT`/`osdp_RMAC_I`, and in install mode
/// `osdp_KEYSET` followed by a new handshake under the reader's own key), the initial
/// `osdp_LSTAT` and `osdp_ISTAT`, then `osdp_POLL` every ``OSDPControlPanelConfiguration/pollInterval``
/// with queued commands (LED, buzzer) sent first. Sequence numbers start at 0 and then run
/// 1, 2, 3, 1, ...; a command without reply is sent again, byte for byte with the same sequence
/// number, on the reader's next turn. A reader without a valid reply for 8 s is reported offline,
/// its state reset (sequence 0, discovery and handshake again) and probed once a second; its first
/// valid reply reports it online. A NAK 0x03 marks the command unsupported; the reader stays online.
///
/// Times are `Duration`s since any fixed origin (the driver uses `ContinuousClock` elapsed time).
///
/// ```swift
/// var panel = try OSDPControlPanel(configuration: configuration)
/// var actions = panel.start(now: .zero)
/// while running {
///     perform(actions)                                   // write .send bytes, report .event
///     let bytes = read(until: panel.nextDeadline)        // from the serial port
///     actions = bytes.isEmpty ? panel.tick(now: elapsed) : panel.receive(bytes, now: elapsed)
/// }
/// ```
public struct OSDPControlPanel: Sendable {
    /// The configuration, validated.
    public let configuration: OSDPControlPanelConfiguration

    private var readers: [ReaderState]
    private var decoder: OSDPFrameDecoder
    private var bus: Bus = .idle(since: .zero)
    private var lastPolledIndex = -1
    private var started = false
    private let random: OSDPRandomSource

    /// Frames and garbage the decoder saw.
    public var decoderCounters: OSDPFrameCounters { decoder.counters }

    /// Creates a control panel.
    /// - Parameter random: the source of RND.A; tests inject fixed bytes.
    /// - Throws: ``OSDPConfigurationError`` when the configuration is invalid.
    public init(
        configuration: OSDPControlPanelConfiguration, random: @escaping OSDPRandomSource = OSDPRandom.system
    ) throws(OSDPConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        self.readers = configuration.readers.map { ReaderState(configuration: $0, now: .zero) }
        self.decoder = OSDPFrameDecoder(interCharacterTimeout: configuration.interCharacterTimeout)
        self.random = random
    }

    // MARK: Driving

    /// Starts the bus at `now`: the silence clocks of all readers start, the first command goes out.
    public mutating func start(now: Duration) -> [OSDPControlPanel.Action] {
        started = true
        bus = .idle(since: now - configuration.effectiveTurnaroundGap)
        for index in readers.indices {
            readers[index] = ReaderState(configuration: readers[index].configuration, now: now)
        }
        return drive(now: now)
    }

    /// Bytes arrived from the bus at `now`.
    public mutating func receive(_ bytes: [UInt8], now: Duration) -> [OSDPControlPanel.Action] {
        var actions: [OSDPControlPanel.Action] = []
        for output in decoder.feed(bytes, now: now) {
            if case .packet(let packet) = output {
                handle(packet, now: now, actions: &actions)
            }
        }
        return actions + drive(now: now)
    }

    /// Time passed (the driver's wait for bytes ended at ``nextDeadline``).
    public mutating func tick(now: Duration) -> [OSDPControlPanel.Action] {
        drive(now: now)
    }

    /// The latest time at which ``tick(now:)`` must be called, unless bytes arrive first.
    public var nextDeadline: Duration? {
        guard started else { return nil }
        var deadlines: [Duration] = []
        switch bus {
        case .awaiting(_, let deadline):
            deadlines.append(effectiveDeadline(deadline))
        case .idle(let since):
            let earliest = since + configuration.effectiveTurnaroundGap
            if let due = readers.map({ $0.dueAt(configuration) }).min() {
                deadlines.append(max(earliest, due))
            }
        }
        for reader in readers where reader.link != .offline {
            deadlines.append(reader.silentSince + configuration.offlineTimeout)
        }
        if decoder.isInsideFrame, let last = decoder.lastByteTime {
            deadlines.append(last + configuration.interCharacterTimeout + .milliseconds(1))
        }
        return deadlines.min()
    }

    /// Queues a command (LED, buzzer, output, text, ...) for a reader; it goes out before the next poll.
    /// - Throws: ``OSDPControlPanelError`` for an unknown or offline reader, a command it
    ///   refused before (NAK 0x03), a full queue, or a handshake/key command.
    public mutating func enqueue(_ command: OSDPCommand, for address: UInt8) throws(OSDPControlPanelError) {
        guard let index = readers.firstIndex(where: { $0.configuration.address == address }) else {
            throw OSDPControlPanelError(address: address, reason: .unknownReader, command: command.description)
        }
        switch command {
        case .keySet, .challenge, .serverCryptogram, .id, .capabilities:
            throw OSDPControlPanelError(address: address, reason: .reservedCommand, command: command.description)
        default:
            break
        }
        guard readers[index].link == .online else {
            throw OSDPControlPanelError(address: address, reason: .readerOffline, command: command.description)
        }
        guard !readers[index].unsupported.contains(command.code) else {
            throw OSDPControlPanelError(address: address, reason: .notSupported, command: command.description)
        }
        guard readers[index].queue.count < configuration.commandQueueLimit else {
            throw OSDPControlPanelError(address: address, reason: .queueFull, command: command.description)
        }
        readers[index].queue.append(command)
    }

    /// The state of every reader.
    public var readerStatuses: [OSDPReaderStatus] { readers.map(\.status) }

    /// The state of the reader at `address`.
    public func status(of address: UInt8) -> OSDPReaderStatus? {
        readers.first { $0.configuration.address == address }?.status
    }

    // MARK: The bus

    private enum Bus: Sendable {
        case idle(since: Duration)
        case awaiting(index: Int, deadline: Duration)
    }

    private func effectiveDeadline(_ deadline: Duration) -> Duration {
        if decoder.isInsideFrame, let last = decoder.lastByteTime {
            return max(deadline, last + configuration.interCharacterTimeout + .milliseconds(1))
        }
        return deadline
    }

    private mutating func drive(now: Duration) -> [OSDPControlPanel.Action] {
        guard started else { return [] }
        var actions: [OSDPControlPanel.Action] = []
        _ = decoder.advance(to: now)

        if case .awaiting(let index, let deadline) = bus, now >= effectiveDeadline(deadline) {
            decoder.reset()
            readers[index].timeouts += 1
            readers[index].pending?.retryAt = now
            bus = .idle(since: now)
        }

        for index in readers.indices where readers[index].link != .offline {
            let silence = now - readers[index].silentSince
            if silence >= configuration.offlineTimeout {
                goOffline(index, silence: silence, now: now, actions: &actions)
            }
        }

        if case .idle(let since) = bus, now >= since + configuration.effectiveTurnaroundGap {
            for step in 1...readers.count {
                let index = (lastPolledIndex + step) % readers.count
                guard readers[index].dueAt(configuration) <= now else { continue }
                if let bytes = transmit(index, now: now, actions: &actions) {
                    lastPolledIndex = index
                    let transmission = configuration.characterTime * bytes.count
                    bus = .awaiting(index: index, deadline: now + transmission + configuration.replyTimeout)
                    actions.append(.send(bytes))
                    break
                }
            }
        }
        return actions
    }

    /// The bytes to send to reader `index` now, building the next exchange when none is pending.
    private mutating func transmit(_ index: Int, now: Duration, actions: inout [OSDPControlPanel.Action]) -> [UInt8]? {
        if var pending = readers[index].pending {
            pending.attempts += 1
            readers[index].retransmissions += 1
            readers[index].pending = pending
            readers[index].lastAttemptAt = now
            return pending.bytes
        }
        while let purpose = nextPurpose(index, now: now, actions: &actions) {
            if let bytes = build(index, purpose: purpose, now: now, actions: &actions) {
                readers[index].lastAttemptAt = now
                return bytes
            }
        }
        return nil
    }

    /// What reader `index` should be sent next, advancing its discovery phase past steps that do not apply.
    private mutating func nextPurpose(_ index: Int, now: Duration, actions: inout [OSDPControlPanel.Action]) -> Purpose? {
        var reader = readers[index]
        defer { readers[index] = reader }
        while true {
            switch reader.phase {
            case .identify:
                return .identify
            case .capabilities:
                return .capabilities
            case .secureChannel:
                guard case .required(let key, let allowInstall) = reader.configuration.secureChannel else {
                    reader.phase = .localStatus
                    continue
                }
                if let handshake = reader.pendingHandshake {
                    reader.pendingHandshake = nil
                    return .serverCryptogram(handshake)
                }
                switch reader.secure {
                case .established(_, let defaultKey):
                    if defaultKey { return .keySet(key) }
                    reader.phase = .localStatus
                    continue
                case .waiting(let until):
                    if now < until { return nil }
                    reader.secure = .plain
                    continue
                case .plain, .handshaking:
                    let useDefault = reader.tryDefaultKey && allowInstall
                    return .challenge(defaultKey: useDefault, random: random(8))
                }
            case .localStatus:
                if reader.unsupported.contains(OSDPCommandCode.localStatus.rawValue) {
                    reader.phase = .inputStatus
                    continue
                }
                return .command(.localStatus)
            case .inputStatus:
                let inputs = reader.capabilities.first { $0.function == .contactStatusMonitoring }
                if reader.unsupported.contains(OSDPCommandCode.inputStatus.rawValue)
                    || (inputs != nil && (inputs?.count ?? 0) == 0)
                {
                    reader.phase = .running
                    continue
                }
                return .command(.inputStatus)
            case .running:
                if case .required = reader.configuration.secureChannel, !reader.secure.isEstablished {
                    reader.phase = .secureChannel
                    continue
                }
                while let command = reader.queue.first {
                    if reader.unsupported.contains(command.code) {
                        reader.queue.removeFirst()
                        actions.append(reader.event(.commandDropped(code: command.code, reason: "the reader does not support it")))
                        continue
                    }
                    reader.queue.removeFirst()
                    return .command(command)
                }
                return .command(.poll)
            }
        }
    }

    /// Encodes the exchange for `purpose`, stores it as pending; nil when building failed (an event says why).
    private mutating func build(_ index: Int, purpose: Purpose, now: Duration, actions: inout [OSDPControlPanel.Action]) -> [UInt8]? {
        var reader = readers[index]
        defer { readers[index] = reader }
        let address = reader.configuration.address
        let sequence = reader.sequence
        let command: OSDPCommand
        var block: OSDPSecurityBlock?
        switch purpose {
        case .identify:
            command = .id
        case .capabilities:
            command = .capabilities
        case .challenge(let defaultKey, let random):
            command = .challenge(random: random)
            block = OSDPSecurityBlock(.challenge, data: [defaultKey ? 0 : 1])
            reader.secure = .handshaking
        case .serverCryptogram(let handshake):
            command = .serverCryptogram(handshake.serverCryptogram)
            block = OSDPSecurityBlock(.serverCryptogram, data: [handshake.defaultKey ? 0 : 1])
        case .keySet(let key):
            command = .keySet(key)
        case .command(let userCommand):
            command = userCommand
        }
        let bytes: [UInt8]
        if case .established(var session, let defaultKey) = reader.secure, block == nil {
            do {
                let packet = try session.sealCommand(address: address, sequence: sequence, code: command.code, data: command.data)
                reader.secure = .established(session, defaultKey: defaultKey)
                bytes = packet.encoded()
            } catch {
                actions.append(reader.event(.protocolError("cannot seal \(command): \(error)")))
                reader.dropSecureChannel(until: now + configuration.secureChannelRetryInterval)
                return nil
            }
        } else {
            let packet = OSDPPacket(
                address: address, isReply: false, sequence: sequence, check: .crc16,
                securityBlock: block, code: command.code, data: command.data)
            bytes = packet.encoded()
        }
        reader.pending = Exchange(purpose: purpose, command: command, bytes: bytes, sequence: sequence)
        return bytes
    }

    // MARK: Replies

    private mutating func handle(_ packet: OSDPPacket, now: Duration, actions: inout [OSDPControlPanel.Action]) {
        // Our own command echoed by a half-duplex adapter, or another CP's traffic.
        guard packet.isReply else { return }
        guard case .awaiting(let index, _) = bus, packet.address == readers[index].configuration.address,
            let exchange = readers[index].pending
        else { return }
        let isBusy = packet.code == OSDPReplyCode.busy.rawValue && packet.securityBlock == nil
        guard packet.sequence == exchange.sequence || isBusy else { return }

        bus = .idle(since: now)
        var reader = readers[index]
        defer { readers[index] = reader }
        reader.silentSince = now
        if reader.link != .online {
            reader.link = .online
            actions.append(reader.event(.online))
        }

        if isBusy {
            reader.pending?.retryAt = now + configuration.busyRetryDelay
            return
        }

        // Unwrap the security layer.
        var code = packet.code
        var data = packet.data
        if case .established(var session, let defaultKey) = reader.secure {
            if packet.securityBlock?.blockType?.carriesMAC == true {
                do {
                    (code, data) = try session.openReply(packet)
                    reader.secure = .established(session, defaultKey: defaultKey)
                } catch {
                    reader.completeExchange(now: now)
                    reader.reportSecureFailure(.badMAC, actions: &actions)
                    reader.dropSecureChannel(until: now + configuration.secureChannelRetryInterval)
                    return
                }
            } else if case .keySet = exchange.purpose, code == OSDPReplyCode.ack.rawValue {
                // Some readers switch to the new key before acknowledging: accept a plain ACK here.
            } else {
                reader.completeExchange(now: now)
                reader.reportSecureFailure(.sessionLost, actions: &actions)
                if code == OSDPReplyCode.nak.rawValue, data.first == OSDPNAKError.unexpectedSequence.rawValue {
                    reader.sequence = 0
                }
                reader.requeue(exchange)
                reader.dropSecureChannel(until: now)
                return
            }
        }

        let reply: OSDPReply
        do {
            reply = try OSDPReply.decode(code: code, data: data)
        } catch {
            reader.completeExchange(now: now)
            actions.append(reader.event(.protocolError("\(error)")))
            return
        }
        reader.completeExchange(now: now)
        if case .command(.poll) = exchange.purpose, reply.code != OSDPReplyCode.nak.rawValue {
            reader.lastPollRefusal = nil
        }
        process(reply, packet: packet, exchange: exchange, reader: &reader, now: now, actions: &actions)
    }

    private func process(
        _ reply: OSDPReply, packet: OSDPPacket, exchange: Exchange, reader: inout ReaderState, now: Duration,
        actions: inout [OSDPControlPanel.Action]
    ) {
        if case .nak(let error) = reply {
            handleNAK(error, exchange: exchange, reader: &reader, now: now, actions: &actions)
            return
        }
        switch exchange.purpose {
        case .identify:
            if case .identification(let id) = reply {
                reader.identification = id
                actions.append(reader.event(.identified(id)))
            } else {
                actions.append(reader.event(.protocolError("osdp_ID answered with reply 0x\(String(format2: reply.code))")))
            }
            reader.phase = .capabilities
        case .capabilities:
            if case .capabilities(let entries) = reply {
                reader.capabilities = entries
                actions.append(reader.event(.capabilities(entries)))
            } else {
                actions.append(reader.event(.protocolError("osdp_CAP answered with reply 0x\(String(format2: reply.code))")))
            }
            reader.phase = .secureChannel
        case .challenge(let defaultKey, let cpRandom):
            handleClientCryptogram(reply, packet: packet, defaultKey: defaultKey, cpRandom: cpRandom, reader: &reader, now: now, actions: &actions)
        case .serverCryptogram(let handshake):
            guard case .initialRMAC(let rmac) = reply else {
                reader.secureFailed(.rejectedByReader, until: now + configuration.secureChannelRetryInterval, actions: &actions)
                return
            }
            let accepted = packet.securityBlock?.type == OSDPSecurityBlock.BlockType.initialRMAC.rawValue
                && packet.securityBlock?.data.first == 1
            guard accepted else {
                reader.secureFailed(.rejectedByReader, until: now + configuration.secureChannelRetryInterval, actions: &actions)
                return
            }
            guard let expected = try? handshake.keys.initialRMAC(serverCryptogram: handshake.serverCryptogram),
                constantTimeEqual(expected, rmac)
            else {
                reader.secureFailed(.badInitialRMAC, until: now + configuration.secureChannelRetryInterval, actions: &actions)
                return
            }
            reader.secure = .established(OSDPSecureSession(keys: handshake.keys, initialRMAC: rmac), defaultKey: handshake.defaultKey)
            reader.tryDefaultKey = false
            reader.lastSecureFailure = nil
            actions.append(reader.event(.secureChannelEstablished(defaultKey: handshake.defaultKey)))
        case .keySet:
            guard case .ack = reply else {
                actions.append(reader.event(.protocolError("osdp_KEYSET answered with reply 0x\(String(format2: reply.code))")))
                reader.secureFailed(.keySetRefused(.none), until: now + configuration.secureChannelRetryInterval, actions: &actions)
                return
            }
            actions.append(reader.event(.keyInstalled))
            // The reader now holds the configured key; open a session under it.
            reader.secure = .plain
            reader.tryDefaultKey = false
        case .command(let command):
            handleCommandReply(reply, command: command, reader: &reader, actions: &actions)
        }
    }

    private func handleClientCryptogram(
        _ reply: OSDPReply, packet: OSDPPacket, defaultKey: Bool, cpRandom: [UInt8], reader: inout ReaderState,
        now: Duration, actions: inout [OSDPControlPanel.Action]
    ) {
        guard case .required(let configuredKey, let allowInstall) = reader.configuration.secureChannel,
            case .clientCryptogram(_, let pdRandom, let cryptogram) = reply
        else {
            reader.secureFailed(.rejectedByReader, until: now + configuration.secureChannelRetryInterval, actions: &actions)
            return
        }
        let key = defaultKey ? OSDPSecureChannelKey.defaultInstallKey : configuredKey
        guard let keys = try? OSDPSessionKeys(baseKey: key, cpRandom: cpRandom),
            let expected = try? keys.clientCryptogram(cpRandom: cpRandom, pdRandom: pdRandom),
            constantTimeEqual(expected, cryptogram),
            let server = try? keys.serverCryptogram(cpRandom: cpRandom, pdRandom: pdRandom)
        else {
            if !defaultKey && allowInstall {
                // Install mode: the reader may still hold SCBK-D; try that next, without waiting.
                reader.tryDefaultKey = true
                reader.secure = .plain
                return
            }
            reader.tryDefaultKey = false
            reader.secureFailed(.wrongKey, until: now + configuration.secureChannelRetryInterval, actions: &actions)
            return
        }
        reader.pendingHandshake = Handshake(keys: keys, serverCryptogram: server, defaultKey: defaultKey)
    }

    private func handleCommandReply(
        _ reply: OSDPReply, command: OSDPCommand, reader: inout ReaderState, actions: inout [OSDPControlPanel.Action]
    ) {
        switch reply {
        case .ack:
            switch command {
            case .poll, .localStatus, .inputStatus:
                break
            default:
                actions.append(reader.event(.commandAcknowledged(code: command.code)))
            }
        case .rawCardData(let raw):
            actions.append(reader.event(.cardRead(OSDPCardRead(raw: raw))))
        case .keypad(let keys):
            actions.append(reader.event(.keypad(keys)))
        case .inputStatus(let states):
            reader.updateInputs(states, actions: &actions)
        case .localStatus(let status):
            reader.updateLocalStatus(status, actions: &actions)
        case .outputStatus, .readerStatus, .communicationConfiguration:
            if command != .poll { actions.append(reader.event(.commandAcknowledged(code: command.code))) }
        default:
            actions.append(reader.event(.protocolError("\(command) answered with reply 0x\(String(format2: reply.code))")))
        }
        switch command {
        case .localStatus:
            if reader.phase == .localStatus { reader.phase = .inputStatus }
        case .inputStatus:
            if reader.phase == .inputStatus { reader.phase = .running }
        default:
            break
        }
    }

    private func handleNAK(
        _ error: OSDPNAKError, exchange: Exchange, reader: inout ReaderState, now: Duration,
        actions: inout [OSDPControlPanel.Action]
    ) {
        let code = exchange.command.code
        if case .command(.poll) = exchange.purpose {
            // A reader refusing every poll would otherwise report 20 times a second.
            if reader.lastPollRefusal != error { actions.append(reader.event(.commandRejected(code: code, error: error))) }
            reader.lastPollRefusal = error
        } else {
            actions.append(reader.event(.commandRejected(code: code, error: error)))
        }
        switch error {
        case .unexpectedSequence:
            // The reader lost track (it restarted, or missed a frame): restart the link with sequence 0.
            reader.sequence = 0
            if reader.secure.isEstablished || reader.secure.isHandshaking {
                reader.dropSecureChannel(until: now)
            }
            reader.requeue(exchange)
        case .badCheck:
            reader.requeue(exchange)
        case .unknownCommand, .securityBlockUnsupported:
            switch exchange.purpose {
            case .challenge, .serverCryptogram, .keySet:
                reader.secureFailed(.notSupported, until: now + configuration.secureChannelRetryInterval, actions: &actions)
            case .identify:
                reader.phase = .capabilities
            case .capabilities:
                reader.phase = .secureChannel
            case .command(let command):
                if command != .poll {
                    reader.unsupported.insert(code)
                    actions.append(reader.event(.capabilityMissing(code: code)))
                }
                advancePhase(after: command, reader: &reader)
            }
        case .encryptionRequired:
            switch reader.configuration.secureChannel {
            case .disabled:
                if !reader.reportedRequiredByReader {
                    actions.append(reader.event(.secureChannelFailed(.requiredByReader)))
                    reader.reportedRequiredByReader = true
                }
                advancePhaseAfterRefusal(exchange, reader: &reader)
            case .required:
                switch exchange.purpose {
                case .challenge(let defaultKey, _):
                    if !defaultKey, case .required(_, true) = reader.configuration.secureChannel {
                        reader.tryDefaultKey = true
                        reader.secure = .plain
                    } else {
                        reader.tryDefaultKey = false
                        reader.secureFailed(.rejectedByReader, until: now + configuration.secureChannelRetryInterval, actions: &actions)
                    }
                case .serverCryptogram:
                    reader.secureFailed(.rejectedByReader, until: now + configuration.secureChannelRetryInterval, actions: &actions)
                case .keySet:
                    reader.secureFailed(.keySetRefused(error), until: now + configuration.secureChannelRetryInterval, actions: &actions)
                default:
                    reader.requeue(exchange)
                    reader.reportSecureFailure(.sessionLost, actions: &actions)
                    reader.dropSecureChannel(until: now)
                }
            }
        default:
            switch exchange.purpose {
            case .challenge, .serverCryptogram:
                reader.secureFailed(.rejectedByReader, until: now + configuration.secureChannelRetryInterval, actions: &actions)
            case .keySet:
                reader.secureFailed(.keySetRefused(error), until: now + configuration.secureChannelRetryInterval, actions: &actions)
            default:
                advancePhaseAfterRefusal(exchange, reader: &reader)
            }
        }
    }

    private func advancePhaseAfterRefusal(_ exchange: Exchange, reader: inout ReaderState) {
        switch exchange.purpose {
        case .identify: reader.phase = .capabilities
        case .capabilities: reader.phase = .secureChannel
        case .command(let command): advancePhase(after: command, reader: &reader)
        default: break
        }
    }

    private func advancePhase(after command: OSDPCommand, reader: inout ReaderState) {
        switch command {
        case .localStatus where reader.phase == .localStatus: reader.phase = .inputStatus
        case .inputStatus where reader.phase == .inputStatus: reader.phase = .running
        default: break
        }
    }

    private mutating func goOffline(_ index: Int, silence: Duration, now: Duration, actions: inout [OSDPControlPanel.Action]) {
        var reader = readers[index]
        defer { readers[index] = reader }
        reader.link = .offline
        actions.append(reader.event(.offline(silentFor: silence)))
        for command in reader.queue {
            actions.append(reader.event(.commandDropped(code: command.code, reason: "the reader went offline")))
        }
        reader.resetLink(now: now)
    }
}

// MARK: Per-reader state

extension OSDPControlPanel {
    struct Handshake: Sendable {
        var keys: OSDPSessionKeys
        var serverCryptogram: [UInt8]
        var defaultKey: Bool
    }

    enum Purpose: Sendable {
        case identify
        case capabilities
        case challenge(defaultKey: Bool, random: [UInt8])
        case serverCryptogram(Handshake)
        case keySet(OSDPSecureChannelKey)
        case command(OSDPCommand)
    }

    struct Exchange: Sendable {
        var purpose: Purpose
        var command: OSDPCommand
        var bytes: [UInt8]
        var sequence: UInt8
        var attempts = 1
        /// When a retransmission may go out; nil while the reply is awaited.
        var retryAt: Duration?
    }

    enum Phase: Sendable, Hashable {
        case identify, capabilities, secureChannel, localStatus, inputStatus, running
    }

    enum Link: Sendable, Hashable {
        case unknown, online, offline
    }

    enum Secure: Sendable {
        case plain
        case handshaking
        case established(OSDPSecureSession, defaultKey: Bool)
        case waiting(until: Duration)

        var isEstablished: Bool {
            if case .established = self { return true }
            return false
        }

        var isHandshaking: Bool {
            if case .handshaking = self { return true }
            return false
        }
    }

    struct ReaderState: Sendable {
        let configuration: OSDPReaderConfiguration
        var link: Link = .unknown
        var phase: Phase = .identify
        var secure: Secure = .plain
        var tryDefaultKey = false
        var pendingHandshake: Handshake?
        var sequence: UInt8 = 0
        var pending: Exchange?
        var queue: [OSDPCommand] = []
        var unsupported: Set<UInt8> = []
        var identification: OSDPDeviceIdentification?
        var capabilities: [OSDPCapability] = []
        var inputs: [Bool]?
        var localStatus: OSDPLocalStatus?
        var silentSince: Duration
        var lastAttemptAt: Duration?
        var lastExchangeAt: Duration?
        var retransmissions = 0
        var timeouts = 0
        var lastPollRefusal: OSDPNAKError?
        var reportedRequiredByReader = false
        var lastSecureFailure: OSDPSecureChannelFailure?

        init(configuration: OSDPReaderConfiguration, now: Duration) {
            self.configuration = configuration
            self.silentSince = now
        }

        func event(_ kind: OSDPEvent.Kind) -> OSDPControlPanel.Action {
            .event(OSDPEvent(address: configuration.address, readerName: configuration.name, kind: kind))
        }

        /// When this reader wants the bus next.
        func dueAt(_ configuration: OSDPControlPanelConfiguration) -> Duration {
            if let pending {
                guard let retryAt = pending.retryAt else { return .seconds(Int64.max / 4) }
                if link == .offline, let last = lastAttemptAt {
                    return max(retryAt, last + configuration.offlineProbeInterval)
                }
                return retryAt
            }
            if link == .offline, let last = lastAttemptAt {
                return last + configuration.offlineProbeInterval
            }
            if pendingHandshake != nil { return .zero }
            switch phase {
            case .identify, .capabilities, .localStatus, .inputStatus:
                return .zero
            case .secureChannel:
                if case .waiting(let until) = secure { return until }
                return .zero
            case .running:
                if case .required = self.configuration.secureChannel, !secure.isEstablished { return .zero }
                if !queue.isEmpty { return .zero }
                return (lastExchangeAt ?? .zero) + configuration.pollInterval
            }
        }

        var status: OSDPReaderStatus {
            OSDPReaderStatus(
                configuration: configuration, isOnline: link == .online, isSecureChannelActive: secure.isEstablished,
                identification: identification, capabilities: capabilities, unsupportedCommands: unsupported,
                inputs: inputs, localStatus: localStatus, nextSequence: sequence,
                retransmissions: retransmissions, timeouts: timeouts)
        }

        /// A reply completed the pending exchange: the sequence number moves on (0 → 1, 3 → 1).
        mutating func completeExchange(now: Duration) {
            pending = nil
            sequence = sequence >= 3 ? 1 : sequence + 1
            lastExchangeAt = now
        }

        /// Sends the exchange's command again as a new exchange (new sequence number).
        mutating func requeue(_ exchange: Exchange) {
            if case .command(let command) = exchange.purpose, command != .poll, command != .localStatus, command != .inputStatus {
                queue.insert(command, at: 0)
            }
        }

        mutating func dropSecureChannel(until: Duration) {
            secure = .waiting(until: until)
            pendingHandshake = nil
            if case .required = configuration.secureChannel, phase == .running || phase == .localStatus || phase == .inputStatus {
                phase = .secureChannel
            }
        }

        mutating func secureFailed(_ failure: OSDPSecureChannelFailure, until: Duration, actions: inout [OSDPControlPanel.Action]) {
            reportSecureFailure(failure, actions: &actions)
            secure = .waiting(until: until)
            pendingHandshake = nil
        }

        /// Reports a failure unless the same failure was the last one reported (a reader with the
        /// wrong key fails every retry; one event says so).
        mutating func reportSecureFailure(_ failure: OSDPSecureChannelFailure, actions: inout [OSDPControlPanel.Action]) {
            if lastSecureFailure != failure { actions.append(event(.secureChannelFailed(failure))) }
            lastSecureFailure = failure
        }

        mutating func resetLink(now: Duration) {
            reportedRequiredByReader = false
            lastPollRefusal = nil
            lastSecureFailure = nil
            sequence = 0
            pending = nil
            pendingHandshake = nil
            queue = []
            secure = .plain
            tryDefaultKey = false
            phase = .identify
            lastAttemptAt = now - .seconds(3600)
        }

        mutating func updateInputs(_ states: [Bool], actions: inout [OSDPControlPanel.Action]) {
            let previous = inputs
            inputs = states
            for (index, active) in states.enumerated() {
                if let previous, index < previous.count {
                    if previous[index] != active { actions.append(event(.inputChanged(input: index, active: active))) }
                } else if active {
                    actions.append(event(.inputChanged(input: index, active: true)))
                }
            }
        }

        mutating func updateLocalStatus(_ status: OSDPLocalStatus, actions: inout [OSDPControlPanel.Action]) {
            let previous = localStatus
            localStatus = status
            if status.tamper != (previous?.tamper ?? false) { actions.append(event(.tamperChanged(tampered: status.tamper))) }
            if status.powerFailure != (previous?.powerFailure ?? false) {
                actions.append(event(.powerChanged(failure: status.powerFailure)))
            }
        }
    }
}
