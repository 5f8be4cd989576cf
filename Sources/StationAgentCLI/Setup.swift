import Agent
import ArgumentParser
import DeviceProtocols
import EventModel
import Foundation
import OSDP
import SecretFile
import SerialTransport
import StationConfig

#if canImport(Glibc)
import Glibc
#endif

/// `station-agent setup`: from a fresh board to a proven kiosk. Asks what only the technician
/// knows (station id, platform, grid location), finds out the rest from the devices (which
/// adapter has which reader and profile, the OSDP readers and their addresses, the alarm box,
/// the dry-contact button's line and wiring), writes a commented station.toml naming adapters by
/// USB identity, then runs `doctor` and a test alarm.
struct Setup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set up this kiosk: find the devices, ask for the station's details, write station.toml, run doctor and a test alarm.",
        discussion: """
            Stop the agent first (`systemctl stop station-agent`): a port it holds is busy. The \
            wizard asks its questions on the terminal (Enter takes the default shown in brackets), \
            listens on every serial port (or each --port) while you tap a card on each reader, \
            looks for OSDP readers on the ports that stayed silent, asks for a press of a \
            dry-contact button, writes the file (the old one is kept as .bak), runs `doctor`, and \
            starts the agent for a test alarm: the service when its unit is installed and the file \
            is the one it reads, the agent as a child process otherwise. A simulated button \
            (sim:PATH) can be given with --port. Exit status 0 when the file is written and the \
            doctor and the test alarm passed, 1 when a check failed, 78 when the file could not \
            be written.
            """)

    @Option(help: "The configuration file to write.")
    var config = "/etc/station-agent/station.toml"
    @Option(name: .customLong("port"), help: "A port to look at (repeat it; sim:PATH for a simulated button); default: every serial port found.")
    var ports: [String] = []
    @Option(help: "How long to listen for card taps at the most, in seconds (Enter ends it sooner).")
    var seconds = 120
    @Option(help: "How long to wait for the alarm button's press, in seconds.")
    var buttonSeconds = 60
    @Option(help: "The agent's state directory, written as [station] state_dir (default: the old file's, else /var/lib/station-agent).")
    var stateDir: String?
    @Flag(help: "Write and check the file, but do not start the agent for a test alarm.")
    var noTestAlarm = false

    func validate() throws {
        guard (5...600).contains(seconds) else { throw ValidationError("--seconds must be from 5 to 600") }
        guard (5...600).contains(buttonSeconds) else { throw ValidationError("--button-seconds must be from 5 to 600") }
    }

    func run() async throws {
        let started = ContinuousClock.now
        var wizard = SetupWizard(command: self, input: SetupInput())
        do {
            try await wizard.run()
        } catch let stopped as SetupStopped {
            printError("setup stopped: \(stopped)")
            throw ExitCode(1)
        }
        let elapsed = ContinuousClock.now - started
        say("setup took \(elapsed.components.seconds / 60) min \(elapsed.components.seconds % 60) s")
        if !wizard.passed { throw ExitCode(1) }
    }
}

/// The wizard's steps, in order; each says what it does before it does it.
struct SetupWizard {
    let command: Setup
    let input: SetupInput
    /// The file as it was, for the defaults.
    private var existing: StationConfiguration?
    /// True once the doctor and the test alarm (when there is one) passed.
    private(set) var passed = false

    init(command: Setup, input: SetupInput) {
        self.command = command
        self.input = input
        existing = FileManager.default.fileExists(atPath: command.config) ? try? ConfigLoader.load(path: command.config) : nil
    }

    mutating func run() async throws {
        say("station-agent setup: this writes \(command.config). Enter takes the value in [brackets].")
        if FileManager.default.fileExists(atPath: command.config) {
            guard try await askYes("\(command.config) exists. Replace it (the old one is kept as \(command.config).bak)?", default: false) else {
                throw SetupStopped(description: "\(command.config) was left as it was")
            }
        }
        var setup = try await askStation()
        setup.devices = try await findDevices()
        setup.districtKeyFile = try await askDistrictKey(needed: setup.devices.contains { $0.readsCards })
        try await write(setup)
        say("")
        say("== Checking it with `station-agent doctor`")
        guard await Doctor.check(config: command.config, timeout: .seconds(5)) else {
            say("The file is written, but doctor found something to fix (the FAIL lines above).")
            say("Fix it, then run `station-agent doctor` and `station-agent test-alarm`.")
            return
        }
        guard setup.devices.contains(where: \.raisesAlarms) else {
            say("No alarm box or button was found: there is no alarm to test. Start the agent: `systemctl restart station-agent`.")
            passed = true
            return
        }
        guard !command.noTestAlarm else {
            say("The test alarm was left out (--no-test-alarm): start the agent, then run `station-agent test-alarm`.")
            passed = true
            return
        }
        passed = try await testAlarm()
    }

