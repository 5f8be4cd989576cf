extension AlarmBoxLink {
    /// What ``AlarmBoxLink`` asks its owner to do, or tells it.
    public enum Action: Sendable, Hashable {
        /// Bytes to send on the line (frames and acknowledgements), in order.
        case write([UInt8])
        /// A new event from the box. Repetitions of a frame already accepted are suppressed.
        case event(AlarmBoxEvent)
        /// The box acknowledged the command (and carried it out).
        case commandDelivered(AlarmBoxCommand)
        /// The box did not acknowledge the command after the retries, or rejected it.
        case commandFailed(AlarmBoxCommand)
    }
}

/// The host (agent) side of the alarm box link (`Hardware/alarm-box/protocol.md`). A pure
/// state machine: it never reads, writes or sleeps; time is passed in as `Duration` offsets from
/// any fixed origin (e.g. `ContinuousClock.now - start`), and what to send comes back as
/// ``AlarmBoxLink/Action/write(_:)``.
///
/// - **From the box**: ``received(_:now:)`` decodes bytes split anywhere, acknowledges every data
///   frame and heartbeat, reports each event once (a repetition with the sequence number of the
///   last accepted frame is acknowledged again but not reported: ``AlarmBoxCounters/duplicates``).
///   A box HELLO (the box powered on) is reported as a heartbeat with its status.
/// - **To the box**: ``send(_:now:)`` queues a command; one is in flight at a time. The first
///   command after the link is made, or after a command was given up, is preceded by a host
///   HELLO, which resets the box's duplicate filter (so a restarted agent's commands are never
///   mistaken for repetitions). A frame is sent again every `retransmitAfter` until it is
///   acknowledged, `maxAttempts` transmissions in all; then the command fails. A HELLO that
///   fails fails every queued command (the box is not answering).
/// - **Box restarts**: when the box powers on again and reports an indication other than the
///   last one delivered, the link sends that indication again by itself
///   (``restoresIndicationAfterBoxRestart``); its delivery is reported like any other.
///
/// Call ``tick(now:)`` at or soon after ``nextDeadline`` (every 50 ms is fine).
///
/// ```swift
/// var link = AlarmBoxLink()
/// for output in link.received(chunk, now: clock.now - start) {
///     switch output {
///     case .write(let bytes): try port.write(bytes)
///     case .event(.pressed): alarmLatches.raise()
///     case .event(let other): record(other)
///     case .commandDelivered, .commandFailed: break
///     }
/// }
/// outputs = link.send(.indicate(.received), now: clock.now - start)
/// ```
public struct AlarmBoxLink: Sendable {
    /// How long to wait for an acknowledgement before sending a frame again.
    public let retransmitAfter: Duration
    /// Transmissions of one frame, the first included, before it is given up.
    public let maxAttempts: Int
    /// Commands that may wait behind the one in flight; further ones fail at once.
    public static let maximumQueuedCommands = 64

    /// Send the last delivered indication again when the box restarts and shows another one.
    public var restoresIndicationAfterBoxRestart = true

    /// What the link has seen and done.
    public private(set) var counters = AlarmBoxCounters()
    /// When the last valid frame from the box came (an event, heartbeat, HELLO or ACK of a
    /// command, duplicates included), for supervision.
    public private(set) var lastFrameAt: Duration?
    /// The status carried by the last frame from the box that had one.
    public private(set) var lastStatus: AlarmBoxStatus?
    /// The protocol version of the box's last HELLO.
    public private(set) var boxProtocolVersion: UInt8?
    /// When the box's last HELLO came (the box restarted), duplicates excluded.
    public private(set) var lastHelloAt: Duration?
    /// The last indication the box acknowledged.
    public private(set) var lastDeliveredIndication: AlarmIndication?

    private var decoder = AlarmBoxFrameDecoder()
    /// Frames with a good CRC whose payload could not be used (counted in `malformedFrames` with
    /// the decoder's own count).
    private var malformedPayloads = 0
    private var filter = AlarmBoxSequenceFilter()
    private var nextSequence: UInt8 = 0
    private var synchronized = false
    private var queue: [AlarmBoxCommand] = []
    private var inFlight: Outstanding?

    private struct Outstanding: Sendable {
        /// The command, or nil for the host HELLO.
        var command: AlarmBoxCommand?
        var frame: AlarmBoxFrame
        var bytes: [UInt8]
        var attempts: Int
        var deadline: Duration
    }

