import ArgumentParser
import DeviceProtocols
import Foundation
import SerialTransport
import StationConfig

/// `station-agent identify`: which adapter is which. Listens on every serial port (or the ones
/// given) while the technician taps a card on each reader, then at the alarm box's speed, and
/// says what each line is, with a `[[device]]` block to paste into station.toml that names the
/// adapter by its USB identity. The first part of the setup wizard (issue 17).
struct Identify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tell which serial port has which device: tap a card on each reader while it listens.",
        discussion: """
            Listens on every serial port (or each --port) for up to --seconds, taking turns of \
            1.5 s at 9600 baud, where every card reader profile talks, and at 115200 baud, where \
            the one-key alarm box sends its heartbeat. Tap a card on each reader (again if it is \
            not named within a few seconds): the port and the reader's profile are recognised \
            from the bytes. It prints what each line is as soon as it is recognised, and at the \
            end a [[device]] block for station.toml. Stop the agent first \
            (`systemctl stop station-agent`): a port the agent holds is busy. Exit status 0 when \
            at least one device was recognised, 1 when none was.
            """)

    @Option(name: .customLong("port"), help: "A port to listen on (repeat it); default: every serial port found.")
    var ports: [String] = []
    @Option(help: "How long to listen at the most, in seconds (it ends sooner once every port is recognised).")
    var seconds = 60

    func validate() throws {
        guard (2...600).contains(seconds) else { throw ValidationError("--seconds must be from 2 to 600") }
    }

    func run() async throws {
        let lines = try Self.lines(ports)
        say(
            "listening for up to \(seconds) s: tap a card on each reader (again if it is not named within a few seconds); "
                + "the alarm box is heard by its heartbeat")
        let outcomes = await Self.recognise(lines, until: ContinuousClock.now + .seconds(seconds))
        say("")
        for (line, outcome) in zip(lines, outcomes) where outcome.finding == nil {
            say("\(Self.name(line)): \(outcome.unrecognised)")
        }
        let recognised = zip(lines, outcomes).compactMap { line, outcome in outcome.finding.map { (line, $0) } }
        guard !recognised.isEmpty else {
            say("nothing recognised; tap a card on each reader while it listens, or give more --seconds")
            throw ExitCode(1)
        }
        say("\nfor station.toml:")
        for (number, (line, finding)) in recognised.enumerated() {
            say("")
            say(StationSetup.render(SetupDevices.device(finding, line: line, number: number + 1)))
        }
    }

    /// The ports to listen on with their adapters' identities: each of `ports`, or every serial
    /// port found when none is given (exit status 1, said, when there is none).
    static func lines(_ ports: [String]) throws -> [(path: String, info: SerialPortInfo?)] {
        guard ports.isEmpty else {
            // A given path (a by-id link, a pty) gets its adapter's identity when it has one.
            let known = (try? SerialPortCatalog.list()) ?? []
            return ports.map { path in
                let resolved = try? DevicePath.resolve(path)
                return (path, known.first { $0.path == resolved })
            }
        }
        let found: [SerialPortInfo]
        do {
            found = try SerialPortCatalog.list()
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        guard !found.isEmpty else {
            say(Ports.noneFound)
            throw ExitCode(1)
        }
        return found.map { ($0.path, $0) }
    }

    /// What listening on one port came to.
    struct Outcome: Sendable {
        var identifier = LineIdentifier()
        var finding: LineIdentifier.Finding?
        /// What went wrong with the port, if anything.
        var problem: String?

        /// Why a port without a finding has none.
        var unrecognised: String {
            if let problem { return problem }
            let heard = identifier.bytesHeard
            let total = heard.values.reduce(0, +)
            return total == 0 ? "silent (no reader tapped, no alarm box, or a dry-contact button: `doctor` checks those)"
                : "\(total) bytes heard that no known device sends (\(heard[.readers] ?? 0) at 9600, \(heard[.alarmBox] ?? 0) at 115200)"
        }
    }

    /// Listens on every port until each is recognised, `deadline` passes or the task is
    /// cancelled, printing each finding as it comes; the outcomes in the order of `lines`.
    /// Each port on its own, in turns at each speed: a port answers as soon as its device speaks,
    /// whatever the other ports do. `setup` listens with it too.
    static func recognise(_ lines: [(path: String, info: SerialPortInfo?)], until deadline: ContinuousClock.Instant) async -> [Outcome] {
        var outcomes = [Outcome](repeating: Outcome(), count: lines.count)
        await withTaskGroup(of: (Int, Outcome).self) { group in
            for index in lines.indices {
                let path = lines[index].path
                group.addTask {
                    let (identifier, finding, problem) = await Self.identify(path, until: deadline)
                    return (index, Outcome(identifier: identifier, finding: finding, problem: problem))
                }
            }
            for await (index, outcome) in group {
                outcomes[index] = outcome
                if let finding = outcome.finding { say("\(Self.name(lines[index])): \(finding)") }
            }
        }
        return outcomes
    }

    /// How long each turn at one speed lasts: long enough for a tap's frame and the quiet after
    /// it, short enough that a tap made while the other speed listens is soon made again.
    static let turn = Duration.milliseconds(1500)

    /// Listens on `path` at each speed in turn until its device is recognised, the port fails,
    /// or `deadline` passes.
    static func identify(_ path: String, until deadline: ContinuousClock.Instant) async -> (LineIdentifier, LineIdentifier.Finding?, String?) {
        var identifier = LineIdentifier()
        while ContinuousClock.now < deadline, !Task.isCancelled {
            for speed in LineIdentifier.Speed.allCases where !Task.isCancelled {
                let remaining = ContinuousClock.now.duration(to: deadline)
                guard remaining > .zero else { break }
                let (heard, finding, problem) = await listen(path, identifier, at: speed, for: min(turn, remaining))
                identifier = heard
                if finding != nil || problem != nil { return (identifier, finding, problem) }
            }
        }
        return (identifier, nil, nil)
    }

    /// Listens on `path` at `speed` for `duration`; returns the identifier, its finding and a
    /// problem with the port, if any.
    static func listen(
        _ path: String, _ identifier: LineIdentifier, at speed: LineIdentifier.Speed, for duration: Duration
    ) async -> (LineIdentifier, LineIdentifier.Finding?, String?) {
        var identifier = identifier
        let port: any SerialPort
        do {
            port = try SerialPortOpener.open(path: path, settings: SerialSettings(baud: speed.rawValue))
        } catch {
            let hint = error.code == .busy ? " (the agent holds it? `systemctl stop station-agent` first)" : ""
            return (identifier, nil, "cannot listen: \(error.message)\(hint)")
        }
        let stream = SerialByteStream(port: port, marksIdleLine: true)
        defer { stream.stop() }
        let deadline = ContinuousClock.now + duration
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(until: deadline)
                stream.stop()
            }
            var finding: LineIdentifier.Finding?
            do {
                for try await chunk in stream.chunks {
                    finding = chunk.isEmpty ? identifier.noteLineIdle() : identifier.feed(chunk, at: speed)
                    if finding != nil { break }
                }
            } catch {
                group.cancelAll()
                return (identifier, nil, "the line failed while listening: \(error)")
            }
            group.cancelAll()
            return (identifier, finding, nil)
        }
    }

    /// The path, with the adapter's identity as `doctor` prints it.
    static func name(_ line: (path: String, info: SerialPortInfo?)) -> String {
        line.info.map { "\(line.path) (\(DoctorChecks.usbIdentity($0)))" } ?? line.path
    }
}
