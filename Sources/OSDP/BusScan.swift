/// Finds the OSDP readers on a line, their speed and their addresses: the setup wizard's
/// discovery, as a pure state machine with time injected (the driver owns the port).
///
/// ## How it looks
/// For each speed in turn it sends `osdp_ID` to the broadcast address (0x7F), which every PD
/// answers with its own address. A speed where nothing at all comes back has no reader and is
/// left after one reply timeout. At a speed where anything came back (a clean reply, or the
/// garble of several readers answering at once) it asks each address of the range in turn, so
/// that every reader of a bus with several is found, and stops there when one was: the readers
/// of one bus share its speed. A reply is any valid frame from the address asked (a PD that insists on a
/// secure channel answers `osdp_NAK`, which still says it is there); an `osdp_PDID` reply names
/// the reader's vendor, model and serial number.
///
/// Every command is sent with sequence number 0, the number that restarts a PD's sequence, so a
/// PD that talked to another control panel before answers too.
///
/// ```swift
/// var scan = OSDPBusScan()
/// var actions = scan.start(now: elapsed)
/// while !scan.isFinished {
///     perform(actions)                          // .setSpeed (then scan.speedSet(now:)), .send, .found
///     let bytes = read(until: scan.nextDeadline)
///     actions = bytes.isEmpty ? scan.tick(now: elapsed) : scan.receive(bytes, now: elapsed)
/// }
/// ```
public struct OSDPBusScan: Sendable {
    /// A reader that answered.
    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        public var address: UInt8
        public var speed: Int
        /// Who it is, when it answered `osdp_ID` with `osdp_PDID` (nil after a NAK).
        public var identification: OSDPDeviceIdentification?

        public init(address: UInt8, speed: Int, identification: OSDPDeviceIdentification?) {
            self.address = address
            self.speed = speed
            self.identification = identification
        }

