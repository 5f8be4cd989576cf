import DeviceProtocols
import Dispatch
import Foundation
import Logging
import SerialTransport
import Synchronization

/// A simulated serial one-key alarm box (`Hardware/alarm-box/protocol.md`) on a
/// ``VirtualSerialDevice``: it runs the box side of the link protocol
/// (``DeviceProtocols/AlarmBoxDevice``), so the agent talks to it exactly as to a real box.
///
/// - Inputs: ``press()``, ``release()``, ``keySwitchReset()``, ``tamper(open:)``, ``lowBattery()``,
///   ``batteryOK()``, ``powerLoss()``, ``powerRestored()``. Each queues an event that the box
///   sends and repeats until the agent acknowledges it (also across ``VirtualSerialDevice/unplug()``
///   and ``VirtualSerialDevice/replug()``).
/// - Output: what the agent told it to show (``currentIndication``, ``indicationHistory``) and
///   what the LED shows now (``displayedIndication``: `fault` while the agent does not answer).
/// - Faults: a noisy line (``dropEveryNthFrame``, ``corruptEveryNthFrame``), a silent box
///   (``stopHeartbeats()``), a firmware restart (``restart()``), cable faults through ``device``.
///
/// Two dedicated threads run the box: one reads the line and keeps time (heartbeats every
/// `heartbeatInterval`, retransmissions), one writes, so a caller never blocks on the line. All
/// methods are thread-safe. ``stop()`` (or releasing the object) ends both threads.
///
/// ```swift
/// let box = try VirtualAlarmBox(linkPath: "/tmp/station-sim/alarm-1", heartbeatInterval: .seconds(10))
/// box.press()
/// // ... the agent acknowledges, stores the alarm, and tells the box to show `stored`, then `sent` ...
/// box.currentIndication      // .sent
/// box.dropEveryNthFrame = 3  // every third frame the box sends is lost on the line
/// box.device.unplug()
/// ```
public final class VirtualAlarmBox: Sendable {
    /// The device the frames travel on (unplug/replug it to simulate cable faults).
    public let device: VirtualSerialDevice
    /// The period of the box's heartbeats.
    public let heartbeatInterval: Duration

    private let core: Core

    /// Creates a box on a new virtual device at `linkPath`, powered on and running.
    /// - Parameters:
    ///   - heartbeatInterval: the heartbeat period (the protocol's default is 10 s).
    ///   - configuration: timing and firmware version; its heartbeat interval is replaced by `heartbeatInterval`.
    public convenience init(
        linkPath: String, heartbeatInterval: Duration = .seconds(10),
        configuration: AlarmBoxDevice.Configuration = AlarmBoxDevice.Configuration(),
        logger: Logger = Logger(label: "station.sim.alarm-box")
    ) throws(SerialError) {
        let device = try VirtualSerialDevice(linkPath: linkPath, logger: logger)
        self.init(device: device, heartbeatInterval: heartbeatInterval, configuration: configuration, logger: logger)
    }

    /// Creates a box on an existing virtual device, powered on and running.
    public init(
        device: VirtualSerialDevice, heartbeatInterval: Duration = .seconds(10),
        configuration: AlarmBoxDevice.Configuration = AlarmBoxDevice.Configuration(),
        logger: Logger = Logger(label: "station.sim.alarm-box")
    ) {
        var configuration = configuration
        configuration.heartbeatInterval = heartbeatInterval
        self.device = device
        self.heartbeatInterval = configuration.heartbeatInterval
        self.core = Core(device: device, configuration: configuration, logger: logger)
        core.start()
    }

    deinit {
        core.stop()
    }

    /// The stable path the agent is configured with.
    public var linkPath: String { device.linkPath }

    // MARK: - Inputs

    /// Presses the button (and holds it until ``release()``): the alarm latches, the box shows
    /// `stored` and sends PRESSED until the agent acknowledges it. Every call is one press.
    public func press() { core.apply { $0.press(now: $1) } }

    /// Releases the button (reported only when it was pressed).
    public func release() { core.apply { $0.release(now: $1) } }

    /// Turns the key switch: the latch clears and the box shows `idle`.
    public func keySwitchReset() { core.apply { $0.keySwitchReset(now: $1) } }

    /// Opens or closes the enclosure (reported on a change).
    public func tamper(open: Bool) { core.apply { $0.setTamper(open: open, now: $1) } }

    /// The battery runs low (reported on a change).
    public func lowBattery() { core.apply { $0.setLowBattery(true, now: $1) } }

    /// The battery recovers (reported on a change).
    public func batteryOK() { core.apply { $0.setLowBattery(false, now: $1) } }

    /// Mains power fails; the box goes on running from its battery (reported on a change).
    public func powerLoss() { core.apply { $0.setOnBattery(true, now: $1) } }

    /// Mains power comes back (reported on a change).
    public func powerRestored() { core.apply { $0.setOnBattery(false, now: $1) } }

    /// Sends a heartbeat now, outside the periodic schedule.
    public func sendHeartbeatNow() { core.apply { $0.sendHeartbeat(now: $1) } }

