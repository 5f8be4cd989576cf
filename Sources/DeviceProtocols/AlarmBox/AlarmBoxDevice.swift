extension AlarmBoxDevice {
    /// What ``AlarmBoxDevice`` asks its owner (firmware main loop, virtual twin, test) to do, or tells it.
    public enum Action: Sendable, Hashable {
        /// Bytes to send on the line, in order.
        case write([UInt8])
        /// A new command from the host was carried out (repetitions are acknowledged, not repeated).
        case executed(AlarmBoxCommand)
        /// The LED/buzzer now show this pattern (``AlarmBoxDevice/displayedIndication``).
        case displayChanged(AlarmIndication)
        /// The host acknowledged this event: it will not be sent again.
        case acknowledged(AlarmBoxEvent)
    }
}

/// The box side of the alarm box link (`Hardware/alarm-box/protocol.md`): what the firmware of
/// a real box does, as a pure state machine. The virtual twin runs it, and tests wire it to an
/// ``AlarmBoxLink`` through a lossy channel.
///
/// - Inputs (``press(now:)``, ``keySwitchReset(now:)``, ``setTamper(open:now:)``, ...) update the
///   box's state and queue an event frame carrying the STATUS after the change. A press latches
///   the alarm and shows `stored` at once.
/// - One data frame is in flight at a time. It is sent again every `retransmitAfter` for the
///   first `fastAttempts` transmissions, then every `slowRetransmitAfter`, **forever**, until the
///   host acknowledges it: a press is never given up. Once the fast attempts are used up the box
///   shows ``AlarmIndication/fault`` (link fault) until any valid frame comes from the host.
/// - At power-on the box sends a HELLO before anything else (and, when the latch survived in
///   non-volatile memory with a press the host never acknowledged, that press again).
/// - A heartbeat with the STATUS goes out every `heartbeatInterval`; it is acknowledged but
///   never repeated. No valid frame from the host for `hostSilenceLimit` is a link fault too.
/// - Host commands are acknowledged and carried out once; a repetition (same sequence number as
///   the last accepted command) is acknowledged with the same result and ignored.
///
/// Time is passed in as `Duration` offsets from any fixed origin; call ``tick(now:)`` at or soon
/// after ``nextDeadline``.
///
/// ```swift
/// var box = AlarmBoxDevice(poweredOnAt: .zero)
/// write(box.tick(now: .zero))                          // the HELLO
/// write(box.press(now: .seconds(3)))                   // PRESSED, shows `stored`
/// write(box.received(bytesFromHost, now: .seconds(3) + .milliseconds(2)))
/// ```
public struct AlarmBoxDevice: Sendable {
    /// Timing and identity of a box.
    public struct Configuration: Sendable, Hashable {
        /// Wait for an acknowledgement during the fast attempts.
        public var retransmitAfter: Duration
        /// Transmissions at the fast period before the box shows a link fault and slows down.
        public var fastAttempts: Int
        /// Wait for an acknowledgement after the fast attempts (forever).
        public var slowRetransmitAfter: Duration
        /// The heartbeat period (sent as whole seconds, 1...255).
        public var heartbeatInterval: Duration
        /// No valid frame from the host for this long (while heartbeats run) is a link fault.
        public var hostSilenceLimit: Duration
        /// The firmware version reported in every STATUS.
        public var firmwareVersion: AlarmBoxFirmwareVersion
        /// Events that may wait behind the one in flight (see ``AlarmBoxDevice`` for what is dropped when full).
        public var eventQueueCapacity: Int

        /// The values of the protocol document: 250 ms × 8, then every 1 s; heartbeat 10 s;
        /// host silence 30 s; 32 queued events.
        public init(
            retransmitAfter: Duration = .milliseconds(250), fastAttempts: Int = 8, slowRetransmitAfter: Duration = .seconds(1),
            heartbeatInterval: Duration = .seconds(10), hostSilenceLimit: Duration = .seconds(30),
            firmwareVersion: AlarmBoxFirmwareVersion = AlarmBoxFirmwareVersion(major: 1, minor: 0),
            eventQueueCapacity: Int = 32
        ) {
            self.retransmitAfter = max(retransmitAfter, .milliseconds(1))
            self.fastAttempts = max(fastAttempts, 1)
            self.slowRetransmitAfter = max(slowRetransmitAfter, .milliseconds(1))
            self.heartbeatInterval = max(heartbeatInterval, .milliseconds(1))
            self.hostSilenceLimit = max(hostSilenceLimit, .milliseconds(1))
            self.firmwareVersion = firmwareVersion
            self.eventQueueCapacity = max(eventQueueCapacity, 1)
        }
    }

