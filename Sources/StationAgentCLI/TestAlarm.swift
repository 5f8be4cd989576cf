import Agent
import ArgumentParser
import EventModel
import EventStore
import Foundation
import SIADC09
import StationConfig

/// `station-agent test-alarm`: the technician's guided check of the alarm path on site.
///
/// The running agent owns the devices, so this command watches the agent's store instead of
/// opening them: it marks the next alarm as a test (the platform sees `TEST` in its detail),
/// asks for a press, and shows each hop as the agent records it.
struct TestAlarm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-alarm",
        abstract: "Guided on-site test of the one-key alarm: press the button, watch each hop, get PASS or FAIL.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Seconds to wait for the press.") var pressTimeout = 60
    @Option(help: "Milliseconds from stored to received by the platform for a PASS (the field rule is 2000).")
    var deadlineMs = 2000
    @Option(help: "Also wait this many seconds for an operator to acknowledge (0: do not wait).") var ackTimeout = 0
    @Option(help: "platform: press the button and follow the agent; sia: send a DC-09 test event to a receiver directly.")
    var via = "platform"
    @Option(help: "With --via sia: the receiver as HOST:PORT (default: [sia] receiver of the configuration).") var receiver: String?
    @Option(help: "With --via sia: the account (hex; default: [sia] account).") var account: String?
    @Option(help: "With --via sia: the AES key as hex (default: [sia] key_file, if any).") var key: String?
    @Option(help: "With --via sia: the SIA event code to send: RP (test, default) or PA (panic).") var event = "RP"

    func validate() throws {
        guard via == "platform" || via == "sia" else { throw ValidationError("--via must be platform or sia; got \(via)") }
        guard DC09EventCode.named(event) != nil else { throw ValidationError("--event \(event) is not an SIA code this agent knows (RP, PA, TA, ...)") }
    }

    func run() async throws {
        if via == "sia" {
            try await runSIA()
            return
        }
        let (_, settings) = try loadSettings(path: options.config)
        try await Self.pressAndFollow(settings, pressTimeout: pressTimeout, deadlineMs: deadlineMs, ackTimeout: ackTimeout)
    }

    /// Marks the next alarm as a test, asks for a press and follows it through the running
    /// agent's store to the platform, printing each hop; throws `ExitCode.failure` on a FAIL.
    /// `setup` runs it too, once the agent runs with the file it wrote.
    static func pressAndFollow(_ settings: AgentSettings, pressTimeout: Int, deadlineMs: Int, ackTimeout: Int) async throws {
        let store: EventStore
        do {
            store = try EventStore.openReadOnly(directory: settings.stateDirectory)
        } catch {
            printError("\(error)\nIs the agent running with this configuration? (`systemctl status station-agent`)")
            throw ExitCode(1)
        }
        let marker = TestAlarmMarker(stateDirectory: settings.stateDirectory)
        do {
            try marker.arm(for: .seconds(pressTimeout + 30))
        } catch {
            printError("cannot mark the next alarm as a test in \(settings.stateDirectory): \(error)")
            throw ExitCode(1)
        }
        defer { marker.disarm() }

        let before = try await store.summary().lastSeq
        say("Press the alarm button now (waiting up to \(pressTimeout) s)...")
        let started = Date()
        guard let alarm = try await waitForAlarm(store, after: before, timeout: .seconds(pressTimeout)) else {
            say("FAIL: no alarm was stored within \(pressTimeout) s.")
            say("      Check the button's wiring and `station-agent status` (is the alarm device online?).")
            throw ExitCode.failure
        }
        let stored = alarm.storedAt
        say(hop("pressed → stored", alarm.storedAt.timeIntervalSince(started), "event \(alarm.id) seq \(alarm.seq) from \(alarm.event.device)"))

        var reached: [AlarmStage: Date] = [:]
        let deadline = Date().addingTimeInterval(Double(max(deadlineMs, 100)) / 1000 + 10)
        while Date() < deadline, reached[.received] == nil {
            if let latch = try await store.alarmLatches.latch(alarm.id) {
                for stage in AlarmStage.allCases where stage <= latch.stage && reached[stage] == nil {
                    reached[stage] = Date()
                    if stage != .stored { say(hop(stage.rawValue, Date().timeIntervalSince(stored), "")) }
                }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard let received = reached[.received] else {
            say("FAIL: the platform did not acknowledge the alarm within \(Int(deadline.timeIntervalSince(stored))) s.")
            say("      The alarm is stored and latched; the agent keeps sending it. Check the network and `station-agent status`.")
            throw ExitCode.failure
        }
        let toPlatform = received.timeIntervalSince(stored) * 1000
        if ackTimeout > 0 {
            let ackDeadline = Date().addingTimeInterval(Double(ackTimeout))
            say("Waiting up to \(ackTimeout) s for an operator to acknowledge...")
            while Date() < ackDeadline {
                if let latch = try await store.alarmLatches.latch(alarm.id), latch.stage >= .acknowledged {
                    say(hop("acknowledged by an operator", Date().timeIntervalSince(stored), ""))
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            if (try await store.alarmLatches.latch(alarm.id))?.stage ?? .stored < .acknowledged {
                say("FAIL: no operator acknowledged the test alarm within \(ackTimeout) s.")
                throw ExitCode.failure
            }
        }
        guard toPlatform <= Double(deadlineMs) else {
            say(String(format: "FAIL: the platform received the alarm after %.0f ms; the limit is %d ms.", toPlatform, deadlineMs))
            throw ExitCode.failure
        }
        say(String(format: "PASS: alarm stored and received by the platform in %.0f ms (limit %d ms).", toPlatform, deadlineMs))
        say("The alarm stays latched at the kiosk until it is reset (key switch or platform).")
    }

    /// Sends one DC-09 event straight to a receiver and reports ACK/NAK/DUH/timeout.
    private func runSIA() async throws {
        var sia: StationConfiguration.Sia?
        if FileManager.default.fileExists(atPath: options.config) {
            sia = try loadSettings(path: options.config).0.sia
        }
        guard let target = receiver ?? sia.map({ "\($0.host):\($0.port)" }) else {
            throw ValidationError("--via sia needs --receiver HOST:PORT (or a [sia] section in \(options.config))")
        }
        let parts = target.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--receiver \(target): expected HOST:PORT") }
        guard let accountText = account ?? sia?.account else {
            throw ValidationError("--via sia needs --account HEX (or a [sia] section in \(options.config))")
        }
        let configuration: DC09TransmitterConfiguration
        let message: DC09Event
        do {
            var dcKey: DC09Key?
            if let key { dcKey = try DC09Key(hex: key) }
            else if let sia, sia.keyFile != nil {
                dcKey = try AgentSettings.dc09Settings(sia, file: options.config).configuration.key
            }
            configuration = try DC09TransmitterConfiguration(
                account: DC09Account(accountText), receiver: sia?.receiverNumber.map { number throws(DC09Error) in try DC09ReceiverNumber(number) },
                prefix: DC09LinePrefix(sia?.prefix ?? "0"), format: sia?.format == "ADM-CID" ? .admCID : .siaDCS, key: dcKey,
                responseTimeout: .seconds(10), retryInterval: .seconds(10), linkTestInterval: nil)
            message = try DC09Event(code: DC09EventCode.named(event)!)
        } catch {
            printError("\(error)")
            throw ExitCode(exitConfigurationError)
        }
        say("Sending \(event) to \(target) as account \(accountText)\(configuration.key == nil ? "" : " (encrypted)")...")
        let report = await DC09Probe.run(event: message, configuration: configuration, host: String(parts[0]), port: port)
        for step in report.steps { say("  \(step)") }
        say(report.verdict)
        if !report.passed { throw ExitCode.failure }
    }

    private static func waitForAlarm(_ store: EventStore, after seq: Int64, timeout: Duration) async throws -> StoredEvent? {
        let end = ContinuousClock.now + timeout
        var cursor = seq
        while ContinuousClock.now < end {
            for record in try await store.events(afterSeq: cursor, limit: 100) {
                cursor = record.event.seq
                if record.event.kind == .alarm { return record.event }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    private static func hop(_ name: String, _ seconds: TimeInterval, _ detail: String) -> String {
        "  " + name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " +%6.0f ms  ", seconds * 1000) + detail
    }
}