    /// Stops the heartbeats: the box stays silent unless it has an event to send or a command
    /// to acknowledge (for supervision tests).
    public func stopHeartbeats() {
        core.apply { box, _ in
            box.stopHeartbeats()
            return []
        }
    }

    /// Resumes the heartbeats, the next one a full interval from now.
    public func resumeHeartbeats() {
        core.apply { box, now in
            box.resumeHeartbeats(now: now)
            return []
        }
    }

    /// Restarts the box's firmware (watchdog reset, or power cut with a flat battery): queued
    /// events and the indication are lost; the latch, and a press the agent never acknowledged,
    /// survive in non-volatile memory. The box sends a HELLO, then that press again.
    public func restart() {
        core.restart()
    }

    // MARK: - Noise

    /// Every n-th frame the box writes (of any kind: events, heartbeats, ACKs) is lost on the
    /// line; 0 turns this off.
    public var dropEveryNthFrame: Int {
        get { core.state.withLock { $0.dropEvery } }
        set { core.state.withLock { $0.dropEvery = max(newValue, 0) } }
    }

    /// Every n-th frame the box writes (counted with the dropped ones) arrives with one bit
    /// flipped, so the agent sees a CRC error; 0 turns this off.
    public var corruptEveryNthFrame: Int {
        get { core.state.withLock { $0.corruptEvery } }
        set { core.state.withLock { $0.corruptEvery = max(newValue, 0) } }
    }

    // MARK: - Observation

    /// What the box has been told to show (or chose itself: `stored` on a press, `idle` on a reset).
    public var currentIndication: AlarmIndication { core.state.withLock { $0.box.indication } }

    /// What the LED and buzzer show now: ``currentIndication``, or `fault` while the agent does
    /// not answer.
    public var displayedIndication: AlarmIndication { core.state.withLock { $0.box.displayedIndication } }

    /// Every indication the agent commanded, in order (repetitions of a frame count once).
    public var indicationHistory: [AlarmIndication] { core.state.withLock { $0.indicationHistory } }

    /// Every command the agent sent that the box carried out, in order.
    public var commandHistory: [AlarmBoxCommand] { core.state.withLock { $0.commandHistory } }

    /// Events the agent has acknowledged, in order.
    public var acknowledgedEvents: [AlarmBoxEvent] { core.state.withLock { $0.acknowledgedEvents } }

    /// Events still waiting for the agent's acknowledgement, the one being sent first.
    public var unacknowledgedEvents: [AlarmBoxEvent] { core.state.withLock { $0.box.unacknowledgedEvents } }

    /// Heartbeats the agent has acknowledged: it acts on each before it reads the next, so once
    /// this has grown by two, the first of them has been acted on.
    public var heartbeatsAcknowledged: Int { core.state.withLock { $0.box.heartbeatsAcknowledged } }

    /// True when an alarm is latched.
    public var isLatched: Bool { core.state.withLock { $0.box.latched } }

    /// True when the agent has acknowledged the box's HELLO since power-on (or ``restart()``).
    public var isHelloAcknowledged: Bool { core.state.withLock { $0.box.isHelloAcknowledged } }

    /// The STATUS block the box would send now.
    public var status: AlarmBoxStatus { core.state.withLock { $0.box.status(at: core.now()) } }

    /// The box side's protocol counters (frames received, CRC errors, duplicates, retransmissions, ...).
    public var counters: AlarmBoxCounters { core.state.withLock { $0.box.counters } }

    /// Frames the box wrote (dropped and corrupted ones included).
    public var framesWritten: Int { core.state.withLock { $0.framesWritten } }
    /// Frames lost to ``dropEveryNthFrame``.
    public var framesDropped: Int { core.state.withLock { $0.framesDropped } }
    /// Frames damaged by ``corruptEveryNthFrame``.
    public var framesCorrupted: Int { core.state.withLock { $0.framesCorrupted } }
    /// Writes that failed because the device was unplugged or the agent was not reading.
    public var writeFailures: Int { core.state.withLock { $0.writeFailures } }

    /// Waits (polling every 10 ms) until every event has been acknowledged; false after `timeout`.
    public func waitUntilAcknowledged(timeout: Duration) async -> Bool {
        await poll(timeout: timeout) { unacknowledgedEvents.isEmpty && isHelloAcknowledged }
    }

    /// Waits (polling every 10 ms) until ``currentIndication`` is `indication`; false after `timeout`.
    public func waitForIndication(_ indication: AlarmIndication, timeout: Duration) async -> Bool {
        await poll(timeout: timeout) { currentIndication == indication }
    }

    /// Ends the box's threads (within about 50 ms). The device stays plugged in. Idempotent.
    public func stop() {
        core.stop()
    }

