import DeviceProtocols
import Foundation
import OSDP
import SerialTransport

/// The I/O of `setup`'s two active probes: the OSDP bus scan and the search for a dry-contact
/// button. What they decide is in the pure ``OSDP/OSDPBusScan`` and
/// ``DeviceProtocols/DryContactFinder``; these only open ports, write, read and keep time.
enum SetupProbes {
    // MARK: OSDP

    /// Scans `path` for OSDP readers (``OSDPBusScan``); the readers found, or a problem with the port.
    static func scanOSDP(_ path: String, scan initial: OSDPBusScan = OSDPBusScan()) async -> (readers: [OSDPBusScan.Finding], problem: String?) {
        var scan = initial
        let clock = ContinuousClock()
        let origin = clock.now
        var port: (any SerialPort)?
        defer { port?.close() }
        var actions = scan.start(now: .zero)
        while !scan.isFinished, !Task.isCancelled {
            while !actions.isEmpty {
                switch actions.removeFirst() {
                case .setSpeed(let speed):
                    port?.close()
                    port = nil
                    do {
                        port = try await whenFree { () throws(SerialError) in try SerialPortOpener.open(path: path, settings: SerialSettings(baud: speed)) }
                    } catch {
                        return (scan.findings, "cannot open it at \(speed) baud: \(error.message)")
                    }
                    actions += scan.speedSet(now: clock.now - origin)
                case .send(let bytes):
                    do { try port?.write(bytes) } catch { return (scan.findings, "cannot write to it: \(error.message)") }
                case .found, .finished:
                    break
                }
            }
            guard let port, let deadline = scan.nextDeadline else { break }
            let wait = deadline - (clock.now - origin)
            let bytes: [UInt8]
            do {
                bytes = wait > .zero ? try port.read(maxCount: 512, timeout: wait) : []
            } catch {
                return (scan.findings, "the line failed while scanning: \(error.message)")
            }
            let now = clock.now - origin
            actions = bytes.isEmpty ? scan.tick(now: now) : scan.receive(bytes, now: now)
        }
        return (scan.findings, nil)
    }

    /// Opens a port with `open`, waiting up to a second while it is busy: the listening before
    /// has just stopped, and its reader thread closes the port within its read timeout.
    static func whenFree<Port>(_ open: () throws(SerialError) -> Port) async throws(SerialError) -> Port {
        let deadline = ContinuousClock.now + .seconds(1)
        while true {
            do {
                return try open()
            } catch where error.code == .busy && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    // MARK: Dry-contact button

    /// One way to read a contact: a port's input line while one output powers it.
    struct Probe: Hashable, Sendable {
        var port: Int
        var input: ModemLine
        var drive: ModemOutput
    }

    /// The button found: its probe (port, input, powering output) and its wiring.
    typealias Button = DryContactFinder<Probe>.Finding

    /// How long each output powers the lines before the other takes its turn, and how long a
    /// line is left to follow a change of output before it is read.
    static let drivePhase = Duration.milliseconds(150)
    static let settleAfterSwitch = Duration.milliseconds(20)
    static let samplePeriod = Duration.milliseconds(10)

    /// Opens each port's modem lines; the ones that have none (a pseudo-terminal, a USB adapter
    /// without them) are skipped, with why.
    static func openLines(_ paths: [String]) async -> (lines: [(index: Int, source: any ModemLineSource)], skipped: [(String, String)]) {
        var lines: [(Int, any ModemLineSource)] = []
        var skipped: [(String, String)] = []
        for (index, path) in paths.enumerated() {
            do {
                lines.append((index, try await whenFree { () throws(SerialError) in try ModemLineOpener.open(path: path) }))
            } catch {
                skipped.append((path, error.code == .unsupported ? "has no modem-control lines (a pseudo-terminal?)" : error.message))
            }
        }
        return (lines, skipped)
    }

    /// Powers the lines of `sources` from DTR and RTS in turn and samples every input until a
    /// button is pressed and held, `deadline` passes or the task is cancelled. `settled` is called
    /// once, when every line has had time to show its resting level: the moment to ask for the press.
    static func findButton(
        _ sources: [(index: Int, source: any ModemLineSource)], until deadline: ContinuousClock.Instant,
        settled: () -> Void
    ) async -> Button? {
        var finder = DryContactFinder<Probe>()
        let clock = ContinuousClock()
        let origin = clock.now
        var announced = false
        defer {
            for (_, source) in sources {
                for output in ModemOutput.allCases { try? source.setOutput(output, high: false) }
            }
        }
        var live = sources
        while clock.now < deadline, !Task.isCancelled, !live.isEmpty {
            for drive in ModemOutput.allCases {
                for (_, source) in live {
                    for output in ModemOutput.allCases { try? source.setOutput(output, high: output == drive) }
                }
                try? await Task.sleep(for: settleAfterSwitch)
                let phaseEnd = clock.now + drivePhase - settleAfterSwitch
                while clock.now < phaseEnd {
                    if let found = sample(&live, powered: drive, into: &finder, at: clock.now - origin) { return found }
                    try? await Task.sleep(for: samplePeriod)
                }
            }
            if !announced, clock.now - origin >= finder.settle + drivePhase * 2 {
                announced = true
                settled()
            }
        }
        return nil
    }

    /// Reads every input of `live` once while `drive` powers them; a source whose lines can no
    /// longer be read (unplugged) is dropped.
    private static func sample(
        _ live: inout [(index: Int, source: any ModemLineSource)], powered drive: ModemOutput,
        into finder: inout DryContactFinder<Probe>, at now: Duration
    ) -> Button? {
        var gone: [Int] = []
        defer { live.removeAll { gone.contains($0.index) } }
        for (index, source) in live {
            guard let signals = try? source.signals() else {
                gone.append(index)
                continue
            }
            for input in ModemLine.allCases {
                if let found = finder.sample(Probe(port: index, input: input, drive: drive), level: signals[input], at: now) {
                    return found
                }
            }
        }
        return nil
    }
}