    // MARK: Questions

    /// Asks until the answer passes `check`; Enter takes `value`.
    private func ask(_ question: String, default value: String?, check: (String) -> String? = { _ in nil }) async throws -> String? {
        while true {
            say(question + (value.map { " [\($0)]" } ?? "") + ":")
            FileHandle.standardOutput.write(Data("> ".utf8))
            guard let line = await input.line() else {
                throw SetupStopped(description: "the input ended at \"\(question)\"; nothing was written")
            }
            let answer = line.trimmingCharacters(in: .whitespaces)
            // Enter takes the default, which must pass the same check (a key file may be gone).
            guard let answer = answer.isEmpty ? value : answer else { return nil }
            if let problem = check(answer) {
                say("  \(problem); try again")
                continue
            }
            return answer
        }
    }

    private func askRequired(_ question: String, default value: String?, check: (String) -> String?) async throws -> String {
        while true {
            if let answer = try await ask(question, default: value, check: check) { return answer }
            say("  an answer is needed here")
        }
    }

    private func askYes(_ question: String, default yes: Bool) async throws -> Bool {
        let answer = try await ask(question + (yes ? " (Y/n)" : " (y/N)"), default: nil) { text in
            ["y", "yes", "n", "no"].contains(text.lowercased()) ? nil : "answer y or n"
        }
        return answer.map { $0.lowercased().hasPrefix("y") } ?? yes
    }

    private func askStation() async throws -> StationSetup {
        say("")
        say("== The station")
        let old = existing
        let oldID = old?.station.id == "ST-UNCONFIGURED" ? nil : old?.station.id
        let id = try await askRequired("Station id on the platform (1 to 64 of A-Z a-z 0-9 . _ -)", default: oldID, check: StationSetup.problem(stationID:))
        let oldURL = old.map(\.platform.url.absoluteString).flatMap { $0.contains("platform.invalid") ? nil : $0 }
        let url = try await askRequired("Platform URL (like https://platform.example.cn/api)", default: oldURL, check: StationSetup.problem(platformURL:))
        var oldToken: String?
        if case .tokenFile(let path)? = old?.platform.credential { oldToken = path }
        // A token file that is there must pass the agent's own check; one that is not there yet
        // can come later (the agent reads it when it sends).
        let token = try await ask("Bearer token file, mode 0600 (Enter: the platform needs no token)", default: oldToken) { path in
            Self.secretProblem(path, missingIsFine: true)
        }
        if let token, !FileManager.default.fileExists(atPath: token) {
            say("  \(token) is not there yet: put the token in it before the agent starts:")
            say("  install -m 0600 -o station-agent -g station-agent /dev/stdin \(token)")
        }
        say("Where the station sits in the grid (Enter skips a part):")
        let location = old?.station.location ?? GridLocation()
        let grid = GridLocation(
            district: try await ask("  district", default: location.district),
            street: try await ask("  street", default: location.street),
            community: try await ask("  community", default: location.community),
            grid: try await ask("  grid", default: location.grid),
            microGrid: try await ask("  micro-grid", default: location.microGrid))
        let stateDirectory = command.stateDir ?? old?.station.stateDirectory ?? "/var/lib/station-agent"
        return StationSetup(stationID: id, location: grid, platformURL: url, tokenFile: token, stateDirectory: stateDirectory)
    }

    private func askDistrictKey(needed: Bool) async throws -> String? {
        guard needed else { return nil }
        say("")
        say("== Card numbers")
        let old = existing?.privacy.districtKeyFile?.path ?? "/etc/station-agent/district.key"
        let answer = try await askRequired(
            "The district's key file for card pseudonyms (or `raw` to send card numbers as read)", default: old
        ) { text in
            guard text != "raw" else { return nil }
            guard FileManager.default.fileExists(atPath: text) else {
                return "\(text) does not exist: install the key the district gave you (mode 0600), or answer raw"
            }
            return Self.secretProblem(text, missingIsFine: false)
        }
        return answer == "raw" ? nil : answer
    }

