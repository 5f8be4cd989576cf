import Dispatch
import Foundation
import Logging
import OSDP
import SerialTransport
import Synchronization

/// A simulated RS-485 OSDP bus: several OSDP readers (peripheral devices) sharing one
/// ``VirtualSerialDevice`` (one pseudo-terminal), answering the agent's control panel.
///
/// A dedicated thread reads what the control panel writes, decodes frames (with the 20 ms
/// inter-character timeout), hands each frame to every reader (each answers only its own address,
/// as on a real multi-drop bus) and writes the replies back. Each reader is an
/// ``OSDP/OSDPPeripheral``: sequence numbers, retransmitted replies, the secure channel with
/// install mode and `osdp_KEYSET`, NAK for unsupported commands. All methods are thread-safe.
///
/// ```swift
/// let bus = try VirtualOSDPBus(linkPath: "/tmp/station-sim/osdp-bus", readers: [
///     .init(address: 1),
///     .init(address: 2, secureChannelKey: key, requireSecureChannel: true),
/// ])
/// bus.start()
/// try bus.reader(2)?.presentCard(WiegandCard(format: .wiegand26, facilityCode: 12, cardNumber: 3456))
/// bus.reader(1)?.setInput(0, active: true)   // the alarm button wired to input 0
/// bus.reader(1)?.setSilent(true)             // the agent reports it offline 8-10 s later
/// bus.stop()
/// ```
public final class VirtualOSDPBus: Sendable {
    /// The pseudo-terminal the agent opens (unplug/replug it to simulate cable faults).
    public let device: VirtualSerialDevice

    /// How many received commands (polls excluded) each reader keeps: 1000.
    public static let receivedCommandLimit = 1000

    struct ReaderState: Sendable {
        var peripheral: OSDPPeripheral
        var silent = false
        var replyDelay: Duration = .zero
        /// Accepted commands other than polls, the last ``VirtualOSDPBus/receivedCommandLimit``.
        var received: [OSDPCommand] = []
        var polls = 0
        var framesSeen = 0
        var retransmittedReplies = 0
    }

    struct State: Sendable {
        var readers: [UInt8: ReaderState]
        var running = false
        var framesDecoded = 0
        var garbageBytes = 0
    }

    /// The readers and counters, shared with the bus thread.
    final class Shared: Sendable {
        let state: Mutex<State>
        init(_ state: State) { self.state = Mutex(state) }
    }

    let shared: Shared
    private let finished = Mutex<DispatchSemaphore?>(nil)
    private let logger: Logger

    /// Creates the bus on a new virtual device at `linkPath` with the given readers (not started).
    /// - Throws: ``SerialTransport/SerialError`` when the pseudo-terminal cannot be made, or with
    ///   code `configuration` for duplicate or invalid addresses.
    public convenience init(
        linkPath: String, readers: [OSDPPeripheral.Configuration], logger: Logger = Logger(label: "station.sim.osdp")
    ) throws(SerialError) {
        try self.init(device: VirtualSerialDevice(linkPath: linkPath, logger: logger), readers: readers, logger: logger)
    }

    /// Creates the bus on an existing virtual device (not started).
    public init(device: VirtualSerialDevice, readers: [OSDPPeripheral.Configuration], logger: Logger = Logger(label: "station.sim.osdp"))
        throws(SerialError)
    {
        var map: [UInt8: ReaderState] = [:]
        for configuration in readers {
            guard configuration.address < OSDPPacket.broadcastAddress, map[configuration.address] == nil else {
                throw SerialError(
                    code: .configuration, path: device.linkPath, operation: "create OSDP bus",
                    message: "reader address \(configuration.address) is duplicated or outside 0...126",
                    hint: "Give every simulated reader its own address below 127.")
            }
            map[configuration.address] = ReaderState(peripheral: OSDPPeripheral(configuration: configuration))
        }
        self.device = device
        self.shared = Shared(State(readers: map))
        self.logger = logger
    }

    deinit {
        stop()
    }

    /// The stable path the agent is configured with.
    public var linkPath: String { device.linkPath }