    /// Creates a link with nothing sent or received.
    /// - Parameters:
    ///   - retransmitAfter: wait for an acknowledgement before repeating a frame (at least 1 ms).
    ///   - maxAttempts: transmissions of one frame before giving it up (at least 1).
    public init(retransmitAfter: Duration = .milliseconds(250), maxAttempts: Int = 8) {
        self.retransmitAfter = max(retransmitAfter, .milliseconds(1))
        self.maxAttempts = max(maxAttempts, 1)
    }

    /// When ``tick(now:)`` has work to do next (a retransmission or giving a frame up); nil
    /// when nothing is in flight.
    public var nextDeadline: Duration? { inFlight?.deadline }

    /// The commands not yet delivered or failed: the one in flight first, then the queue.
    public var pendingCommands: [AlarmBoxCommand] {
        (inFlight?.command.map { [$0] } ?? []) + queue
    }

    /// True when the box has acknowledged the host HELLO since the link was made or last gave
    /// a frame up.
    public var isSynchronized: Bool { synchronized }

    // MARK: - Receiving

    /// Decodes bytes read from the line (any chunking) and acts on every complete frame:
    /// acknowledgements for the box, new events, delivered or failed commands, and the next
    /// queued command.
    public mutating func received(_ bytes: some Sequence<UInt8>, now: Duration) -> [AlarmBoxLink.Action] {
        let frames = decoder.feed(bytes)
        let decoded = decoder.counters
        counters.frames = decoded.frames
        counters.crcErrors = decoded.crcErrors
        counters.garbageBytes = decoded.garbageBytes
        counters.malformedFrames = decoded.malformedFrames + malformedPayloads
        var outputs: [AlarmBoxLink.Action] = []
        for frame in frames {
            // Only the box's own frames prove it is alive (not an echo of ours on RS-485).
            if AlarmBoxMessageType.isFromBox(frame) == true { lastFrameAt = now }
            outputs += handle(frame, now: now)
        }
        return outputs
    }

    private mutating func handle(_ frame: AlarmBoxFrame, now: Duration) -> [AlarmBoxLink.Action] {
        switch AlarmBoxMessageType.handling(ofType: frame.type) {
        case .ack:
            return handleAck(frame, now: now)
        case .boxUnreliable:
            guard frame.messageType == .heartbeat else {
                counters.unsupportedFrames += 1
                return [acknowledge(frame, .unsupportedType)]
            }
            guard let status = AlarmBoxStatus(encoded: frame.payload) else {
                malformedPayload()
                return [acknowledge(frame, .badPayload)]
            }
            lastStatus = status
            return [acknowledge(frame, .accepted), .event(.heartbeat(status))]
        case .boxData:
            return handleData(frame, now: now)
        case .hostData, .hostUnreliable, .reserved:
            counters.unsupportedFrames += 1
            return []
        }
    }

    private mutating func handleData(_ frame: AlarmBoxFrame, now: Duration) -> [AlarmBoxLink.Action] {
        let isHello = frame.messageType == .hello
        if filter.isDuplicate(sequence: frame.sequence, isHello: isHello) {
            counters.duplicates += 1
            return [acknowledge(frame, filter.lastResult)]
        }
        var outputs: [AlarmBoxLink.Action] = []
        let result: AlarmBoxAckResult
        var reported: AlarmBoxEvent?
        var restarted = false
        switch frame.messageType {
        case .hello?:
            if let version = frame.payload.first, let status = AlarmBoxStatus(encoded: frame.payload.dropFirst()) {
                result = .accepted
                boxProtocolVersion = version
                lastHelloAt = now
                lastStatus = status
                reported = .heartbeat(status)
                restarted = true
            } else {
                result = .badPayload
            }
        case let type?:
            if let status = AlarmBoxStatus(encoded: frame.payload), let event = type.event(status: status) {
                result = .accepted
                lastStatus = status
                reported = event
            } else {
                result = .badPayload
            }
        case nil:
            result = .unsupportedType
        }
        filter.accept(sequence: frame.sequence, isHello: isHello, result: result)
        switch result {
        case .accepted: break
        case .unsupportedType: counters.unsupportedFrames += 1
        case .badPayload, .unsupportedVersion: malformedPayload()
        }
        // The acknowledgement goes first, so the box stops repeating as early as possible.
        outputs.append(acknowledge(frame, result))
        if let reported { outputs.append(.event(reported)) }
        if restarted {
            counters.peerRestarts += 1
            outputs += restoreIndication(now: now)
        }
        return outputs
    }

