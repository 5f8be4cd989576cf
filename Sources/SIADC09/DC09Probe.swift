import Foundation

/// What one guided DC-09 check found (for `station-agent test-alarm --via sia`).
public struct DC09ProbeReport: Sendable, Hashable {
    public enum Result: Sendable, Hashable {
        /// The receiver answered ACK (matching sequence, receiver, prefix and account).
        case acknowledged
        /// The receiver answered DUH.
        case refused(String)
        /// No answer within the response timeout.
        case noAnswer(String)
        /// Could not connect, the connection broke, the answer did not match, or NAKs went on.
        case failed(String)
    }

    /// One hop, with the time since the check started.
    public struct Step: Sendable, Hashable, CustomStringConvertible {
        public var elapsed: Duration
        public var text: String
        public var description: String {
            let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            return String(format: "%8.1f ms  %@", ms, text)
        }
    }

    public var steps: [Step]
    public var result: Result
    /// The sequence number used.
    public var sequence: DC09Sequence?

    /// True only for an ACK.
    public var passed: Bool { result == .acknowledged }

    /// `PASS: ...` or `FAIL: ...`.
    public var verdict: String {
        switch result {
        case .acknowledged: "PASS: the receiver acknowledged (ACK)"
        case .refused(let reason): "FAIL: \(reason); it will not be repeated (check the account, format and key)"
        case .noAnswer(let reason): "FAIL: no answer (timeout): \(reason)"
        case .failed(let reason): "FAIL: \(reason)"
        }
    }
}

/// A one-shot check of a DC-09 receiver: sends one event, follows NAKs (correcting the clock,
/// as the transmitter would), and reports every hop with its time. It does not wait and retry
/// after a timeout: a technician on site wants the verdict now.
public enum DC09Probe {
    /// Sends `event` (by default a periodic test, `RP` / CID 602) to `host:port`.
    public static func run(
        event: DC09Event, configuration: DC09TransmitterConfiguration, host: String, port: Int,
        sequenceStore: any DC09SequenceStore = DC09InMemorySequenceStore(), connectTimeout: Duration = .seconds(5),
        now: @escaping @Sendable () -> Date = { Date() }
    ) async -> DC09ProbeReport {
        let start = ContinuousClock.now
        var report = DC09ProbeReport(steps: [], result: .failed("not started"), sequence: nil)
        var settings = configuration
        settings.linkTestInterval = nil
        var transmitter: DC09Transmitter
        do {
            transmitter = try DC09Transmitter(configuration: settings, sequenceStore: sequenceStore)
        } catch {
            report.result = .failed(error.message)
            return report
        }
        let pending = transmitter.submit(event, id: "probe", now: now())
        return await drive(
            &transmitter, pending: pending, report: report, start: start, host: host, port: port, connectTimeout: connectTimeout,
            responseTimeout: settings.responseTimeout, now: now)
    }

    /// A link test: one `NULL` message (what the agent sends every `link_test_seconds` when
    /// idle), reported like ``run(event:configuration:host:port:sequenceStore:connectTimeout:now:)``.
    /// `station-agent doctor` uses it: it shows the receiver is there without reporting an event.
    public static func linkTest(
        configuration: DC09TransmitterConfiguration, host: String, port: Int,
        sequenceStore: any DC09SequenceStore = DC09InMemorySequenceStore(), connectTimeout: Duration = .seconds(5),
        now: @escaping @Sendable () -> Date = { Date() }
    ) async -> DC09ProbeReport {
        let start = ContinuousClock.now
        let report = DC09ProbeReport(steps: [], result: .failed("not started"), sequence: nil)
        var settings = configuration
        // The shortest interval allowed: the timer it asks for is fired at once below.
        settings.linkTestInterval = .seconds(10)
        var transmitter: DC09Transmitter
        do {
            transmitter = try DC09Transmitter(configuration: settings, sequenceStore: sequenceStore)
        } catch {
            return DC09ProbeReport(steps: [], result: .failed(error.message), sequence: nil)
        }
        var pending: [DC09Transmitter.Action] = []
        for action in transmitter.start(now: now()) {
            if case .schedule(let timer, _) = action, timer.kind == .linkTest {
                pending += transmitter.timerFired(timer, now: now())
            }
        }
        return await drive(
            &transmitter, pending: pending, report: report, start: start, host: host, port: port, connectTimeout: connectTimeout,
            responseTimeout: settings.responseTimeout, now: now)
    }

    /// Carries out the transmitter's actions, one exchange at a time, until a verdict.
    private static func drive(
        _ transmitter: inout DC09Transmitter, pending initial: [DC09Transmitter.Action], report initialReport: DC09ProbeReport,
        start: ContinuousClock.Instant, host: String, port: Int, connectTimeout: Duration, responseTimeout: Duration,
        now: @Sendable () -> Date
    ) async -> DC09ProbeReport {
        var report = initialReport
        func step(_ text: String) { report.steps.append(.init(elapsed: ContinuousClock.now - start, text: text)) }
        var pending = initial
        while !pending.isEmpty {
            let action = pending.removeFirst()
            switch action {
            case .write(let frame, let message, let attempt):
                report.sequence = message.sequence
                step("sent \(message) (attempt \(attempt), \(frame.count) bytes) to \(host):\(port)")
                do {
                    let answer = try await DC09Connection.exchange(
                        frame, host: host, port: port, connectTimeout: connectTimeout, responseTimeout: responseTimeout)
                    step("received \(String(decoding: answer.filter { $0 >= 0x20 && $0 < 0x7F }, as: UTF8.self))")
                    pending += transmitter.received(answer, now: now())
                } catch where error.code == .timedOut {
                    step(error.message)
                    report.result = .noAnswer(error.message)
                    return report
                } catch {
                    step(error.message)
                    report.result = .failed(error.message)
                    return report
                }
            case .delivered(_, let sequence, let attempts):
                step("ACK for sequence \(sequence) after \(attempts) attempt(s)")
                report.result = .acknowledged
                return report
            case .refused(_, _, let reason):
                step("DUH: \(reason)")
                report.result = .refused(reason)
                return report
            case .clockCorrected(let offset):
                step("NAK with the receiver's time: clock offset now \(offset >= 0 ? "+" : "")\(offset) s, resending")
            case .toleratedResponse(let note):
                step("note: \(note)")
            case .ignoredResponse(let reason):
                step("answer not counted: \(reason)")
                report.result = .failed("the answer did not match the message sent: \(reason)")
                return report
            case .attemptFailed(_, _, let reason, _):
                step("attempt failed: \(reason)")
                report.result = .failed(reason)
                return report
            case .sequenceStoreFailed(let error):
                step("warning: \(error.message)")
            case .linkTestPassed(let sequence):
                step("ACK for link test sequence \(sequence)")
                report.result = .acknowledged
                return report
            case .linkTestFailed(_, let reason, _):
                step("link test failed: \(reason)")
                report.result = reason.contains("DUH") ? .refused(reason) : .failed(reason)
                return report
            case .schedule, .cancel, .closeConnection:
                break
            }
        }
        report.result = .failed("the transmitter stopped without an answer")
        return report
    }
}
