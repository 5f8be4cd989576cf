import Foundation
import SeededRandom

/// How a transmitter reaches its alarm receiving centre. Values are checked by the initializer
/// and cannot be changed afterwards.
public struct DC09TransmitterConfiguration: Sendable, Hashable {
    public internal(set) var account: DC09Account
    public internal(set) var receiver: DC09ReceiverNumber?
    public internal(set) var prefix: DC09LinePrefix
    public internal(set) var format: DC09Format
    /// When set, every message is encrypted (AES-CBC) with it.
    public internal(set) var key: DC09Key?
    /// How long to wait for ACK/NAK/DUH after writing a frame (1...60 s).
    public internal(set) var responseTimeout: Duration
    /// How long to wait after a failed attempt before the next one (5...60 s).
    public internal(set) var retryInterval: Duration
    /// How often to send a `NULL` link test while idle; nil sends none.
    public internal(set) var linkTestInterval: Duration?
    /// How many NAKs in a row are answered by resending at once (with the corrected clock)
    /// before waiting ``retryInterval``.
    public internal(set) var immediateResendsAfterNAK: Int
    /// A message framed this much later than its event occurred carries the event time in an
    /// `[H...]` extended field.
    public internal(set) var originalTimeThreshold: Duration

    public init(
        account: DC09Account, receiver: DC09ReceiverNumber? = nil, prefix: DC09LinePrefix = .zero, format: DC09Format = .siaDCS,
        key: DC09Key? = nil, responseTimeout: Duration = .seconds(10), retryInterval: Duration = .seconds(10),
        linkTestInterval: Duration? = .seconds(60), immediateResendsAfterNAK: Int = 2, originalTimeThreshold: Duration = .seconds(2)
    ) throws(DC09Error) {
        guard responseTimeout >= .seconds(1), responseTimeout <= .seconds(60) else {
            throw DC09Error(.invalidField, "DC-09 response timeout \(responseTimeout) is outside 1...60 s")
        }
        guard retryInterval >= .seconds(5), retryInterval <= .seconds(60) else {
            throw DC09Error(.invalidField, "DC-09 retry interval \(retryInterval) is outside 5...60 s")
        }
        if let linkTestInterval, linkTestInterval < .seconds(10) {
            throw DC09Error(.invalidField, "DC-09 link test interval \(linkTestInterval) is shorter than 10 s")
        }
        guard (0...10).contains(immediateResendsAfterNAK) else {
            throw DC09Error(.invalidField, "immediate resends after NAK \(immediateResendsAfterNAK) is outside 0...10")
        }
        self.account = account
        self.receiver = receiver
        self.prefix = prefix
        self.format = format
        self.key = key
        self.responseTimeout = responseTimeout
        self.retryInterval = retryInterval
        self.linkTestInterval = linkTestInterval
        self.immediateResendsAfterNAK = immediateResendsAfterNAK
        self.originalTimeThreshold = originalTimeThreshold
    }
}