    /// What the agent would say of the secret file at `path`, or nil when it would read it.
    static func secretProblem(_ path: String, missingIsFine: Bool) -> String? {
        do {
            _ = try SecretFile.read(path)
            return nil
        } catch {
            return missingIsFine && error.kind == .missing ? nil : error.description
        }
    }

    // MARK: Devices

    private func findDevices() async throws -> [StationSetup.Device] {
        say("")
        say("== The devices")
        let simulated = command.ports.filter(ModemLineOpener.isSimulated)
        let serialPorts = command.ports.filter { !ModemLineOpener.isSimulated($0) }
        var lines: [(path: String, info: SerialPortInfo?)] = []
        if !serialPorts.isEmpty || simulated.isEmpty {
            do {
                lines = try Identify.lines(serialPorts)
            } catch {
                say("no serial port to look at: the file gets no devices (add them later, see docs/station.example.toml)")
            }
        }
        for line in lines { say("  \(Identify.name(line))") }
        var devices: [StationSetup.Device] = []
        var unrecognised: [(path: String, info: SerialPortInfo?)] = []
        if !lines.isEmpty {
            let outcomes = try await listenForTaps(lines)
            for (line, outcome) in zip(lines, outcomes) {
                if let finding = outcome.finding {
                    devices.append(SetupDevices.device(finding, line: line, number: devices.count + 1))
                } else {
                    say("  \(Identify.name(line)): \(outcome.unrecognised)")
                    if outcome.problem == nil { unrecognised.append(line) }
                }
            }
        }
        if !unrecognised.isEmpty {
            say("Looking for OSDP readers on \(unrecognised.map(\.path).joined(separator: ", ")) (a few seconds per port)...")
            var silent: [(path: String, info: SerialPortInfo?)] = []
            for line in unrecognised {
                let (readers, problem) = await SetupProbes.scanOSDP(line.path)
                if let problem { say("  \(Identify.name(line)): \(problem)") }
                guard let first = readers.first else {
                    if problem == nil { silent.append(line) }
                    continue
                }
                for reader in readers { say("  \(Identify.name(line)): \(reader)") }
                devices.append(SetupDevices.osdpBus(readers, baud: first.speed, line: line, number: devices.count + 1))
            }
            unrecognised = silent
        }
        let candidates = unrecognised.map(\.path) + simulated
        if !candidates.isEmpty, try await askYes("Is there a dry-contact alarm button wired to a serial adapter's pins?", default: true) {
            if let button = try await listenForButton(candidates) { devices.append(button) }
        }
        try await askPurposes(&devices)
        say("")
        say(devices.isEmpty ? "No device was recognised." : "Found \(devices.count) device(s):")
        for device in devices { say("  \(device.name): \(device.found)") }
        return devices
    }

    /// Listens on `lines` until every one is recognised, Enter, or `--seconds`.
    private func listenForTaps(_ lines: [(path: String, info: SerialPortInfo?)]) async throws -> [Identify.Outcome] {
        say("Tap a card on each card reader now (again if it is not named within a few seconds); the alarm box is heard by itself.")
        say("Press Enter when every reader is named (listening for up to \(command.seconds) s).")
        let deadline = ContinuousClock.now + .seconds(command.seconds)
        let input = input
        /// What ended a part of the wait.
        enum Ended: Sendable {
            case listening([Identify.Outcome])
            case enter(typed: Bool)
        }
        return await withTaskGroup(of: Ended.self) { group in
            group.addTask { .listening(await Identify.recognise(lines, until: deadline)) }
            group.addTask { .enter(typed: await input.line(until: deadline) != nil) }
            var outcomes: [Identify.Outcome] = []
            var typed = false
            while let next = await group.next() {
                switch next {
                case .listening(let heard): outcomes = heard
                case .enter(let pressed): typed = typed || pressed
                }
                // Either ends both: every port named or the time up, or Enter.
                group.cancelAll()
            }
            if !typed {
                // The listening ended by itself: the Enter asked for is taken here, so that it
                // does not answer the next question.
                say(outcomes.allSatisfy { $0.finding != nil } ? "Every port is named. Press Enter to go on." : "The time is up. Press Enter to go on.")
                _ = await input.line()
            }
            return outcomes
        }
    }

