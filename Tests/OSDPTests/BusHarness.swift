import OSDP
import Testing

/// A control panel and simulated PDs on a virtual bus with virtual time: no threads, no sleeps.
///
/// Every frame the CP sends is decoded by a "wire" decoder, recorded in ``sent`` and handed to
/// every PD; a PD's reply reaches the CP ``replyLatency`` later. Hooks let a test silence a PD,
/// drop or rewrite replies, or inject bytes.
struct BusHarness {
    var panel: OSDPControlPanel
    var devices: [UInt8: OSDPPeripheral]
    var now: Duration = .zero
    var replyLatency: Duration = .milliseconds(3)
    /// PDs that hear nothing and say nothing (pulled cable).
    var silent: Set<UInt8> = []
    /// Replies from these PDs are lost on the wire this many times.
    var dropReplies: [UInt8: Int] = [:]
    /// Rewrites (or suppresses, with nil) a PD's reply bytes before they reach the CP.
    var rewriteReply: (@Sendable (_ address: UInt8, _ bytes: [UInt8]) -> [UInt8]?)?
    /// Answers a command instead of the PD (the PD does not see it) when it returns bytes.
    var interceptCommand: (@Sendable (_ packet: OSDPPacket) -> [UInt8]?)?

    private(set) var events: [(time: Duration, event: OSDPEvent)] = []
    private(set) var sent: [(time: Duration, packet: OSDPPacket, bytes: [UInt8])] = []
    private(set) var accepted: [(time: Duration, address: UInt8, command: OSDPCommand)] = []
    private(set) var retransmittedReplies = 0
    private var wire = OSDPFrameDecoder()
    private var inbound: [(at: Duration, bytes: [UInt8])] = []
    private var lastSentBytes: [UInt8] = []

    init(configuration: OSDPControlPanelConfiguration, devices: [OSDPPeripheral.Configuration], random: @escaping OSDPRandomSource = OSDPRandom.system) throws {
        panel = try OSDPControlPanel(configuration: configuration, random: random)
        var map: [UInt8: OSDPPeripheral] = [:]
        for device in devices { map[device.address] = OSDPPeripheral(configuration: device) }
        self.devices = map
    }

    mutating func start() {
        perform(panel.start(now: now))
    }

    /// Bytes arriving at the CP at `time` (noise, a foreign reply).
    mutating func inject(_ bytes: [UInt8], at time: Duration) {
        inbound.append((time, bytes))
        inbound.sort { $0.at < $1.at }
    }

    private mutating func perform(_ actions: [OSDPControlPanel.Action]) {
        for action in actions {
            switch action {
            case .event(let event):
                events.append((now, event))
            case .send(let bytes):
                lastSentBytes = bytes
                deliver(bytes)
            }
        }
    }

    private mutating func deliver(_ bytes: [UInt8]) {
        for output in wire.feed(bytes) {
            guard case .packet(let packet) = output else { continue }
            sent.append((now, packet, bytes))
            if let intercept = interceptCommand, let reply = intercept(packet) {
                inject(reply, at: now + replyLatency)
                continue
            }
            for address in devices.keys.sorted() where !silent.contains(address) {
                let response = devices[address]!.handle(output)
                if let command = response.command { accepted.append((now, address, command)) }
                if response.isRetransmission { retransmittedReplies += 1 }
                guard var reply = response.bytes else { continue }
                if let remaining = dropReplies[address], remaining > 0 {
                    dropReplies[address] = remaining - 1
                    continue
                }
                if let rewrite = rewriteReply {
                    guard let rewritten = rewrite(address, reply) else { continue }
                    reply = rewritten
                }
                inject(reply, at: now + replyLatency)
            }
        }
    }

    /// Runs the bus until `end`.
    mutating func run(until end: Duration) {
        var iterations = 0
        while now < end {
            iterations += 1
            if iterations > 2_000_000 {
                Issue.record("the bus did not make progress at \(now)")
                return
            }
            let deadline = panel.nextDeadline ?? end
            if let next = inbound.first, next.at <= deadline, next.at <= end {
                inbound.removeFirst()
                now = max(now, next.at)
                perform(panel.receive(next.bytes, now: now))
            } else if deadline <= end {
                now = max(now, deadline)
                perform(panel.tick(now: now))
            } else {
                now = end
                perform(panel.tick(now: now))
            }
        }
    }

    /// Runs for `duration` more.
    mutating func run(for duration: Duration) {
        run(until: now + duration)
    }

    /// Changes a PD (present a card, press keys, ...).
    mutating func device(_ address: UInt8, _ change: (inout OSDPPeripheral) -> Void) {
        change(&devices[address]!)
    }

    /// Replaces a PD with a freshly powered-up one (it forgot the sequence number and session).
    mutating func powerCycle(_ address: UInt8) {
        devices[address] = OSDPPeripheral(configuration: devices[address]!.configuration)
    }

    func events(for address: UInt8) -> [OSDPEvent.Kind] {
        events.filter { $0.event.address == address }.map(\.event.kind)
    }

    func commands(to address: UInt8) -> [(time: Duration, packet: OSDPPacket, bytes: [UInt8])] {
        sent.filter { $0.packet.address == address }
    }

    func firstTime(of address: UInt8, where predicate: (OSDPEvent.Kind) -> Bool) -> Duration? {
        events.first { $0.event.address == address && predicate($0.event.kind) }?.time
    }
}

extension OSDPEvent.Kind {
    var isOnline: Bool { if case .online = self { true } else { false } }
    var isOffline: Bool { if case .offline = self { true } else { false } }
    var card: OSDPCardRead? { if case .cardRead(let card) = self { card } else { nil } }
    var isSecureEstablished: Bool { if case .secureChannelEstablished = self { true } else { false } }
}

func readerConfig(_ address: UInt8, _ name: String = "reader", secure: OSDPSecureChannelMode = .disabled) -> OSDPReaderConfiguration {
    OSDPReaderConfiguration(address: address, name: "\(name)-\(address)", secureChannel: secure)
}
