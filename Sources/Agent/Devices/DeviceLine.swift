import Uplink

/// The life of one device's line, the same for every kind of device: open it; while it is open,
/// serve it (what the device does: read taps, watch a contact, supervise a box, poll a bus);
/// when it cannot be opened or is lost, report the device offline once and wait before the next
/// try, with backoff. Pure: events in, actions out; the caller passes the random unit of the
/// jitter, and ``DeviceLineDriver`` carries the actions out.
public struct DeviceLineMachine: Sendable {
    public enum Event: Sendable, Equatable {
        /// The line opened.
        case opened
        /// Opening failed (`reason`: what the opener said).
        case openFailed(reason: String)
        /// The open line was lost (unplugged, closed, an I/O error), or went silent for good.
        case lost(reason: String)
    }

    public enum Action: Sendable, Equatable {
        /// Open the line.
        case open
        /// Serve the open line until it is lost.
        case serve
        /// Tell `status`, the store and the coordinator that the device is offline (one event
        /// per change: ``DeviceHealth`` drops repeats).
        case reportOffline(String)
        /// Wait this long (before the next ``open``).
        case wait(Duration)
    }

    let reopen: RetryPolicy
    let port: String
    /// Failed attempts since the line was last open.
    public private(set) var failures = 0

    /// - Parameter port: how the line is named in the offline reports.
    public init(reopen: RetryPolicy, port: String) {
        self.reopen = reopen
        self.port = port
    }

    /// What to do first.
    public func start() -> [Action] { [.open] }

    /// What to do after `event`; `unit` is a random number in `0..<1` for the backoff's jitter.
    public mutating func handle(_ event: Event, unit: Double) -> [Action] {
        switch event {
        case .opened:
            failures = 0
            return [.serve]
        case .openFailed(let reason):
            failures += 1
            return [.reportOffline("cannot open \(port): \(reason)"), .wait(reopen.delay(afterFailures: failures, unit: unit)), .open]
        case .lost(let reason):
            // A line that was open is tried again soon: the first step of the backoff.
            failures = 1
            return [.reportOffline(reason), .wait(reopen.delay(afterFailures: failures, unit: unit)), .open]
        }
    }
}

/// Carries out a ``DeviceLineMachine`` for one device until the task is cancelled (shutdown, or
/// a reload that changed the device): every device service is this loop around its own `open`
/// and `serve`.
struct DeviceLineDriver<C: Clock> where C.Duration == Duration {
    let reopen: RetryPolicy
    let port: String
    let clock: C
    var random: @Sendable () -> Double = { Double.random(in: 0..<1) }

    /// - Parameters:
    ///   - open: opens the line (throws when it cannot).
    ///   - serve: serves the open line and returns why it was lost, or nil when it stopped
    ///     because the task was cancelled; it reports the device online when the device answers,
    ///     closes the line before it returns, and throws only when stopped or on a fault no
    ///     reopening can mend.
    func run<Line>(
        health: inout DeviceHealth,
        open: () throws -> Line,
        serve: (Line, inout DeviceHealth) async throws -> String?
    ) async throws {
        var machine = DeviceLineMachine(reopen: reopen, port: port)
        var pending = machine.start()
        var line: Line?
        while !pending.isEmpty && !Task.isCancelled {
            switch pending.removeFirst() {
            case .open:
                do {
                    line = try open()
                    pending += machine.handle(.opened, unit: random())
                } catch {
                    pending += machine.handle(.openFailed(reason: "\(error)"), unit: random())
                }
            case .serve:
                guard let open = line else { continue }
                line = nil
                guard let reason = try await serve(open, &health), !Task.isCancelled else { return }
                pending += machine.handle(.lost(reason: reason), unit: random())
            case .reportOffline(let detail):
                await health.offline(detail)
            case .wait(let delay):
                try await clock.sleep(for: delay)
            }
        }
    }
}