    private func listenForButton(_ paths: [String]) async throws -> StationSetup.Device? {
        let (sources, skipped) = await SetupProbes.openLines(paths)
        defer { for (_, source) in sources { source.close() } }
        for (path, why) in skipped { say("  \(path): \(why)") }
        guard !sources.isEmpty else {
            say("No port with modem-control lines is left to listen on; a button needs an RS-232 adapter with CTS/DSR/DCD/RI.")
            return nil
        }
        say("Listening to the lines of \(sources.map { paths[$0.index] }.joined(separator: ", ")): do not touch the button yet...")
        guard let button = await SetupProbes.findButton(
            sources, until: ContinuousClock.now + .seconds(command.buttonSeconds),
            settled: { say("Now press the alarm button and hold it for two seconds.") })
        else {
            say("No press was seen within \(command.buttonSeconds) s: check the button's wiring; the file gets no button.")
            return nil
        }
        say("  \(paths[button.probe.port]): the button, on \(button.probe.input.rawValue.uppercased()) (pin \(button.probe.input.db9Pin)) powered by \(button.probe.drive.rawValue.uppercased()) (pin \(button.probe.drive.db9Pin)), \(button.normallyClosed ? "normally closed" : "normally open")")
        say("Release it now.")
        return SetupDevices.button(button, path: paths[button.probe.port])
    }

    private func askPurposes(_ devices: inout [StationSetup.Device]) async throws {
        let readers = devices.indices.filter { devices[$0].readsCards }
        guard !readers.isEmpty else { return }
        say("What is each reader for? (\(StationSetup.knownPurposes.joined(separator: ", ")), or your own word)")
        for index in readers {
            if case .osdpBus(let baud, var osdpReaders) = devices[index].kind {
                for reader in osdpReaders.indices {
                    osdpReaders[reader].purpose = try await askRequired(
                        "  \(osdpReaders[reader].name) (OSDP address \(osdpReaders[reader].address))", default: osdpReaders[reader].purpose,
                        check: StationSetup.problem(purpose:))
                }
                devices[index].kind = .osdpBus(baud: baud, readers: osdpReaders)
            } else {
                devices[index].purpose = try await askRequired(
                    "  \(devices[index].name) (\(devices[index].found))", default: devices[index].purpose, check: StationSetup.problem(purpose:))
            }
        }
    }

    // MARK: The file

    private func write(_ setup: StationSetup) async throws {
        say("")
        say("== Writing \(command.config)")
        let path = command.config
        let fileManager = FileManager.default
        let text = setup.render(generatedAt: Date(), path: path)
        do {
            // Read back as `check-config` reads it before it replaces anything.
            try SetupFiles.install(text, at: path) { written in _ = try loadSettings(path: written) }
        } catch let exit as ExitCode {
            printError("\(path) was not replaced: the agent refuses the file setup made, for the reasons above")
            throw exit
        } catch {
            printError("cannot write \(path): \(error)")
            throw ExitCode(exitConfigurationError)
        }
        if !fileManager.fileExists(atPath: setup.stateDirectory) {
            // The service's StateDirectory= makes it too; made here for doctor and a child agent.
            try? fileManager.createDirectory(atPath: setup.stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        say("Written, and read back as `station-agent check-config \(path)` reads it.")
    }

    // MARK: The test alarm

    private func testAlarm() async throws -> Bool {
        say("")
        say("== A test alarm")
        let (_, settings) = try loadSettings(path: command.config)
        let agent: SetupAgent
        do {
            agent = try await SetupAgent.start(config: command.config, stateDirectory: settings.stateDirectory)
        } catch {
            say("FAIL: the agent did not start: \(error)")
            return false
        }
        say(agent.started)
        do {
            try await TestAlarm.pressAndFollow(settings, pressTimeout: command.buttonSeconds, deadlineMs: 2000, ackTimeout: 0)
        } catch {
            await agent.stop()
            if !(error is ExitCode) { say("FAIL: \(error)") }
            say("The test alarm failed: see above. `station-agent test-alarm` runs it again.")
            return false
        }
        await agent.stop()
        say(agent.stopped)
        return true
    }
}

extension StationSetup.Device {
    /// A card reader or an OSDP bus: card numbers, and the district key question.
    var readsCards: Bool {
        switch kind {
        case .cardReader, .osdpBus: true
        case .alarmBox, .alarmButton: false
        }
    }

    /// An alarm box or a button: something to test.
    var raisesAlarms: Bool { !readsCards }
}