    private func poll(timeout: Duration, _ condition: () -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            if condition() { return true }
            do {
                try await Task.sleep(for: .milliseconds(10))
            } catch {
                return condition()
            }
        }
        return condition()
    }

    // MARK: - The running box

    struct State: Sendable {
        var box: AlarmBoxDevice
        var running = true
        var outbox: [[UInt8]] = []
        var dropEvery = 0
        var corruptEvery = 0
        var framesWritten = 0
        var framesDropped = 0
        var framesCorrupted = 0
        var writeFailures = 0
        var indicationHistory: [AlarmIndication] = []
        var commandHistory: [AlarmBoxCommand] = []
        var acknowledgedEvents: [AlarmBoxEvent] = []

        /// Applies the box's outputs: frames go to the outbox (through the noise), commands and
        /// acknowledgements to the histories.
        mutating func absorb(_ outputs: [AlarmBoxDevice.Action]) {
            for output in outputs {
                switch output {
                case .write(var bytes):
                    framesWritten += 1
                    if dropEvery > 0, framesWritten % dropEvery == 0 {
                        framesDropped += 1
                        continue
                    }
                    if corruptEvery > 0, framesWritten % corruptEvery == 0 {
                        framesCorrupted += 1
                        // A bit in the middle of the frame: inside TYPE...CRC, never a flag.
                        bytes[bytes.count / 2] ^= 0x01
                    }
                    outbox.append(bytes)
                case .executed(let command):
                    commandHistory.append(command)
                    if case .indicate(let indication) = command { indicationHistory.append(indication) }
                case .acknowledged(let event):
                    acknowledgedEvents.append(event)
                case .displayChanged:
                    break
                }
            }
        }
    }

    final class Core: Sendable {
        let state: Mutex<State>
        let serial: VirtualSerialDevice
        let logger: Logger
        let configuration: AlarmBoxDevice.Configuration
        private let origin = ContinuousClock.now
        private let wakeWriter = DispatchSemaphore(value: 0)
        /// Longest wait of the reader thread, so stop() and unplug are noticed quickly.
        private static let slice: Duration = .milliseconds(50)

        init(device: VirtualSerialDevice, configuration: AlarmBoxDevice.Configuration, logger: Logger) {
            self.serial = device
            self.logger = logger
            self.configuration = configuration
            self.state = Mutex(State(box: AlarmBoxDevice(configuration: configuration, poweredOnAt: .zero)))
        }

        /// Time since the box was made, the clock of its state machine.
        func now() -> Duration { origin.duration(to: .now) }

        func start() {
            let reader = Thread { [self] in readLoop() }
            reader.name = "alarm-box reader \(serial.linkPath)"
            reader.start()
            let writer = Thread { [self] in writeLoop() }
            writer.name = "alarm-box writer \(serial.linkPath)"
            writer.start()
        }

        func stop() {
            let wasRunning = state.withLock { state -> Bool in
                let was = state.running
                state.running = false
                return was
            }
            if wasRunning { wakeWriter.signal() }
        }

        /// Runs an input on the box under the lock and hands its frames to the writer.
        func apply(_ input: (inout AlarmBoxDevice, Duration) -> [AlarmBoxDevice.Action]) {
            let now = now()
            state.withLock { state in
                state.absorb(input(&state.box, now))
            }
            wakeWriter.signal()
        }

        func restart() {
            let now = now()
            state.withLock { state in
                let old = state.box
                state.box = AlarmBoxDevice(
                    configuration: configuration, poweredOnAt: now, latched: old.latched,
                    unacknowledgedPress: old.hasUnacknowledgedPress)
                state.absorb(state.box.tick(now: now))
            }
            wakeWriter.signal()
            logger.info("virtual alarm box restarted", metadata: ["sim.link": "\(serial.linkPath)"])
        }

        private func readLoop() {
            while true {
                let (running, deadline) = state.withLock { ($0.running, $0.box.nextDeadline) }
                guard running else { return }
                var wait = Self.slice
                if let deadline {
                    wait = min(max(deadline - now(), .milliseconds(1)), Self.slice)
                }
                var bytes: [UInt8] = []
                do {
                    bytes = try serial.receive(timeout: wait)
                } catch {
                    // Unplugged: nothing to read, but time goes on (retransmissions, heartbeats).
                    let (seconds, attoseconds) = wait.components
                    Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
                }
                let now = now()
                state.withLock { state in
                    if !bytes.isEmpty {
                        state.absorb(state.box.received(bytes, now: now))
                    }
                    state.absorb(state.box.tick(now: now))
                }
                wakeWriter.signal()
            }
        }

        private func writeLoop() {
            while true {
                _ = wakeWriter.wait(timeout: .now() + .milliseconds(200))
                let (batch, running) = state.withLock { state -> ([[UInt8]], Bool) in
                    let batch = state.outbox
                    state.outbox.removeAll()
                    return (batch, state.running)
                }
                guard running else { return }
                for bytes in batch {
                    do {
                        try serial.send(bytes)
                    } catch {
                        let failures = state.withLock { state -> Int in
                            state.writeFailures += 1
                            return state.writeFailures
                        }
                        if failures == 1 || failures % 100 == 0 {
                            logger.debug(
                                "virtual alarm box could not write",
                                metadata: ["sim.link": "\(serial.linkPath)", "sim.error": "\(error)", "sim.failures": "\(failures)"])
                        }
                    }
                }
            }
        }
    }
}
