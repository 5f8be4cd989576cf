import ArgumentParser
import DeviceProtocols
import EventModel
import EventStore
import Foundation
import SeededRandom
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import PlatformAPI
import PlatformEmulator
import ServiceLifecycle
import Synchronization
import VirtualDevices

/// The power-cut test: a real `station-agent` under load from virtual devices, killed with SIGKILL
/// at random moments and restarted each time; afterwards every event the agent committed must
/// have reached the platform emulator exactly once (after de-duplication), with no gaps.
struct PowerCut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "power-cut",
        abstract: "Kill a loaded station-agent with SIGKILL N times and prove nothing it accepted was lost.",
        discussion: """
            Starts the platform emulator in this process, two virtual card readers and a virtual \
            alarm box on pseudo-terminals, and a real station-agent child. While cards are tapped at \
            --taps-per-second (and the alarm box is pressed now and then), the agent is killed with \
            SIGKILL at a random moment --kills times and restarted each time. Then the load stops, the \
            agent drains its queue and is stopped, and the checker compares the agent's store (what \
            it committed) with what the emulator received. The last line reads \
            `kills=N accepted=A lost=L duplicates=D`; the exit status is non-zero if L > 0 or the \
            agent's sequence numbers have a gap.
            """)

    @Option(help: "How many times to kill the agent.") var kills = 10
    @Option(help: "Card taps per second (spread over the readers).") var tapsPerSecond = 20.0
    @Option(help: "Seed of the random kill moments (default: from the clock; printed).") var seed: UInt64?
    @Option(help: "Longest time the agent runs between two kills, in milliseconds.") var maxUptimeMs = 2500
    @Option(help: "Seconds to wait for the queue to drain after the last kill.") var drainTimeout = 90
    @Option(help: "The station-agent binary (default: next to this one).") var agent: String?
    @Option(help: "Working directory (default: a new temporary one, removed unless --keep).") var workdir: String?
    @Flag(help: "Keep the working directory afterwards.") var keep = false

    func validate() throws {
        guard kills >= 0 else { throw ValidationError("--kills must be 0 or more") }
        guard tapsPerSecond > 0, tapsPerSecond <= 1000 else { throw ValidationError("--taps-per-second must be in (0, 1000]") }
        guard maxUptimeMs >= 200 else { throw ValidationError("--max-uptime-ms must be at least 200") }
        guard drainTimeout > 0 else { throw ValidationError("--drain-timeout must be positive") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let agentPath = try SimulatorSupport.locateAgent(agent)
        let directory = try SimulatorSupport.makeWorkdir(workdir, prefix: "station-power-cut")
        defer {
            if !keep && workdir == nil { try? FileManager.default.removeItem(atPath: directory) }
        }
        let seed = self.seed ?? UInt64(Date().timeIntervalSince1970 * 1000)
        PowerCut.say("power-cut: seed=\(seed) kills=\(kills) taps-per-second=\(tapsPerSecond) workdir=\(directory)")

        let verdict = try await SimulatorSupport.withEmulator(databasePath: directory + "/platform.sqlite") { port, store in
            try await runKills(port: port, store: store, directory: directory, agentPath: agentPath, seed: seed)
        }
        for problem in verdict.problems.prefix(20) { PowerCut.say("power-cut: PROBLEM \(problem)") }
        PowerCut.say("kills=\(verdict.kills) accepted=\(verdict.accepted) lost=\(verdict.lost) duplicates=\(verdict.duplicates)")
        if verdict.lost > 0 || !verdict.problems.isEmpty { throw ExitCode.failure }
    }

    private static let stationID = "ST-POWERCUT"

    /// Writes one line to standard output unbuffered, so progress shows up as it happens in a pipe.
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private func runKills(port: Int, store: EmulatorStore, directory: String, agentPath: String, seed: UInt64) async throws -> PowerCutVerdict {
        try FileManager.default.createDirectory(atPath: directory + "/dev", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        let readers = [
            try VirtualCardReader(profile: .rdm6300, linkPath: directory + "/dev/reader-1"),
            try VirtualCardReader(profile: .textDecimal, linkPath: directory + "/dev/reader-2"),
        ]
        let box = try VirtualAlarmBox(linkPath: directory + "/dev/alarm-1", heartbeatInterval: .seconds(2))
        defer {
            for reader in readers { reader.device.unplug() }
            box.device.unplug()
        }
        let configPath = directory + "/station.toml"
        try Self.configuration(port: port, directory: directory, stationID: Self.stationID)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let logPath = directory + "/agent.log"
        FileManager.default.createFile(atPath: logPath, contents: nil)

        var random = SplitMix64(seed: seed)
        let load = LoadSwitch()
        let interval = Duration.milliseconds(max(1, Int(1000 / tapsPerSecond)))
        let (killsDone, checked) = try await withThrowingTaskGroup(of: Void.self, returning: (Int, PowerCutVerdict).self) { group in
            group.addTask { try await Self.tapAndPress(readers: readers, box: box, load: load, interval: interval) }
            var done = 0
            for round in 0..<kills {
                let child = try AgentChild(path: agentPath, configPath: configPath, output: .appendTo(logPath))
                let uptime = 150 + Int(random.next() % UInt64(maxUptimeMs - 150))
                try await Task.sleep(for: .milliseconds(uptime))
                let wasRunning = child.isRunning
                child.kill()
                done += 1
                PowerCut.say("power-cut: kill \(round + 1)/\(kills) after \(uptime) ms (pid \(child.pid)\(wasRunning ? "" : ", had already exited with \(child.exitStatus)"))")
            }
            // Keep the load on for a moment against the final agent, then stop it.
            let last = try AgentChild(path: agentPath, configPath: configPath, output: .appendTo(logPath))
            try await Task.sleep(for: .seconds(1))
            load.running.store(false, ordering: .relaxed)
            try await group.next()
            let verdict = try await Self.drain(
                agent: last, store: store, directory: directory, stationID: Self.stationID, timeout: .seconds(drainTimeout))
            last.stop()
            return (done, verdict)
        }
        var verdict = checked
        verdict.kills = killsDone
        PowerCut.say(
            "power-cut: taps written to the virtual readers: \(load.taps.load(ordering: .relaxed))"
                + (keep || workdir != nil ? "; agent log: \(logPath)" : " (agent log removed; --keep keeps it)"))
        return verdict
    }

    /// The load: a tap on the readers in turn every `interval`, and now and then a press,
    /// release and key-switch reset of the alarm box, until `load` is switched off.
    static func tapAndPress(readers: [VirtualCardReader], box: VirtualAlarmBox, load: LoadSwitch, interval: Duration) async throws {
        var index = 0
        while load.running.load(ordering: .relaxed) {
            let reader = readers[index % readers.count]
            let uid = reader.profile == .textDecimal
                ? String(format: "%010d", 5_000_000 + index) : String(format: "%010X", 0x2B_0000_0000 + index)
            // A tap while the agent is down goes nowhere (nobody holds the port): that is a tap
            // never accepted, which the checker does not count.
            if (try? reader.tap(uid: uid)) != nil { load.taps.add(1, ordering: .relaxed) }
            if index % 97 == 50 { box.press() }
            if index % 97 == 53 { box.release() }
            if index % 97 == 90 { box.keySwitchReset() }
            index += 1
            try await Task.sleep(for: interval)
        }
    }

    /// Waits until everything the agent committed reached the platform (or the timeout), then
    /// compares the two sides.
    static func drain(
        agent: AgentChild, store: EmulatorStore, directory: String, stationID: String, timeout: Duration
    ) async throws -> PowerCutVerdict {
        let deadline = ContinuousClock.now + timeout
        var verdict = try await check(store: store, directory: directory, stationID: stationID)
        while verdict.lost > 0 && ContinuousClock.now < deadline && agent.isRunning {
            try await Task.sleep(for: .milliseconds(250))
            verdict = try await check(store: store, directory: directory, stationID: stationID)
        }
        if !agent.isRunning { verdict.problems.append("the last agent exited early with status \(agent.exitStatus)") }
        return verdict
    }

    static func check(store: EmulatorStore, directory: String, stationID: String) async throws -> PowerCutVerdict {
        let agentStore = try EventStore.openReadOnly(directory: directory + "/state")
        var committed: [StoredRecord] = []
        var after: Int64 = 0
        while true {
            let page = try await agentStore.events(afterSeq: after, limit: 5000)
            guard let last = page.last else { break }
            committed += page
            after = last.event.seq
        }
        var received: [String: ReceivedEvent] = [:]
        var receipt: Int64 = 0
        var problems: [String] = []
        while true {
            let page = try await store.received(station: stationID, after: receipt, limit: 5000)
            if page.events.isEmpty { break }
            for event in page.events {
                if received[event.event.id] != nil { problems.append("the platform stored event \(event.event.id) twice") }
                received[event.event.id] = event
            }
            receipt = page.next
        }
        var lost = 0
        var expectedSeq: Int64 = committed.first?.event.seq ?? 1
        if expectedSeq != 1 { problems.append("the agent's first sequence number is \(expectedSeq), not 1") }
        for record in committed {
            if record.event.seq != expectedSeq {
                problems.append("sequence gap in the agent's store: \(expectedSeq)..<\(record.event.seq) missing")
            }
            expectedSeq = record.event.seq + 1
            guard let arrived = received[record.event.id] else {
                lost += 1
                continue
            }
            if arrived.event.seq != record.event.seq {
                problems.append("event \(record.event.id) has seq \(record.event.seq) at the agent but \(arrived.event.seq) at the platform")
            }
        }
        let committedIDs = Set(committed.map(\.event.id))
        for id in received.keys where !committedIDs.contains(id) {
            problems.append("the platform received event \(id), which the agent's store does not hold")
        }
        let stats = try await store.stats()
        return PowerCutVerdict(
            kills: 0, accepted: committed.count, lost: lost, duplicates: stats.duplicates, problems: problems,
            rejected: committed.filter { $0.outcome == .rejected }.count)
    }

    static func configuration(
        port: Int, directory: String, stationID: String, extraPlatform: String = "", extraDevices: String = ""
    ) -> String {
        """
        # Written by `station-sim power-cut` or `chaos`.
        [station]
        id = "\(stationID)"
        name = "Power-cut test station"
        state_dir = "\(directory)/state"

        [platform]
        url = "http://127.0.0.1:\(port)"
        batch_size = 100
        retry_initial_ms = 50
        retry_max_ms = 500
        \(extraPlatform)

        [privacy]
        # The test compares the card numbers it taps with what the platform received.
        card_ids = "raw"

        [[device]]
        name = "reader-1"
        kind = "card-reader"
        profile = "\(ReaderProfile.rdm6300.rawValue)"
        purpose = "check-in"
        port = "\(directory)/dev/reader-1"
        dedup_window_ms = 0
        reopen_initial_ms = 50
        reopen_max_ms = 200

        [[device]]
        name = "reader-2"
        kind = "card-reader"
        profile = "\(ReaderProfile.textDecimal.rawValue)"
        purpose = "volunteer"
        port = "\(directory)/dev/reader-2"
        dedup_window_ms = 0
        reopen_initial_ms = 50
        reopen_max_ms = 200

        [[device]]
        name = "alarm-1"
        kind = "alarm-box"
        purpose = "one-key-alarm"
        port = "\(directory)/dev/alarm-1"
        supervision_seconds = 30
        reopen_initial_ms = 50
        reopen_max_ms = 200

        \(extraDevices)
        """
    }
}

/// What the checker found.
struct PowerCutVerdict: Sendable {
    var kills: Int
    /// Events the agent committed (its store's rows).
    var accepted: Int
    /// Committed events the platform never received.
    var lost: Int
    /// Events the platform received again and discarded.
    var duplicates: Int64
    /// Anything else wrong: sequence gaps, events received twice, events the agent never stored.
    var problems: [String]
    /// Events the agent's store holds as rejected by the platform (every event the simulator
    /// makes is valid, so each one is a wrong rejection).
    var rejected = 0
}

/// Shared between the load task and the kill loop.
final class LoadSwitch: Sendable {
    let running = Atomic<Bool>(true)
    let taps = Atomic<Int>(0)
}