    /// The configured addresses, ascending.
    public var addresses: [UInt8] { shared.state.withLock { $0.readers.keys.sorted() } }

    /// A handle on the reader at `address`, nil when there is none.
    public func reader(_ address: UInt8) -> VirtualOSDPReader? {
        shared.state.withLock { $0.readers[address] != nil } ? VirtualOSDPReader(bus: self, address: address) : nil
    }

    /// Frames decoded on the bus (commands to any address) since creation.
    public var framesDecoded: Int { shared.state.withLock { $0.framesDecoded } }

    /// True while the bus thread runs.
    public var isRunning: Bool { shared.state.withLock { $0.running } }

    /// Starts the bus thread. Idempotent.
    public func start() {
        let begin = shared.state.withLock { state -> Bool in
            if state.running { return false }
            state.running = true
            return true
        }
        guard begin else { return }
        let done = DispatchSemaphore(value: 0)
        finished.withLock { $0 = done }
        // The thread holds the parts it needs, not the bus, so that dropping the bus stops it.
        let device = device
        let shared = shared
        let logger = logger
        let thread = Thread {
            Self.run(device: device, shared: shared, logger: logger)
            done.signal()
        }
        thread.name = "osdp-bus \(device.linkPath)"
        thread.start()
        logger.info("OSDP bus started", metadata: ["sim.link": "\(device.linkPath)", "sim.readers": "\(addresses)"])
    }

    /// Stops the bus thread and waits for it (at most about 100 ms). Idempotent.
    public func stop() {
        let wasRunning = shared.state.withLock { state -> Bool in
            defer { state.running = false }
            return state.running
        }
        let done = finished.withLock { semaphore -> DispatchSemaphore? in
            defer { semaphore = nil }
            return semaphore
        }
        if wasRunning, let done {
            _ = done.wait(timeout: .now() + 2)
        }
    }

    private static func run(device: VirtualSerialDevice, shared: Shared, logger: Logger) {
        var decoder = OSDPFrameDecoder()
        let clock = ContinuousClock()
        let origin = clock.now
        while shared.state.withLock({ $0.running }) {
            let bytes: [UInt8]
            do {
                bytes = try device.receive(maxCount: 1024, timeout: .milliseconds(20))
            } catch {
                // Unplugged: wait for replug() and carry on; partial frames are gone with the line.
                decoder.reset()
                Thread.sleep(forTimeInterval: 0.02)
                continue
            }
            let outputs = decoder.feed(bytes, now: clock.now - origin)
            for output in outputs {
                let replies = shared.state.withLock { state -> [(bytes: [UInt8], delay: Duration)] in
                    if case .packet = output { state.framesDecoded += 1 }
                    var replies: [(bytes: [UInt8], delay: Duration)] = []
                    for address in state.readers.keys.sorted() {
                        guard var reader = state.readers[address], !reader.silent else { continue }
                        let response = reader.peripheral.handle(output)
                        if response.bytes != nil { reader.framesSeen += 1 }
                        if response.isRetransmission { reader.retransmittedReplies += 1 }
                        if let command = response.command {
                            if command == .poll {
                                reader.polls += 1
                            } else {
                                reader.received.append(command)
                                if reader.received.count > VirtualOSDPBus.receivedCommandLimit { reader.received.removeFirst() }
                            }
                        }
                        if let reply = response.bytes { replies.append((reply, reader.replyDelay)) }
                        state.readers[address] = reader
                    }
                    state.garbageBytes = decoder.counters.garbageBytes
                    return replies
                }
                for reply in replies {
                    if reply.delay > .zero {
                        let (seconds, attoseconds) = reply.delay.components
                        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
                    }
                    do {
                        try device.send(reply.bytes)
                    } catch {
                        logger.debug("OSDP reply not sent", metadata: ["sim.link": "\(device.linkPath)", "sim.error": "\(error)"])
                    }
                }
            }
        }
    }

    func withReader<Result>(_ address: UInt8, _ body: (inout ReaderState) -> Result) -> Result {
        shared.state.withLock { state in
            body(&state.readers[address]!)
        }
    }
}