    /// The configuration the box runs with.
    public let configuration: Configuration
    /// The instant the box powered on (uptime is measured from it).
    public let poweredOnAt: Duration
    /// What the box has seen and done.
    public private(set) var counters = AlarmBoxCounters()
    /// Heartbeats the host has acknowledged (it does so before acting on each).
    public private(set) var heartbeatsAcknowledged = 0

    /// The indication the host last commanded, or the box chose itself (`stored` on a press,
    /// `idle` on a reset).
    public private(set) var indication: AlarmIndication
    /// The box considers the host unreachable.
    public private(set) var linkFault = false
    /// The button is held down.
    public private(set) var buttonDown = false
    /// An alarm is latched.
    public private(set) var latched: Bool
    /// The tamper switch is open.
    public private(set) var tamperOpen = false
    /// Mains power is lost.
    public private(set) var onBattery = false
    /// The battery is low.
    public private(set) var lowBattery = false
    /// Heartbeats are being sent.
    public private(set) var heartbeatsEnabled = true

    private var decoder = AlarmBoxFrameDecoder()
    /// Frames with a good CRC whose payload could not be used (counted in `malformedFrames` with
    /// the decoder's own count).
    private var malformedPayloads = 0
    private var filter = AlarmBoxSequenceFilter()
    private var nextSequence: UInt8 = 0
    private var heartbeatSequence: UInt8 = 0
    private var nextHeartbeatAt: Duration
    private var lastHostFrameAt: Duration
    private var queue: [Pending] = []
    private var inFlight: Outstanding?

    private struct Pending: Sendable {
        var type: AlarmBoxMessageType
        var payload: [UInt8]
        /// nil for the HELLO.
        var event: AlarmBoxEvent?
    }

    private struct Outstanding: Sendable {
        var pending: Pending
        var sequence: UInt8
        var bytes: [UInt8]
        var attempts: Int
        var deadline: Duration
    }

    /// Powers the box on at `poweredOnAt`: the HELLO is due at once (``tick(now:)``).
    /// - Parameters:
    ///   - latched: the latch as kept in non-volatile memory; a latched box shows `stored`.
    ///   - unacknowledgedPress: non-volatile memory says a press was never acknowledged: it is
    ///     sent again after the HELLO.
    public init(
        configuration: Configuration = Configuration(), poweredOnAt: Duration, latched: Bool = false,
        unacknowledgedPress: Bool = false
    ) {
        self.configuration = configuration
        self.poweredOnAt = poweredOnAt
        self.latched = latched || unacknowledgedPress
        self.indication = self.latched ? .stored : .idle
        self.nextHeartbeatAt = poweredOnAt + configuration.heartbeatInterval
        self.lastHostFrameAt = poweredOnAt
        queue.append(
            Pending(
                type: .hello, payload: [AlarmBoxMessageType.protocolVersion] + status(at: poweredOnAt).encoded, event: nil))
        if unacknowledgedPress {
            queue.append(Pending(type: .pressed, payload: status(at: poweredOnAt).encoded, event: .pressed))
        }
    }

    /// What the LED and buzzer show: ``indication``, or `fault` during a link fault.
    public var displayedIndication: AlarmIndication { linkFault ? .fault : indication }

    /// The STATUS block the box would send at `now`.
    public func status(at now: Duration) -> AlarmBoxStatus {
        let uptime = max(now - poweredOnAt, .zero).components.seconds
        let heartbeat = configuration.heartbeatInterval.components
        let heartbeatSeconds = heartbeat.seconds + (heartbeat.attoseconds >= 500_000_000_000_000_000 ? 1 : 0)
        return AlarmBoxStatus(
            buttonDown: buttonDown, latched: latched, tamper: tamperOpen, onBattery: onBattery, lowBattery: lowBattery,
            linkFault: linkFault, indication: indication, firmwareVersion: configuration.firmwareVersion,
            heartbeatIntervalSeconds: Int(min(max(heartbeatSeconds, 1), 255)),
            uptimeSeconds: UInt32(clamping: uptime))
    }

