import OSDP

/// One simulated OSDP reader (peripheral device) on a ``VirtualOSDPBus``: what happens at the
/// reader (a card, keys, an input, tamper, power), what it received (LED and buzzer commands),
/// and faults (going silent, answering late). Thread-safe; the bus thread answers the control panel.
///
/// Reports (card, keypad, input and local status) are queued and sent as the replies to the next
/// `osdp_POLL`s, one per poll, as a real reader does.
///
/// ```swift
/// let reader = try #require(bus.reader(1))
/// try reader.presentCard(WiegandCard(format: .wiegand26, facilityCode: 12, cardNumber: 3456))
/// reader.setInput(0, active: true)        // a one-key alarm wired to input 0
/// reader.ledCommands                      // what the agent asked the LED to show
/// reader.setSilent(true)                  // cable cut: the agent reports it offline
/// ```
public struct VirtualOSDPReader: Sendable {
    /// The bus the reader is on.
    public let bus: VirtualOSDPBus
    /// The reader's OSDP address.
    public let address: UInt8

    init(bus: VirtualOSDPBus, address: UInt8) {
        self.bus = bus
        self.address = address
    }

    // MARK: Things happening at the reader

    /// Presents a card: queues `osdp_RAW` with its Wiegand 26 or 34 bits (parity included).
    /// - Throws: ``OSDP/WiegandEncodingError`` when the facility code or card number does not fit.
    public func presentCard(_ card: WiegandCard, reader: UInt8 = 0) throws(WiegandEncodingError) {
        let bits = try Wiegand.encode(card)
        presentRaw(OSDPRawCardData(reader: reader, format: .wiegand, bits: bits))
    }

    /// Presents raw card bits (any length, any format byte), e.g. a 37-bit or a corrupted code.
    public func presentRaw(_ data: OSDPRawCardData) {
        bus.withReader(address) { $0.peripheral.presentCard(data) }
    }

    /// Keys pressed on the reader's keypad: digits, `*` and `#`; queues `osdp_KEYPAD`.
    public func pressKeys(_ text: String, reader: UInt8 = 0) {
        bus.withReader(address) { $0.peripheral.pressKeys(text, reader: reader) }
    }

    /// Sets input `index` (e.g. a one-key alarm button wired to the reader's input); a change
    /// queues `osdp_ISTATR`.
    public func setInput(_ index: Int, active: Bool) {
        bus.withReader(address) { $0.peripheral.setInput(index, active: active) }
    }

    /// Opens or closes the tamper switch; a change queues `osdp_LSTATR`.
    public func setTamper(_ tampered: Bool) {
        bus.withReader(address) { $0.peripheral.setTamper(tampered) }
    }

    /// Reports a power failure or its end; a change queues `osdp_LSTATR`.
    public func setPowerFailure(_ failure: Bool) {
        bus.withReader(address) { $0.peripheral.setPowerFailure(failure) }
    }

    // MARK: Faults

    /// A silent reader hears and answers nothing (a cut cable, a dead reader); the control panel
    /// reports it offline after 8 s. Turning it back on answers again at once; the reader keeps
    /// its state, so the control panel's restart at sequence 0 resets it.
    public func setSilent(_ silent: Bool) {
        bus.withReader(address) { $0.silent = silent }
    }

    /// Delays every reply by `delay` (the control panel gives up after 200 ms).
    public func setReplyDelay(_ delay: Duration) {
        bus.withReader(address) { $0.replyDelay = delay }
    }

    /// Replaces the reader with a freshly powered-up one of the same configuration (and its
    /// current key): it forgets the sequence number, the session and pending reports.
    public func powerCycle() {
        bus.withReader(address) { $0.peripheral = OSDPPeripheral(configuration: $0.peripheral.configuration) }
    }

    // MARK: What the reader saw

    /// The commands the reader accepted other than polls (LED, buzzer, output, COMSET, KEYSET,
    /// status requests, ...), in order; the last 1000.
    public var receivedCommands: [OSDPCommand] { bus.withReader(address) { $0.received } }

    /// The LED records received, in order.
    public var ledCommands: [OSDPLEDControl] {
        receivedCommands.flatMap { command -> [OSDPLEDControl] in
            if case .led(let records) = command { return records }
            return []
        }
    }

    /// The buzzer records received, in order.
    public var buzzerCommands: [OSDPBuzzerControl] {
        receivedCommands.flatMap { command -> [OSDPBuzzerControl] in
            if case .buzzer(let records) = command { return records }
            return []
        }
    }

    /// The number of polls answered.
    public var pollCount: Int { bus.withReader(address) { $0.polls } }

    /// Replies sent again because the control panel repeated a sequence number.
    public var retransmittedReplies: Int { bus.withReader(address) { $0.retransmittedReplies } }

    /// Reports still waiting for a poll.
    public var pendingReports: [OSDPReply] { bus.withReader(address) { $0.peripheral.pendingReports } }

    /// True while a secure session is established with the control panel.
    public var isSecureChannelActive: Bool { bus.withReader(address) { $0.peripheral.isSecureChannelActive } }

    /// True when the current session runs under SCBK-D (install mode).
    public var sessionUsesDefaultKey: Bool { bus.withReader(address) { $0.peripheral.sessionUsesDefaultKey } }

    /// The reader's own key (set by `osdp_KEYSET` in install mode); its description is redacted.
    public var secureChannelKey: OSDPSecureChannelKey? {
        bus.withReader(address) { $0.peripheral.configuration.secureChannelKey }
    }

    /// True while the reader accepts SCBK-D.
    public var isInInstallMode: Bool { bus.withReader(address) { $0.peripheral.configuration.installMode } }
}