        /// `OSDP reader at address 3, 9600 baud (vendor 0A0B0C model 1, serial 1234)`.
        public var description: String {
            var text = "OSDP reader at address \(address), \(speed) baud"
            if let id = identification {
                text += " (vendor \(String(id.vendorCode, radix: 16, uppercase: true)) model \(id.model), serial \(id.serialNumber))"
            }
            return text
        }
    }

    /// What the driver does next.
    public enum Action: Sendable, Hashable {
        /// Set the port to this speed, then call ``speedSet(now:)``: the broadcast's wait starts
        /// once the port is ready, however long opening it took.
        case setSpeed(Int)
        /// Write these bytes.
        case send([UInt8])
        /// A reader answered.
        case found(Finding)
        /// The scan is over; nothing more comes.
        case finished
    }

    /// The speeds tried, in order.
    public let speeds: [Int]
    /// The addresses asked one by one at a speed where something answered the broadcast.
    public let addresses: ClosedRange<UInt8>
    /// How long to wait for the first byte of a reply to an address.
    public let replyTimeout: Duration
    /// How long to wait for the readers' replies to the broadcast: the standard's reply timeout,
    /// once per speed.
    public let broadcastTimeout: Duration

    private enum Step: Sendable, Equatable {
        case notStarted
        /// Waiting for the driver to set the port to `speeds[speedIndex]`.
        case settingSpeed
        /// Waiting for answers to the broadcast at `speeds[speedIndex]` until `deadline`.
        case broadcast(deadline: Duration)
        /// Waiting for `address`'s answer until `deadline`.
        case asking(address: UInt8, deadline: Duration)
        case finished
    }

    private var step = Step.notStarted
    private var speedIndex = 0
    private var decoder = OSDPFrameDecoder()
    /// Whether any byte came back at the current speed.
    private var heardAtThisSpeed = false
    private var found: [UInt8: Finding] = [:]

    /// The readers found so far, by address.
    public var findings: [Finding] { found.values.sorted { $0.address < $1.address } }

    /// - Parameters:
    ///   - speeds: the speeds to try, the most common first (every OSDP speed by default).
    ///   - addresses: the addresses to ask one by one (every PD address by default).
    ///   - replyTimeout: the wait for a reply's first byte from one address; a reply that has
    ///     begun is awaited to its end (the inter-character timeout).
    ///   - broadcastTimeout: the same for the broadcast that opens each speed.
    public init(
        speeds: [Int] = [9600, 115_200, 38_400, 19_200, 57_600], addresses: ClosedRange<UInt8> = 0...126,
        replyTimeout: Duration = .milliseconds(80), broadcastTimeout: Duration = .milliseconds(200)
    ) {
        self.speeds = speeds
        self.addresses = addresses.clamped(to: 0...(OSDPPacket.broadcastAddress - 1))
        self.replyTimeout = replyTimeout
        self.broadcastTimeout = broadcastTimeout
    }

    /// Starts the scan at the first speed.
    public mutating func start(now: Duration) -> [Action] {
        guard case .notStarted = step else { return [] }
        return beginSpeed(now: now)
    }

    /// The port is set to the speed of the last ``Action/setSpeed(_:)``, at `now`: the broadcast goes out.
    public mutating func speedSet(now: Duration) -> [Action] {
        guard step == .settingSpeed else { return [] }
        step = .broadcast(deadline: now + broadcastTimeout)
        return [.send(Self.identify(OSDPPacket.broadcastAddress))]
    }

    /// Bytes arrived at `now`.
    public mutating func receive(_ bytes: [UInt8], now: Duration) -> [Action] {
        guard !bytes.isEmpty else { return tick(now: now) }
        switch step {
        case .broadcast, .asking: break
        case .notStarted, .settingSpeed, .finished: return []
        }
        heardAtThisSpeed = true
        var actions: [Action] = []
        for output in decoder.feed(bytes, now: now) {
            guard case .packet(let packet) = output, packet.isReply, packet.address != OSDPPacket.broadcastAddress else { continue }
            if case .asking(let address, _) = step, packet.address != address { continue }
            var identification: OSDPDeviceIdentification?
            if case .identification(let id)? = try? OSDPReply.decode(code: packet.code, data: packet.data) {
                identification = id
            }
            let finding = Finding(address: packet.address, speed: speeds[speedIndex], identification: identification)
            if found[packet.address] == nil {
                found[packet.address] = finding
                actions.append(.found(finding))
            }
            // The asked address answered: no need to wait out its timeout.
            if case .asking(let address, _) = step, packet.address == address {
                return actions + askNext(after: address, now: now)
            }
        }
        return actions
    }

    /// Time passed without bytes (the driver's wait ended at ``nextDeadline``).
    public mutating func tick(now: Duration) -> [Action] {
        _ = decoder.advance(to: now)
        switch step {
        case .broadcast(let deadline):
            guard now >= effective(deadline) else { return [] }
            if heardAtThisSpeed {
                return askNext(after: nil, now: now)
            }
            return nextSpeed(now: now)
        case .asking(let address, let deadline):
            guard now >= effective(deadline) else { return [] }
            return askNext(after: address, now: now)
        case .notStarted, .settingSpeed, .finished:
            return []
        }
    }

    /// When ``tick(now:)`` must be called at the latest, unless bytes arrive first.
    public var nextDeadline: Duration? {
        switch step {
        case .broadcast(let deadline), .asking(_, let deadline): effective(deadline)
        case .notStarted, .settingSpeed, .finished: nil
        }
    }

    /// True once ``Action/finished`` was returned.
    public var isFinished: Bool { step == .finished }

    // MARK: Steps

    /// A reply that has begun is awaited past the deadline until its inter-character timeout.
    private func effective(_ deadline: Duration) -> Duration {
        guard decoder.isInsideFrame, let last = decoder.lastByteTime else { return deadline }
        return max(deadline, last + decoder.interCharacterTimeout + .milliseconds(1))
    }

    private mutating func beginSpeed(now: Duration) -> [Action] {
        guard speedIndex < speeds.count else {
            step = .finished
            return [.finished]
        }
        heardAtThisSpeed = false
        decoder.reset()
        step = .settingSpeed
        return [.setSpeed(speeds[speedIndex])]
    }

    private mutating func nextSpeed(now: Duration) -> [Action] {
        speedIndex += 1
        return beginSpeed(now: now)
    }

    /// Asks the next address after `previous` that has not answered yet. At the end of the range
    /// the scan is over once a reader was found (the readers of one bus share its speed); bytes
    /// that no reader sent (noise, another kind of device) go on to the next speed.
    private mutating func askNext(after previous: UInt8?, now: Duration) -> [Action] {
        decoder.reset()
        var candidate: Int = previous.map { Int($0) + 1 } ?? Int(addresses.lowerBound)
        while candidate <= Int(addresses.upperBound), found[UInt8(candidate)] != nil { candidate += 1 }
        guard candidate <= Int(addresses.upperBound) else {
            guard found.isEmpty else {
                step = .finished
                return [.finished]
            }
            return nextSpeed(now: now)
        }
        let address = UInt8(candidate)
        step = .asking(address: address, deadline: now + replyTimeout)
        return [.send(Self.identify(address))]
    }

    /// `osdp_ID` (report type 0) to `address`, sequence 0, CRC-16.
    static func identify(_ address: UInt8) -> [UInt8] {
        OSDPPacket(address: address, isReply: false, sequence: 0, code: OSDPCommand.id.code, data: OSDPCommand.id.data).encoded()
    }
}