    private mutating func handleAck(_ frame: AlarmBoxFrame, now: Duration) -> [AlarmBoxLink.Action] {
        guard let (type, result) = frame.acknowledgement else {
            malformedPayload()
            return []
        }
        guard let outstanding = inFlight, outstanding.frame.sequence == frame.sequence, outstanding.frame.type == type
        else {
            counters.unexpectedAcks += 1
            return []
        }
        inFlight = nil
        var outputs: [AlarmBoxLink.Action] = []
        if result != .accepted { counters.rejectedByPeer += 1 }
        if let command = outstanding.command {
            if result == .accepted {
                if case .indicate(let indication) = command { lastDeliveredIndication = indication }
                outputs.append(.commandDelivered(command))
            } else {
                outputs.append(.commandFailed(command))
            }
        } else {
            // Any answer to the HELLO means the box has reset its duplicate filter.
            synchronized = true
        }
        return outputs + startNext(now: now)
    }

    private func acknowledge(_ frame: AlarmBoxFrame, _ result: AlarmBoxAckResult) -> AlarmBoxLink.Action {
        .write(AlarmBoxFrame.ack(type: frame.type, sequence: frame.sequence, result: result).encoded())
    }

    private mutating func restoreIndication(now: Duration) -> [AlarmBoxLink.Action] {
        guard restoresIndicationAfterBoxRestart, let wanted = lastDeliveredIndication,
            lastStatus?.indication != wanted
        else { return [] }
        let indicationPending = pendingCommands.contains {
            if case .indicate = $0 { return true }
            return false
        }
        guard !indicationPending else { return [] }
        queue.insert(.indicate(wanted), at: 0)
        return startNext(now: now)
    }

    // MARK: - Sending

    /// Queues `command` for the box and returns what to send now (nothing when another frame is
    /// in flight). When ``maximumQueuedCommands`` are already waiting, the command fails at once.
    public mutating func send(_ command: AlarmBoxCommand, now: Duration) -> [AlarmBoxLink.Action] {
        guard queue.count < Self.maximumQueuedCommands else {
            counters.queueOverflows += 1
            return [.commandFailed(command)]
        }
        queue.append(command)
        return startNext(now: now)
    }

    /// Sends again what is due for retransmission and gives up frames that have had
    /// `maxAttempts` transmissions, reporting their commands as failed.
    public mutating func tick(now: Duration) -> [AlarmBoxLink.Action] {
        guard var outstanding = inFlight, now >= outstanding.deadline else { return [] }
        if outstanding.attempts < maxAttempts {
            outstanding.attempts += 1
            outstanding.deadline = now + retransmitAfter
            inFlight = outstanding
            counters.retransmits += 1
            return [.write(outstanding.bytes)]
        }
        // Given up. The box may or may not have the frame, so the next command starts with a HELLO.
        inFlight = nil
        synchronized = false
        var outputs: [AlarmBoxLink.Action] = []
        if let command = outstanding.command {
            outputs.append(.commandFailed(command))
        } else {
            outputs += queue.map { .commandFailed($0) }
            queue.removeAll()
        }
        return outputs + startNext(now: now)
    }

    private mutating func startNext(now: Duration) -> [AlarmBoxLink.Action] {
        guard inFlight == nil, !queue.isEmpty else { return [] }
        let command: AlarmBoxCommand?
        let frame: AlarmBoxFrame
        if synchronized {
            let next = queue.removeFirst()
            command = next
            frame = AlarmBoxFrame.command(next, sequence: nextSequence)
        } else {
            command = nil
            frame = AlarmBoxFrame.hostHello(sequence: nextSequence)
        }
        nextSequence &+= 1
        let bytes = frame.encoded()
        inFlight = Outstanding(command: command, frame: frame, bytes: bytes, attempts: 1, deadline: now + retransmitAfter)
        return [.write(bytes)]
    }

    private mutating func malformedPayload() {
        malformedPayloads += 1
        counters.malformedFrames += 1
    }
}