    /// The events not yet acknowledged by the host, the one in flight first (the HELLO is not listed).
    public var unacknowledgedEvents: [AlarmBoxEvent] {
        ([inFlight?.pending.event].compactMap { $0 }) + queue.compactMap(\.event)
    }

    /// A press waits for the host's acknowledgement (what firmware keeps in non-volatile memory).
    public var hasUnacknowledgedPress: Bool { unacknowledgedEvents.contains(.pressed) }

    /// The host has acknowledged the HELLO of this power-on.
    public var isHelloAcknowledged: Bool {
        inFlight?.pending.type != .hello && !queue.contains { $0.type == .hello }
    }

    /// When ``tick(now:)`` has work next: the HELLO after power-on, a retransmission, a heartbeat,
    /// or the host-silence limit.
    public var nextDeadline: Duration? {
        var candidates: [Duration] = []
        if let inFlight { candidates.append(inFlight.deadline) } else if !queue.isEmpty { candidates.append(poweredOnAt) }
        if heartbeatsEnabled {
            candidates.append(nextHeartbeatAt)
            if !linkFault { candidates.append(lastHostFrameAt + configuration.hostSilenceLimit) }
        }
        return candidates.min()
    }

    // MARK: - Inputs

    /// The button was pressed (debounced and held for the minimum press time): the alarm latches,
    /// the box shows `stored` (unless it already shows a later stage of a latched alarm) and
    /// queues PRESSED. Every press is reported, also while latched.
    public mutating func press(now: Duration) -> [AlarmBoxDevice.Action] {
        changing(now: now) { box in
            box.buttonDown = true
            if !box.latched {
                box.latched = true
                box.indication = .stored
            }
            box.enqueue(.pressed, now: now)
        }
    }

    /// The button was released; reported only when it was down.
    public mutating func release(now: Duration) -> [AlarmBoxDevice.Action] {
        changing(now: now) { box in
            guard box.buttonDown else { return }
            box.buttonDown = false
            box.enqueue(.released, now: now)
        }
    }

    /// The key switch was turned: the latch clears, the box shows `idle`, KEY_RESET is queued.
    public mutating func keySwitchReset(now: Duration) -> [AlarmBoxDevice.Action] {
        changing(now: now) { box in
            box.latched = false
            box.indication = .idle
            box.enqueue(.keySwitchReset, now: now)
        }
    }

    /// The tamper switch changed; reported only on a change.
    public mutating func setTamper(open: Bool, now: Duration) -> [AlarmBoxDevice.Action] {
        changing(now: now) { box in
            guard box.tamperOpen != open else { return }
            box.tamperOpen = open
            box.enqueue(open ? .tamperOpened : .tamperClosed, now: now)
        }
    }

    /// The battery monitor changed; reported only on a change.
    public mutating func setLowBattery(_ low: Bool, now: Duration) -> [AlarmBoxDevice.Action] {
        changing(now: now) { box in
            guard box.lowBattery != low else { return }
            box.lowBattery = low
            box.enqueue(low ? .lowBattery : .batteryOK, now: now)
        }
    }

    /// The mains monitor changed (`true`: mains lost, running on battery); reported only on a change.
    public mutating func setOnBattery(_ onBattery: Bool, now: Duration) -> [AlarmBoxDevice.Action] {
        changing(now: now) { box in
            guard box.onBattery != onBattery else { return }
            box.onBattery = onBattery
            box.enqueue(onBattery ? .powerLost : .powerRestored, now: now)
        }
    }

    /// Sends a heartbeat now (also the answer to a status request); the next periodic one
    /// follows a full interval later.
    public mutating func sendHeartbeat(now: Duration) -> [AlarmBoxDevice.Action] {
        heartbeatSequence &+= 1
        nextHeartbeatAt = now + configuration.heartbeatInterval
        let frame = AlarmBoxFrame.event(.heartbeat(status(at: now)), sequence: heartbeatSequence, status: status(at: now))
        return [.write(frame.encoded())]
    }