/// The DC-09 transmitter as a state machine: it decides, it does no I/O and reads no clock.
///
/// Feed it what happens (``submit(_:id:now:)``, ``received(_:now:)``,
/// ``transportFailed(_:now:)``, ``timerFired(_:now:)``) and carry out the ``Action``s it
/// returns, in order. One message is in flight at a time; others queue behind it in order.
///
/// - ACK (matching sequence, receiver, prefix and account) → ``Action/delivered(id:sequence:attempts:)``.
/// - NAK with the receiver's time → the clock offset is corrected and the same event is sent
///   again at once: a new frame (new timestamp) with the same sequence number.
/// - DUH → ``Action/refused(id:sequence:reason:)``, never repeated.
/// - No answer within the response timeout, or a transport failure → the next attempt after the
///   retry interval, again with the same sequence number, until it is delivered or refused.
/// - Idle for the link test interval → a `NULL` message.
public struct DC09Transmitter: Sendable {
    /// A timer the driver runs for the state machine. Timers that were replaced or cancelled are
    /// recognised by their id and ignored if they fire anyway.
    public struct Timer: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable, Hashable {
            /// Waiting for the answer to a written frame.
            case response
            /// Waiting to retry after a failed attempt.
            case retry
            /// Waiting for the next link test.
            case linkTest
        }
        public let kind: Kind
        public let id: UInt64
        public var description: String { "\(kind.rawValue)#\(id)" }
    }

    /// What the driver must do.
    public enum Action: Sendable, Hashable {
        /// Write `frame` to the receiver (opening a connection if needed) and pass the answer to
        /// ``received(_:now:)``. `attempt` counts from 1 for this message.
        case write(frame: [UInt8], message: DC09Message, attempt: Int)
        /// Start `timer`; call ``timerFired(_:now:)`` when it expires.
        case schedule(Timer, after: Duration)
        /// `timer` is no longer needed.
        case cancel(Timer)
        /// Close the connection: the attempt on it is abandoned.
        case closeConnection
        /// The receiver acknowledged the event submitted with `id`.
        case delivered(id: String, sequence: DC09Sequence, attempts: Int)
        /// The receiver answered DUH: it will not take this event; it is not repeated.
        case refused(id: String, sequence: DC09Sequence, reason: String)
        /// An attempt failed; the next one follows after `retryIn`.
        case attemptFailed(id: String?, sequence: DC09Sequence, reason: String, retryIn: Duration)
        /// A NULL link test was acknowledged.
        case linkTestPassed(sequence: DC09Sequence)
        /// A NULL link test was not acknowledged; the next follows after `nextIn`.
        case linkTestFailed(sequence: DC09Sequence, reason: String, nextIn: Duration)
        /// A NAK carried the receiver's time; timestamps from now on are shifted by `offsetSeconds`.
        case clockCorrected(offsetSeconds: Int)
        /// A frame arrived that does not answer the message in flight; it was not counted.
        case ignoredResponse(reason: String)
        /// A response that answers the message in flight but departs from the standard (a
        /// non-canonical receiver field, another line prefix): counted as the answer; log it.
        case toleratedResponse(note: String)
        /// The sequence number could not be saved; sending goes on.
        case sequenceStoreFailed(DC09Error)
    }

    private struct Pending: Sendable {
        var id: String
        var event: DC09Event
    }

    private enum Phase: Sendable {
        /// Chosen, numbered, not yet written.
        case unsent
        case awaitingResponse(Timer)
        case waitingToRetry(Timer)
    }

    private struct InFlight: Sendable {
        /// nil for a link test.
        var pending: Pending?
        var sequence: DC09Sequence
        var message: DC09Message
        var attempts: Int
        var consecutiveNAKs: Int
        var phase: Phase
    }

    public let configuration: DC09TransmitterConfiguration
    private var counter: DC09SequenceCounter
    private var queue: [Pending] = []
    private var queueHead = 0
    private var inFlight: InFlight?
    private var linkTestTimer: Timer?
    private var lastLinkTestFailed = false
    private var nextTimerID: UInt64 = 1
    private var generator: PadGenerator

    /// Seconds added to the local clock for message timestamps (set by NAKs).
    public private(set) var clockOffsetSeconds: Int = 0

    /// - Parameters:
    ///   - sequenceStore: where the last sequence number survives restarts.
    ///   - padSeed: seeds the pad characters of encrypted frames (tests pass a fixed seed to get
    ///     reproducible frames); nil takes a random seed.
    public init(configuration: DC09TransmitterConfiguration, sequenceStore: any DC09SequenceStore, padSeed: UInt64? = nil) throws(DC09Error) {
        self.configuration = configuration
        self.counter = try DC09SequenceCounter(store: sequenceStore)
        self.generator = PadGenerator(seed: padSeed ?? UInt64.random(in: 1...UInt64.max))
    }

    /// Events submitted and not yet delivered or refused, the one in flight included.
    public var outstandingCount: Int { queue.count - queueHead + (inFlight?.pending == nil ? 0 : 1) }

    /// The last sequence number used.
    public var lastSequence: DC09Sequence? { counter.last }

    /// Call once when the driver starts: schedules the first link test.
    public mutating func start(now: Date) -> [Action] {
        var actions: [Action] = []
        scheduleLinkTestIfIdle(&actions)
        return actions
    }

    /// Queues an event; it goes out at once when nothing is in flight.
    public mutating func submit(_ event: DC09Event, id: String, now: Date) -> [Action] {
        queue.append(Pending(id: id, event: event))
        guard inFlight == nil else { return [] }
        var actions: [Action] = []
        startNext(now: now, &actions)
        return actions
    }

    /// A frame arrived from the receiver.
    public mutating func received(_ frame: [UInt8], now: Date) -> [Action] {
        let response: DC09Response
        do {
            response = try DC09Response.parse(frame, key: configuration.key)
        } catch {
            return [.ignoredResponse(reason: "unreadable response: \(error.message)")]
        }
        guard var current = inFlight else {
            return [.ignoredResponse(reason: "\(response) arrived while nothing was in flight")]
        }
        if case .waitingToRetry = current.phase, case .nak = response {
            return [.ignoredResponse(reason: "late NAK after the attempt was abandoned")]
        }
        if let mismatch = response.mismatch(with: current.message) {
            return [.ignoredResponse(reason: "\(response) does not answer \(current.message): \(mismatch)")]
        }
        var actions: [Action] = []
        if let oddity = response.oddities(with: current.message) {
            actions.append(.toleratedResponse(note: "\(response) answers \(current.message) although its \(oddity)"))
        }
        switch current.phase {
        case .awaitingResponse(let timer), .waitingToRetry(let timer):
            actions.append(.cancel(timer))
        case .unsent:
            break
        }
        switch response {
        case .ack:
            inFlight = nil
            if let pending = current.pending {
                actions.append(.delivered(id: pending.id, sequence: current.sequence, attempts: current.attempts))
            } else {
                lastLinkTestFailed = false
                actions.append(.linkTestPassed(sequence: current.sequence))
            }
            startNext(now: now, &actions)
        case .duh:
            inFlight = nil
            if let pending = current.pending {
                actions.append(.refused(id: pending.id, sequence: current.sequence, reason: "the receiver answered DUH (cannot process this message)"))
            } else {
                lastLinkTestFailed = true
                actions.append(.linkTestFailed(sequence: current.sequence, reason: "the receiver answered DUH", nextIn: configuration.retryInterval))
            }
            startNext(now: now, &actions)
        case .nak(let receiverTime):
            if let receiverTime {
                let offset = Int(receiverTime.secondsSince1970 - Int64(now.timeIntervalSince1970.rounded(.down)))
                if offset != clockOffsetSeconds {
                    clockOffsetSeconds = offset
                    actions.append(.clockCorrected(offsetSeconds: offset))
                }
            }
            current.consecutiveNAKs += 1
            if current.consecutiveNAKs <= configuration.immediateResendsAfterNAK {
                inFlight = current
                transmit(now: now, &actions)
            } else {
                current.consecutiveNAKs = 0
                let timer = makeTimer(.retry)
                current.phase = .waitingToRetry(timer)
                inFlight = current
                failed(current, reason: "NAK \(configuration.immediateResendsAfterNAK + 1) times in a row: the receiver rejects the message (a wrong key, or a timestamp it will not accept)", &actions)
                actions.append(.schedule(timer, after: configuration.retryInterval))
            }
        }
        return actions
    }

    /// The connection failed (could not connect, reset, closed before an answer).
    public mutating func transportFailed(_ reason: String, now: Date) -> [Action] {
        guard var current = inFlight, case .awaitingResponse(let responseTimer) = current.phase else { return [] }
        var actions: [Action] = [.cancel(responseTimer)]
        abandonAttempt(&current, reason: reason, now: now, &actions)
        return actions
    }

    /// A timer the driver scheduled expired.
    public mutating func timerFired(_ timer: Timer, now: Date) -> [Action] {
        var actions: [Action] = []
        switch timer.kind {
        case .response:
            guard var current = inFlight, case .awaitingResponse(let expected) = current.phase, expected == timer else { return [] }
            actions.append(.closeConnection)
            abandonAttempt(&current, reason: "no answer within \(configuration.responseTimeout)", now: now, &actions)
        case .retry:
            guard let current = inFlight, case .waitingToRetry(let expected) = current.phase, expected == timer else { return [] }
            transmit(now: now, &actions)
        case .linkTest:
            guard linkTestTimer == timer else { return [] }
            linkTestTimer = nil
            guard inFlight == nil, queueHead == queue.count else { return [] }
            let (sequence, saveError) = counter.next()
            if let saveError { actions.append(.sequenceStoreFailed(saveError)) }
            inFlight = InFlight(
                pending: nil, sequence: sequence, message: unsentMessage(sequence), attempts: 0, consecutiveNAKs: 0, phase: .unsent)
            transmit(now: now, &actions)
        }
        return actions
    }

    // MARK: - Internals

    private mutating func abandonAttempt(_ current: inout InFlight, reason: String, now: Date, _ actions: inout [Action]) {
        if current.pending == nil {
            inFlight = nil
            lastLinkTestFailed = true
            actions.append(.linkTestFailed(sequence: current.sequence, reason: reason, nextIn: configuration.retryInterval))
            startNext(now: now, &actions)
            return
        }
        current.consecutiveNAKs = 0
        let timer = makeTimer(.retry)
        current.phase = .waitingToRetry(timer)
        inFlight = current
        failed(current, reason: reason, &actions)
        actions.append(.schedule(timer, after: configuration.retryInterval))
    }

    private func failed(_ current: InFlight, reason: String, _ actions: inout [Action]) {
        actions.append(.attemptFailed(id: current.pending?.id, sequence: current.sequence, reason: reason, retryIn: configuration.retryInterval))
    }

    private mutating func startNext(now: Date, _ actions: inout [Action]) {
        guard inFlight == nil else { return }
        guard queueHead < queue.count else {
            scheduleLinkTestIfIdle(&actions)
            return
        }
        let pending = queue[queueHead]
        queueHead += 1
        if queueHead > 64, queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        if let timer = linkTestTimer {
            actions.append(.cancel(timer))
            linkTestTimer = nil
        }
        let (sequence, saveError) = counter.next()
        if let saveError { actions.append(.sequenceStoreFailed(saveError)) }
        inFlight = InFlight(
            pending: pending, sequence: sequence, message: unsentMessage(sequence), attempts: 0, consecutiveNAKs: 0, phase: .unsent)
        transmit(now: now, &actions)
    }

    private mutating func scheduleLinkTestIfIdle(_ actions: inout [Action]) {
        guard let interval = configuration.linkTestInterval, inFlight == nil, queueHead == queue.count, linkTestTimer == nil else { return }
        let timer = makeTimer(.linkTest)
        linkTestTimer = timer
        actions.append(.schedule(timer, after: lastLinkTestFailed ? min(interval, configuration.retryInterval) : interval))
    }

    /// Frames the in-flight message anew (fresh timestamp, same sequence) and writes it.
    private mutating func transmit(now: Date, _ actions: inout [Action]) {
        guard var current = inFlight else { return }
        let message = frameMessage(for: current, now: now)
        let frame: [UInt8]
        do {
            frame = try DC09Frame.encode(message, key: configuration.key, generator: &generator)
        } catch {
            inFlight = nil
            if let pending = current.pending {
                actions.append(.refused(id: pending.id, sequence: current.sequence, reason: "cannot build the frame: \(error.message)"))
            } else {
                actions.append(.linkTestFailed(sequence: current.sequence, reason: "cannot build the frame: \(error.message)", nextIn: configuration.retryInterval))
            }
            startNext(now: now, &actions)
            return
        }
        current.attempts += 1
        current.message = message
        let timer = makeTimer(.response)
        current.phase = .awaitingResponse(timer)
        inFlight = current
        actions.append(.write(frame: frame, message: message, attempt: current.attempts))
        actions.append(.schedule(timer, after: configuration.responseTimeout))
    }

    private func frameMessage(for current: InFlight, now: Date) -> DC09Message {
        let offset = TimeInterval(clockOffsetSeconds)
        var message = DC09Message(
            token: .null, isEncrypted: configuration.key != nil, sequence: current.sequence, receiver: configuration.receiver,
            prefix: configuration.prefix, account: configuration.account, timestamp: DC09Timestamp(now.addingTimeInterval(offset)))
        if let event = current.pending?.event {
            message.token = configuration.format.token
            message.data = event.data(format: configuration.format, account: configuration.account)
            if let occurredAt = event.occurredAt {
                let late = now.timeIntervalSince(occurredAt)
                let threshold = Double(configuration.originalTimeThreshold.components.seconds)
                    + Double(configuration.originalTimeThreshold.components.attoseconds) / 1e18
                if late >= threshold {
                    message.extended = [.originalTime(DC09Timestamp(occurredAt.addingTimeInterval(offset)))]
                }
            }
        }
        return message
    }

    /// What ``InFlight/message`` holds until the first frame is built.
    private func unsentMessage(_ sequence: DC09Sequence) -> DC09Message {
        DC09Message(token: .null, sequence: sequence, prefix: configuration.prefix, account: configuration.account, timestamp: nil)
    }

    private mutating func makeTimer(_ kind: Timer.Kind) -> Timer {
        defer { nextTimerID += 1 }
        return Timer(kind: kind, id: nextTimerID)
    }
}

/// The generator of pad characters: they need to vary, not to be secret (the key protects the
/// message).
typealias PadGenerator = SplitMix64
