import ArgumentParser
import AsyncHTTPClient
import DeviceProtocols
import EventModel
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PlatformAPI
import PlatformEmulator
import ServiceLifecycle
import Synchronization
import VirtualDevices

/// A whole simulated station: the platform emulator and two virtual readers in this process, a
/// real `station-agent` process wired to them, cards tapped, and each event's path shown live.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a whole simulated station and watch card taps travel to the platform.",
        discussion: """
            Starts the platform emulator (loopback, any free port), two virtual card readers on \
            pseudo-terminals (an RDM6300 for check-in and a decimal Wiegand converter for \
            volunteers), and a real station-agent process configured for them; taps --taps cards, \
            prints each tap, the agent's log, and each arrival at the platform; exits 0 only when \
            every tap was confirmed by the platform exactly once.
            """)

    @Option(help: "How many cards to tap.") var taps = 10
    @Option(help: "How many one-key alarms to press on a virtual alarm box (each acknowledged by the operator, then reset).")
    var alarms = 1
    @Option(help: "Milliseconds between taps.") var intervalMs = 300
    @Option(help: "Seconds to wait for every tap to reach the platform.") var timeout = 60
    @Option(help: "The station-agent binary (default: next to this one).") var agent: String?
    @Option(help: "Working directory for the state, links and config (default: a new temporary one).") var workdir: String?
    @Flag(help: "Keep the working directory afterwards.") var keep = false

    func validate() throws {
        guard taps >= 0 else { throw ValidationError("--taps must be 0 or more") }
        guard alarms >= 0 else { throw ValidationError("--alarms must be 0 or more") }
        guard intervalMs >= 0 else { throw ValidationError("--interval-ms must be 0 or more") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let agentPath = try SimulatorSupport.locateAgent(agent)
        let directory = try SimulatorSupport.makeWorkdir(workdir, prefix: "station-demo")
        defer {
            if !keep && workdir == nil { try? FileManager.default.removeItem(atPath: directory) }
        }
        let output = DemoOutput()
        output.say("demo", "working in \(directory)")

        let outcome = try await SimulatorSupport.withEmulator(databasePath: directory + "/platform.sqlite") { port, store in
            output.say("platform", "emulator listening on http://127.0.0.1:\(port)")
            return try await runStation(platformPort: port, store: store, directory: directory, agentPath: agentPath, output: output)
        }
        if outcome.missing.isEmpty && outcome.alarmsClosed == alarms {
            output.say(
                "demo",
                "PASS: \(outcome.confirmed)/\(taps) taps confirmed by the platform, each stored once (duplicates discarded: \(outcome.duplicates)); \(outcome.alarmsClosed)/\(alarms) alarms acknowledged back at the button")
        } else if outcome.alarmsClosed < alarms {
            output.say("demo", "FAIL: only \(outcome.alarmsClosed) of \(alarms) alarms came back acknowledged to the alarm box within the timeout")
            throw ExitCode.failure
        } else {
            output.say(
                "demo",
                "FAIL: \(outcome.missing.count) of \(taps) taps did not reach the platform within \(timeout) s: \(outcome.missing.sorted().joined(separator: ", "))")
            throw ExitCode.failure
        }
    }

    private func runStation(
        platformPort: Int, store: EmulatorStore, directory: String, agentPath: String, output: DemoOutput
    ) async throws -> DemoOutcome {
        let readers = [
            ("reader-1", ReaderProfile.rdm6300, "check-in"),
            ("reader-2", ReaderProfile.textDecimal, "volunteer"),
        ]
        try FileManager.default.createDirectory(atPath: directory + "/dev", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        var virtual: [VirtualCardReader] = []
        for (name, profile, purpose) in readers {
            let reader = try VirtualCardReader(profile: profile, linkPath: "\(directory)/dev/\(name)")
            virtual.append(reader)
            output.say(name, "virtual \(profile.displayName) for \(purpose) on \(reader.linkPath) -> \(reader.device.currentSlavePath ?? "?")")
        }
        let configPath = directory + "/station.toml"
        let box = try VirtualAlarmBox(linkPath: "\(directory)/dev/alarm-1", heartbeatInterval: .seconds(5))
        defer { box.stop() }
        output.say("alarm-1", "virtual one-key alarm box on \(box.linkPath)")
        try Self.configuration(platformPort: platformPort, directory: directory, readers: readers)
            .write(toFile: configPath, atomically: true, encoding: .utf8)

        let agent = try AgentChild(path: agentPath, configPath: configPath, output: .echo(output))
        defer { agent.stop() }
        output.say("demo", "started station-agent (pid \(agent.pid)) with \(configPath)")

        // Wait until the agent announced itself to the platform.
        let started = try await waitFor(seconds: 20) {
            try store.received(station: "ST-DEMO", after: 0, limit: 100).events.contains { $0.event.kind == "agent_started" }
        }
        guard started else { throw DemoFailure("station-agent did not reach the platform within 20 s; see its log above") }
        output.say("platform", "station ST-DEMO is up (agent_started received)")

        var tapped: [String: (reader: String, at: Date)] = [:]
        var seen = Set<String>()
        var after: Int64 = 0
        func drainArrivals() throws {
            let page = try store.received(station: "ST-DEMO", after: after, limit: 1000)
            after = page.next
            for received in page.events where received.event.kind == "card_tap" {
                guard let uid = received.event.card?.uid else { continue }
                seen.insert(uid)
                var line = "received seq \(received.event.seq) card_tap from \(received.event.device) card …\(uid.suffix(4))"
                if let tap = tapped[uid], let receivedAt = Timestamp.parse(received.receivedAt) {
                    line += " (\(Int((receivedAt.timeIntervalSince(tap.at) * 1000).rounded())) ms after the tap)"
                }
                output.say("platform", line)
            }
        }

        for index in 0..<taps {
            let slot = index % readers.count
            let reader = virtual[slot]
            let uid = reader.profile == .textDecimal ? String(format: "%010d", 4_000_000 + index) : String(format: "%010X", 0x1A_0000_0000 + index)
            try reader.tap(uid: uid)
            tapped[uid] = (readers[slot].0, Date())
            output.say(readers[slot].0, "tap card …\(uid.suffix(4)) (\(readers[slot].2))")
            // Watch the platform while waiting for the next tap.
            let next = ContinuousClock.now + .milliseconds(intervalMs)
            repeat {
                try await Task.sleep(for: .milliseconds(10))
                try drainArrivals()
            } while ContinuousClock.now < next
        }
        let deadline = ContinuousClock.now + .seconds(timeout)
        while seen.count < tapped.count && ContinuousClock.now < deadline && agent.isRunning {
            try drainArrivals()
            try await Task.sleep(for: .milliseconds(50))
        }
        try drainArrivals()
        if !agent.isRunning {
            output.say("demo", "station-agent exited early with status \(agent.exitStatus)")
        }
        var closed = 0
        for number in 0..<alarms where agent.isRunning {
            if try await pressAlarm(number + 1, box: box, store: store, platformPort: platformPort, output: output) { closed += 1 }
        }
        let stats = try await store.stats()
        return DemoOutcome(
            confirmed: tapped.keys.filter(seen.contains).count, missing: Set(tapped.keys).subtracting(seen),
            duplicates: stats.duplicates, alarmsClosed: closed)
    }

    /// One alarm's whole loop: press → platform → operator acknowledges → the box shows it →
    /// key switch reset. Returns whether the loop closed.
    private func pressAlarm(_ number: Int, box: VirtualAlarmBox, store: EmulatorStore, platformPort: Int, output: DemoOutput) async throws -> Bool {
        let before = try await store.alarms(station: "ST-DEMO", state: nil, limit: 1000).count
        let pressed = ContinuousClock.now
        box.press()
        output.say("alarm-1", "ALARM #\(number) pressed")
        var alarm: AlarmView?
        let deadline = ContinuousClock.now + .seconds(timeout)
        while alarm == nil && ContinuousClock.now < deadline {
            let all = try await store.alarms(station: "ST-DEMO", state: nil, limit: 1000)
            if all.count > before { alarm = all.first }
            try await Task.sleep(for: .milliseconds(5))
        }
        guard let alarm else { return false }
        output.say("platform", "ALARM received from \(alarm.device) (\(Self.milliseconds(pressed.duration(to: .now))) ms after the press)")
        _ = await box.waitForIndication(.received, timeout: .seconds(5))
        output.say("alarm-1", "shows: received by the platform")
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(platformPort)/v1/operator/alarms/\(alarm.eventId)/acknowledge")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"operatorName": "demo operator"}"#))
        let acknowledgedAt = ContinuousClock.now
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        guard response.status == .ok else {
            output.say("platform", "operator action failed: \(response.status)")
            return false
        }
        output.say("platform", "operator acknowledged the alarm")
        guard await box.waitForIndication(.acknowledged, timeout: .seconds(10)) else {
            output.say("alarm-1", "the acknowledgement did not come back (box shows \(box.currentIndication))")
            return false
        }
        output.say("alarm-1", "shows: acknowledged by an operator (\(Self.milliseconds(acknowledgedAt.duration(to: .now))) ms after the operator acted)")
        box.keySwitchReset()
        _ = await box.waitForIndication(.idle, timeout: .seconds(5))
        output.say("alarm-1", "reset by key switch; back to idle")
        return true
    }

    private func waitFor(seconds: Int, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try condition()
    }

    static func configuration(platformPort: Int, directory: String, readers: [(String, ReaderProfile, String)]) -> String {
        var text = """
            # Written by `station-sim demo`.
            [station]
            id = "ST-DEMO"
            name = "Demo service station"
            state_dir = "\(directory)/state"

            [station.location]
            district = "demo-district"
            community = "demo-community"
            grid = "grid-01"

            [platform]
            url = "http://127.0.0.1:\(platformPort)"
            batch_size = 100
            retry_initial_ms = 100
            retry_max_ms = 2000

            [privacy]
            # The demo shows the card numbers it taps arriving; a real station sends pseudonyms.
            card_ids = "raw"

            """
        text += """

            [[device]]
            name = "alarm-1"
            kind = "alarm-box"
            purpose = "one-key-alarm"
            port = "\(directory)/dev/alarm-1"

            """
        for (name, profile, purpose) in readers {
            text += """

                [[device]]
                name = "\(name)"
                kind = "card-reader"
                profile = "\(profile.rawValue)"
                purpose = "\(purpose)"
                port = "\(directory)/dev/\(name)"

                """
        }
        return text
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}

struct DemoOutcome: Sendable {
    var confirmed: Int
    var missing: Set<String>
    var duplicates: Int64
    var alarmsClosed: Int
}

struct DemoFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Prints demo lines with a time stamp and a source column, safely from several threads.
final class DemoOutput: Sendable {
    private let start = ContinuousClock.now
    private let lock = Mutex(())

    func say(_ source: String, _ text: String) {
        let elapsed = Demo.milliseconds(start.duration(to: .now))
        let stamp = String(format: "%7.2fs", Double(elapsed) / 1000)
        let padded = source.padding(toLength: 9, withPad: " ", startingAt: 0)
        lock.withLock { _ in
            FileHandle.standardOutput.write(Data("[\(stamp)] \(padded)│ \(text)\n".utf8))
        }
    }
}