    /// Stops the periodic heartbeats (a box whose heartbeat timer died; for supervision tests).
    public mutating func stopHeartbeats() {
        heartbeatsEnabled = false
    }

    /// Resumes the periodic heartbeats, the next one a full interval after `now`.
    public mutating func resumeHeartbeats(now: Duration) {
        heartbeatsEnabled = true
        nextHeartbeatAt = now + configuration.heartbeatInterval
        lastHostFrameAt = max(lastHostFrameAt, now)
    }

    // MARK: - The line

    /// Decodes bytes from the host (any chunking): acknowledgements, commands, HELLO.
    public mutating func received(_ bytes: some Sequence<UInt8>, now: Duration) -> [AlarmBoxDevice.Action] {
        let frames = decoder.feed(bytes)
        let decoded = decoder.counters
        counters.frames = decoded.frames
        counters.crcErrors = decoded.crcErrors
        counters.garbageBytes = decoded.garbageBytes
        counters.malformedFrames = decoded.malformedFrames + malformedPayloads
        return tracking(now: now) { box in
            var outputs: [AlarmBoxDevice.Action] = []
            for frame in frames {
                // Only the host's frames prove it is alive (not an echo of ours on RS-485).
                if AlarmBoxMessageType.isFromBox(frame) == false {
                    box.lastHostFrameAt = now
                    box.linkFault = false
                }
                outputs += box.handle(frame, now: now)
            }
            return outputs
        }
    }

    /// Sends what is due: the HELLO after power-on, retransmissions, the heartbeat; raises the
    /// link fault when the fast attempts are used up or the host has been silent too long.
    public mutating func tick(now: Duration) -> [AlarmBoxDevice.Action] {
        tracking(now: now) { box in
            var outputs: [AlarmBoxDevice.Action] = []
            if box.heartbeatsEnabled, now >= box.nextHeartbeatAt {
                outputs += box.sendHeartbeat(now: now)
            }
            if var outstanding = box.inFlight, now >= outstanding.deadline {
                if outstanding.attempts >= box.configuration.fastAttempts {
                    box.linkFault = true
                }
                outstanding.attempts += 1
                outstanding.deadline = now + box.retransmitDelay(afterAttempt: outstanding.attempts)
                box.inFlight = outstanding
                box.counters.retransmits += 1
                outputs.append(.write(outstanding.bytes))
            }
            if box.heartbeatsEnabled, now - box.lastHostFrameAt >= box.configuration.hostSilenceLimit {
                box.linkFault = true
            }
            return outputs
        }
    }

    // MARK: - Internals

    /// Runs `body`, then starts the next queued frame if the line is free and reports a change
    /// of the displayed pattern.
    private mutating func tracking(
        now: Duration, _ body: (inout AlarmBoxDevice) -> [AlarmBoxDevice.Action]
    ) -> [AlarmBoxDevice.Action] {
        let shown = displayedIndication
        var outputs = body(&self)
        outputs += startNext(now: now)
        if displayedIndication != shown {
            outputs.append(.displayChanged(displayedIndication))
        }
        return outputs
    }

    private mutating func changing(now: Duration, _ body: (inout AlarmBoxDevice) -> Void) -> [AlarmBoxDevice.Action] {
        tracking(now: now) { (box: inout AlarmBoxDevice) -> [AlarmBoxDevice.Action] in
            body(&box)
            return []
        }
    }

    private func retransmitDelay(afterAttempt attempt: Int) -> Duration {
        attempt <= configuration.fastAttempts ? configuration.retransmitAfter : configuration.slowRetransmitAfter
    }

    /// Queues an event with the status after the change. When the queue is full, the oldest
    /// waiting event that is neither a press nor a key-switch reset is dropped; if there is none,
    /// the new event is dropped (the queue then holds only presses and resets, which already
    /// carry the alarm state; every heartbeat repeats it).
    private mutating func enqueue(_ event: AlarmBoxEvent, now: Duration) {
        let pending = Pending(type: AlarmBoxMessageType(event: event), payload: status(at: now).encoded, event: event)
        if queue.count >= configuration.eventQueueCapacity {
            counters.queueOverflows += 1
            if let index = queue.firstIndex(where: { Self.isDroppable($0) }) {
                queue.remove(at: index)
            } else {
                return
            }
        }
        queue.append(pending)
    }

