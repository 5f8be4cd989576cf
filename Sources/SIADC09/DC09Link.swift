import Foundation
import Logging

/// A DC-09 link to one receiver: drives a ``DC09Transmitter`` with real time and
/// ``DC09Connection``s (one TCP connection per attempt).
///
/// ``run()`` must be running (in the owner's task group or service) for anything to be sent;
/// ``deliver(_:id:)`` then suspends until the receiver acknowledged (or refused) the event,
/// retrying for as long as it takes. Events are sent one at a time, in the order submitted.
///
/// ```swift
/// let link = try DC09Link(configuration: configuration, host: "arc.example", port: 9000,
///                         sequenceStore: DC09FileSequenceStore(path: "/var/lib/station/dc09.seq"), logger: logger)
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { await link.run() }
///     let outcome = await link.deliver(event, id: stored.id)
///     ...
/// }
/// ```
public actor DC09Link {
    /// How an event ended.
    public enum Outcome: Sendable, Hashable {
        /// ACK (or RSP) that matched the message.
        case delivered(sequence: DC09Sequence, attempts: Int)
        /// DUH: the receiver will not take it; it was not repeated.
        case refused(sequence: DC09Sequence, reason: String)
        /// ``run()`` ended (or the caller was cancelled) before an answer.
        case stopped
    }

    /// The link's state for status pages.
    public struct Status: Sendable, Hashable {
        /// Events submitted and not yet answered.
        public var outstanding: Int
        /// The last link test's result (nil before the first).
        public var lastLinkTestPassed: Bool?
        /// The last failure (attempt or link test), if any.
        public var lastFailure: String?
        /// Seconds the receiver's clock is ahead of ours (from its last NAK).
        public var clockOffsetSeconds: Int
    }

    private enum Job: Sendable {
        case write(frame: [UInt8], generation: UInt64, deadline: Duration)
        case timer(DC09Transmitter.Timer, after: Duration)
    }

    private var transmitter: DC09Transmitter
    private let host: String
    private let port: Int
    private let connectTimeout: Duration
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let jobs: AsyncStream<Job>
    private let jobSink: AsyncStream<Job>.Continuation
    private var waiters: [String: [CheckedContinuation<Outcome, Never>]] = [:]
    private var generation: UInt64 = 0
    private var status: Status
    private var finished = false

    /// - Parameters:
    ///   - now: the wall clock for message timestamps (tests may skew it).
    public init(
        configuration: DC09TransmitterConfiguration, host: String, port: Int, sequenceStore: any DC09SequenceStore,
        connectTimeout: Duration = .seconds(5), logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) throws(DC09Error) {
        self.transmitter = try DC09Transmitter(configuration: configuration, sequenceStore: sequenceStore)
        self.host = host
        self.port = port
        self.connectTimeout = connectTimeout
        self.logger = logger
        self.now = now
        (self.jobs, self.jobSink) = AsyncStream.makeStream(of: Job.self)
        self.status = Status(outstanding: 0, lastLinkTestPassed: nil, lastFailure: nil, clockOffsetSeconds: 0)
    }

    /// The link's current state.
    public var currentStatus: Status {
        var copy = status
        copy.outstanding = transmitter.outstandingCount
        copy.clockOffsetSeconds = transmitter.clockOffsetSeconds
        return copy
    }

    /// Sends and retries until cancelled. Call it once. Callers waiting in ``deliver(_:id:)``
    /// get ``Outcome/stopped`` when it ends, and so do later calls.
    public func run() async {
        perform(transmitter.start(now: now()))
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                switch job {
                case .write(let frame, let generation, let deadline):
                    group.addTask { await self.exchange(frame, generation: generation, deadline: deadline) }
                case .timer(let timer, let delay):
                    group.addTask {
                        do {
                            try await Task.sleep(for: delay)
                        } catch {
                            return
                        }
                        await self.timerFired(timer)
                    }
                }
            }
            group.cancelAll()
        }
        finished = true
        for (_, continuations) in waiters {
            for continuation in continuations { continuation.resume(returning: .stopped) }
        }
        waiters = [:]
    }

    /// Queues `event` and waits for its outcome. `id` ties the answer to the event (the store's
    /// event id); two calls with the same id both get the outcome of that event.
    ///
    /// Cancelling the caller does not withdraw the event (an alarm, once handed over, is sent);
    /// the call returns when the outcome is known or ``run()`` ends.
    public func deliver(_ event: DC09Event, id: String) async -> Outcome {
        guard !finished else { return .stopped }
        return await withCheckedContinuation { continuation in
            waiters[id, default: []].append(continuation)
            perform(transmitter.submit(event, id: id, now: now()))
        }
    }

    // MARK: - Driving the state machine

    private func perform(_ actions: [DC09Transmitter.Action]) {
        for action in actions {
            switch action {
            case .write(let frame, let message, let attempt):
                generation += 1
                logger.debug("DC-09 send", metadata: ["dc09.message": "\(message)", "dc09.attempt": "\(attempt)"])
                jobSink.yield(.write(frame: frame, generation: generation, deadline: transmitter.configuration.responseTimeout))
            case .schedule(let timer, let delay):
                jobSink.yield(.timer(timer, after: delay))
            case .cancel, .closeConnection:
                break  // stale timers are ignored by the state machine; each attempt has its own connection
            case .delivered(let id, let sequence, let attempts):
                logger.info("DC-09 delivered", metadata: ["dc09.id": "\(id)", "dc09.seq": "\(sequence)", "dc09.attempts": "\(attempts)"])
                resume(id, .delivered(sequence: sequence, attempts: attempts))
            case .refused(let id, let sequence, let reason):
                logger.error("DC-09 refused", metadata: ["dc09.id": "\(id)", "dc09.seq": "\(sequence)", "dc09.reason": "\(reason)"])
                status.lastFailure = reason
                resume(id, .refused(sequence: sequence, reason: reason))
            case .attemptFailed(let id, let sequence, let reason, let retryIn):
                logger.warning(
                    "DC-09 attempt failed",
                    metadata: ["dc09.id": "\(id ?? "-")", "dc09.seq": "\(sequence)", "dc09.reason": "\(reason)", "dc09.retry_in": "\(retryIn)"])
                status.lastFailure = reason
            case .linkTestPassed:
                status.lastLinkTestPassed = true
            case .linkTestFailed(let sequence, let reason, _):
                logger.warning("DC-09 link test failed", metadata: ["dc09.seq": "\(sequence)", "dc09.reason": "\(reason)"])
                status.lastLinkTestPassed = false
                status.lastFailure = reason
            case .clockCorrected(let offset):
                logger.notice("DC-09 clock corrected from the receiver's NAK", metadata: ["dc09.offset_s": "\(offset)"])
            case .toleratedResponse(let note):
                logger.notice("DC-09 response accepted despite a departure from the standard", metadata: ["dc09.note": "\(note)"])
            case .ignoredResponse(let reason):
                logger.warning("DC-09 response ignored", metadata: ["dc09.reason": "\(reason)"])
            case .sequenceStoreFailed(let error):
                logger.error("DC-09 sequence number not saved", metadata: ["dc09.error": "\(error)"])
            }
        }
    }

    private func resume(_ id: String, _ outcome: Outcome) {
        for continuation in waiters.removeValue(forKey: id) ?? [] {
            continuation.resume(returning: outcome)
        }
    }

    private func timerFired(_ timer: DC09Transmitter.Timer) {
        perform(transmitter.timerFired(timer, now: now()))
    }

    private func answered(_ frame: [UInt8]) {
        perform(transmitter.received(frame, now: now()))
    }

    private func failed(_ reason: String, generation: UInt64) {
        // A failure from an older attempt must not abandon the current one.
        guard generation == self.generation else { return }
        perform(transmitter.transportFailed(reason, now: now()))
    }

    /// One attempt: connect, write, read one answer, close; all within `deadline`.
    private nonisolated func exchange(_ frame: [UInt8], generation: UInt64, deadline: Duration) async {
        let start = ContinuousClock.now
        let connection: DC09Connection
        do {
            connection = try await DC09Connection.connect(host: host, port: port, timeout: min(connectTimeout, deadline))
        } catch {
            await failed(error.message, generation: generation)
            return
        }
        do {
            try await connection.write(frame)
            let remaining = deadline - (ContinuousClock.now - start)
            let answer = try await connection.readFrame(timeout: max(remaining, .milliseconds(1)))
            await connection.close()
            await answered(answer)
        } catch {
            await connection.close()
            if error.code == .timedOut { return }  // the state machine's response timer decides
            await failed(error.message, generation: generation)
        }
    }
}