    private static func isDroppable(_ pending: Pending) -> Bool {
        switch pending.event {
        case nil, .pressed?, .keySwitchReset?: false
        default: true
        }
    }

    private mutating func startNext(now: Duration) -> [AlarmBoxDevice.Action] {
        guard inFlight == nil, !queue.isEmpty else { return [] }
        let pending = queue.removeFirst()
        let sequence = nextSequence
        nextSequence &+= 1
        let bytes = AlarmBoxFrame(type: pending.type.rawValue, sequence: sequence, payload: pending.payload).encoded()
        inFlight = Outstanding(
            pending: pending, sequence: sequence, bytes: bytes, attempts: 1, deadline: now + retransmitDelay(afterAttempt: 1))
        return [.write(bytes)]
    }

    private mutating func handle(_ frame: AlarmBoxFrame, now: Duration) -> [AlarmBoxDevice.Action] {
        switch AlarmBoxMessageType.handling(ofType: frame.type) {
        case .ack:
            return handleAck(frame)
        case .hostData:
            return handleCommand(frame, now: now)
        case .hostUnreliable:
            counters.unsupportedFrames += 1
            return [acknowledge(frame, .unsupportedType)]
        case .boxData, .boxUnreliable, .reserved:
            counters.unsupportedFrames += 1
            return []
        }
    }

    private mutating func handleAck(_ frame: AlarmBoxFrame) -> [AlarmBoxDevice.Action] {
        guard let (type, result) = frame.acknowledgement else {
            malformedPayload()
            return []
        }
        if let outstanding = inFlight, outstanding.sequence == frame.sequence, outstanding.pending.type.rawValue == type {
            inFlight = nil
            if result != .accepted { counters.rejectedByPeer += 1 }
            return outstanding.pending.event.map { [.acknowledged($0)] } ?? []
        }
        if type == AlarmBoxMessageType.heartbeat.rawValue {
            heartbeatsAcknowledged += 1
        } else {
            counters.unexpectedAcks += 1
        }
        return []
    }

    private mutating func handleCommand(_ frame: AlarmBoxFrame, now: Duration) -> [AlarmBoxDevice.Action] {
        let isHello = frame.messageType == .hostHello
        if filter.isDuplicate(sequence: frame.sequence, isHello: isHello) {
            counters.duplicates += 1
            return [acknowledge(frame, filter.lastResult)]
        }
        let result: AlarmBoxAckResult
        var executed: AlarmBoxCommand?
        switch frame.messageType {
        case .hostHello?:
            switch frame.payload.first {
            case AlarmBoxMessageType.protocolVersion?:
                result = .accepted
                counters.peerRestarts += 1
            case nil: result = .badPayload
            default: result = .unsupportedVersion
            }
        case .indicate?, .resetLatch?, .requestStatus?:
            if let command = frame.command {
                result = .accepted
                executed = command
            } else {
                result = .badPayload
            }
        default:
            result = .unsupportedType
        }
        filter.accept(sequence: frame.sequence, isHello: isHello, result: result)
        switch result {
        case .accepted: break
        case .unsupportedType: counters.unsupportedFrames += 1
        case .badPayload, .unsupportedVersion: malformedPayload()
        }
        var outputs = [acknowledge(frame, result)]
        if let executed {
            switch executed {
            case .indicate(let shown):
                indication = shown
            case .resetLatch:
                latched = false
                indication = .idle
            case .requestStatus:
                outputs += sendHeartbeat(now: now)
            }
            outputs.append(.executed(executed))
        }
        return outputs
    }

    private func acknowledge(_ frame: AlarmBoxFrame, _ result: AlarmBoxAckResult) -> AlarmBoxDevice.Action {
        .write(AlarmBoxFrame.ack(type: frame.type, sequence: frame.sequence, result: result).encoded())
    }

    private mutating func malformedPayload() {
        malformedPayloads += 1
        counters.malformedFrames += 1
    }
}
