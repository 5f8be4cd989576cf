import ArgumentParser
import DeviceProtocols
import Foundation
import Logging
import ToolSupport
import VirtualDevices

/// `station-bench`: the figures of issue 7, each beside the physical limit measured in the same
/// run. Prints a table and writes `latest.json` and `latency.svg` into the results directory.
@main
struct StationBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "station-bench",
        abstract: "Measure durable ingest, alarm latency, backlog drain, footprint and decoder throughput (release build).",
        discussion: """
            Needs station-agent and station-sim, found next to this binary, then on PATH: \
            `swift build -c release` builds all three, then `swift run -c release station-bench --quick`.
            """)

    /// ArgumentParser's `main`, with a Foundation file error said plainly (``ReadableError``).
    static func main() async { await mainWithReadableErrors() }

    @Flag(help: "Smaller counts (100,000-event backlog, 300 presses per phase): a quick look in under 5 minutes.")
    var quick = false

    @Option(help: "Scratch directory on the disk under test (default: a new directory in /var/tmp).")
    var workdir: String?

    @Option(help: "Where latest.json and latency.svg go (default: Benchmarks/results under the current directory).")
    var results: String?

    @Option(help: "Alarm presses per phase (default 1000, or 300 with --quick).")
    var presses: Int?

    @Option(help: "Events in the backlog that drains (default 1000000, or 100000 with --quick).")
    var backlog: Int?

    @Option(help: "The agent's platform.batch_size during the drain (1 to 1000).")
    var batchSize = 1000

    @Flag(help: "Only the decoders and the disk: no agent process.")
    var skipAgent = false

    @Option(help: "The station-agent binary to measure (default: next to this one, then on PATH).")
    var agent: String?

    /// A sibling program (``SiblingBinary``), or one line saying what to build and exit 2.
    static func sibling(_ name: String, override: String?) throws -> String {
        do {
            return try SiblingBinary.locate(name, override: override)
        } catch {
            FileHandle.standardError.write(Data("station-bench: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    func run() async throws {
        if !skipAgent {
            // Before minutes of other phases: a missing binary is said at once.
            _ = try Self.sibling("station-agent", override: agent)
            _ = try Self.sibling("station-sim", override: nil)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let presses = self.presses ?? (quick ? 300 : 1000)
        let backlog = self.backlog ?? (quick ? 100_000 : 1_000_000)
        let work = workdir ?? "/var/tmp/station-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let resultsDirectory = results ?? FileManager.default.currentDirectoryPath + "/Benchmarks/results"
        try FileManager.default.createDirectory(atPath: resultsDirectory, withIntermediateDirectories: true)
        var report = Report()
        let clock = ContinuousClock()
        let began = clock.now
        func say(_ text: String) {
            let elapsed = String(format: "%6.1f s", (clock.now - began).seconds)
            FileHandle.standardError.write(Data("[\(elapsed)] \(text)\n".utf8))
        }
        say("mode \(quick ? "quick" : "full"), workdir \(work), \(ProcessInfo.processInfo.activeProcessorCount) cores")

        // 1. Decoders.
        say("decoders")
        try MicroBenchmarks.decoders(quick: quick, into: &report)

        // 2. The disk: raw limits, then the store.
        say("raw fdatasync")
        let fsync = try MicroBenchmarks.rawFsync(directory: work, count: quick ? 3000 : 10_000)
        report.add("raw_fsync_per_s", fsync, "1/s", goal: nil, limit: nil)
        say("raw SQLite FULL, 1000 rows per transaction")
        let raw = try MicroBenchmarks.rawSQLiteBatched(directory: work, count: quick ? 200_000 : 1_000_000)
        report.add("raw_sqlite_full_batch_eps", raw, "events/s", goal: nil, limit: fsync)
        say("EventStore.append from 100 concurrent writers")
        let ingest = try await MicroBenchmarks.durableIngest(directory: work, count: quick ? 100_000 : 500_000, writers: 100)
        report.add(
            "durable_ingest_eps", ingest, "events/s", goal: ">= 0.5 x raw_sqlite_full_batch_eps", limit: raw,
            met: ingest >= raw / 2)

        // 3. The agent.
        var idle = Samples()
        var loaded = Samples()
        if !skipAgent {
            let scenario = AgentScenario(work: work, presses: presses, backlog: backlog, batchSize: batchSize, agent: agent, say: say)
            try await scenario.run(into: &report, idle: &idle, loaded: &loaded)
        }

        // 4. Output.
        let table = report.table()
        print(table)
        let json = try report.json()
        try json.write(to: URL(fileURLWithPath: resultsDirectory + "/latest.json"))
        let title = "\(quick ? "quick" : "full") run, \(ProcessInfo.processInfo.activeProcessorCount) cores, "
            + "backlog \(backlog), \(ISO8601DateFormatter().string(from: Date()))"
        try LatencyChart(idle: idle, loaded: loaded, title: title).svg()
            .write(toFile: resultsDirectory + "/latency.svg", atomically: true, encoding: .utf8)
        print("wrote \(resultsDirectory)/latest.json and \(resultsDirectory)/latency.svg")
        if workdir == nil { try? FileManager.default.removeItem(atPath: work) }
    }
}

/// The end-to-end part: a real `station-agent` process with two virtual card readers and a
/// virtual alarm box, talking to `station-sim emulator` on loopback.
struct AgentScenario {
    let work: String
    let presses: Int
    let backlog: Int
    let batchSize: Int
    /// `--agent`, when given.
    let agent: String?
    let say: (String) -> Void

    func run(into report: inout Report, idle: inout Samples, loaded: inout Samples) async throws {
        let agentPath = try StationBench.sibling("station-agent", override: agent)
        let simPath = try StationBench.sibling("station-sim", override: nil)
        let clock = ContinuousClock()

        // binary size
        let size = (try FileManager.default.attributesOfItem(atPath: agentPath)[.size] as? NSNumber)?.doubleValue ?? 0
        report.add("binary_mb", size / 1_048_576, "MB", goal: nil, limit: nil)

        // footprint floor
        say("building the footprint floor (swiftc)")
        let floorBinary = try buildFloorProgram(directory: work)
        let floor = try Child(executable: floorBinary, arguments: [], logPath: work + "/floor.log")
        usleep(1_500_000)
        let floorRSS = floor.rssMB ?? .nan
        floor.stop()

        // the platform emulator
        say("starting station-sim emulator")
        let emulatorDB = work + "/emulator.sqlite"
        let emulator = try Child(
            executable: simPath, arguments: ["emulator", "--port", "0", "--db", emulatorDB, "--log-level", "error"],
            logPath: work + "/emulator.log")
        defer { emulator.stop() }
        var port = 0
        let listening = waitUntil(timeout: .seconds(30), interval: .milliseconds(20)) {
            if let range = emulator.log.range(of: "listening on http://127.0.0.1:") {
                port = Int(emulator.log[range.upperBound...].prefix { $0.isNumber }) ?? 0
            }
            return port > 0
        }
        try check(listening, "station-sim emulator did not print `listening on` within 30 s; its log: \(emulator.log)")
        let probe = try EmulatorProbe(path: emulatorDB)

        // the devices
        try FileManager.default.createDirectory(atPath: work + "/dev", withIntermediateDirectories: true)
        let logger = Logger(label: "station.bench")
        let reader1 = try VirtualCardReader(profile: .rdm6300, linkPath: work + "/dev/reader-1", logger: logger)
        let reader2 = try VirtualCardReader(profile: .textDecimal, linkPath: work + "/dev/reader-2", logger: logger)
        let box = try VirtualAlarmBox(linkPath: work + "/dev/alarm-1", heartbeatInterval: .seconds(10), logger: logger)
        defer { box.stop() }
        _ = (reader1, reader2)

        // Phase A: idle agent.
        let idleState = work + "/state-idle"
        try FileManager.default.createDirectory(atPath: idleState, withIntermediateDirectories: true)
        let idleConfig = try writeConfiguration(station: "ST-BENCH-IDLE", state: idleState, port: port)
        say("starting station-agent (idle, two readers and an alarm box)")
        let agent = try Child(executable: agentPath, arguments: ["run", "--config", idleConfig], logPath: work + "/agent-idle.log")
        var started = waitUntil(timeout: .seconds(30), interval: .milliseconds(5)) { probe.heartbeatCount(station: "ST-BENCH-IDLE") != nil }
        try check(started, "station-agent did not send its heartbeat within 30 s; its log (\(agent.logPath)): \(agent.log.suffix(2000))")
        usleep(3_000_000)
        let rssIdle = agent.rssMB ?? .nan
        let idleSeconds = presses >= 1000 ? 30.0 : 10.0
        say("measuring idle CPU for \(Int(idleSeconds)) s")
        let cpu0 = agent.cpuSeconds ?? 0
        let wall0 = clock.now
        usleep(UInt32(idleSeconds * 1_000_000))
        let cpuPct = ((agent.cpuSeconds ?? 0) - cpu0) / (clock.now - wall0).seconds * 100
        report.add("rss_floor_mb", floorRSS, "MB", goal: nil, limit: nil)
        report.add("rss_idle_mb", rssIdle, "MB", goal: "<= 1.3 x rss_floor_mb", limit: floorRSS, met: rssIdle <= 1.3 * floorRSS)
        report.add("idle_cpu_pct", cpuPct, "% core", goal: "< 0.5", limit: nil, met: cpuPct < 0.5)

        say("\(presses) alarm presses, idle")
        var failures = 0
        for _ in 0..<presses {
            if let ms = try press(box: box, probe: probe, failures: &failures) { idle.record(ms) }
        }
        try check(idle.count > 0, "no alarm press reached the platform; agent log: \(agent.log.suffix(2000))")
        report.add("alarm_p50_ms_idle", idle.percentile(50), "ms", goal: nil, limit: nil)
        report.add("alarm_p99_ms_idle", idle.percentile(99), "ms", goal: "< 10", limit: nil, met: idle.percentile(99) < 10)
        report.add("alarm_max_ms_idle", idle.maximum, "ms", goal: nil, limit: nil)
        say("idle presses: \(idle.count) measured, \(failures) resets not confirmed; p50 \(idle.percentile(50)) ms, p99 \(idle.percentile(99)) ms")
        agent.stop()

        // Phase B: a backlog drains while the alarm is pressed.
        let backlogState = work + "/state-backlog"
        try FileManager.default.createDirectory(atPath: backlogState, withIntermediateDirectories: true)
        say("prefilling \(backlog) card taps with EventStore")
        try await MicroBenchmarks.prefill(directory: backlogState, count: backlog)
        let backlogConfig = try writeConfiguration(station: "ST-BENCH-DRAIN", state: backlogState, port: port)
        let accepted0 = probe.accepted
        say("starting station-agent with the backlog")
        let t0 = clock.now
        let drainer = try Child(executable: agentPath, arguments: ["run", "--config", backlogConfig], logPath: work + "/agent-drain.log")
        defer { drainer.stop() }
        started = waitUntil(timeout: .seconds(60), interval: .milliseconds(1)) { probe.heartbeatCount(station: "ST-BENCH-DRAIN") != nil }
        try check(started, "station-agent with the backlog sent no heartbeat within 60 s; log \(drainer.logPath): \(drainer.log.suffix(2000))")
        let ready = clock.now
        let startReady = (ready - t0).milliseconds
        report.add("start_ready_ms", startReady, "ms", goal: "< 200", limit: nil, met: startReady < 200)

        let sampler = RSSSampler(child: drainer)
        sampler.start()
        say("\(presses) alarm presses while the backlog drains")
        failures = 0
        var pressed = 0
        while pressed < presses && probe.accepted - accepted0 < Int64(backlog) && drainer.process.isRunning {
            if let ms = try press(box: box, probe: probe, failures: &failures) { loaded.record(ms) }
            pressed += 1
        }
        say("backlog presses: \(loaded.count) measured while draining, \(failures) resets not confirmed")
        let drainedTaps: () -> Int64 = {
            (try? probe.scalar("SELECT COUNT(*) FROM received_event WHERE station_id = 'ST-BENCH-DRAIN' AND kind = 'card_tap'")) ?? 0
        }
        // Counting the taps reads every row of the station (a second per million): poll the
        // emulator's `accepted` counter, and count only once it says enough events arrived.
        let drained = waitUntil(timeout: .seconds(1800), interval: .milliseconds(2)) {
            probe.accepted - accepted0 >= Int64(backlog) && drainedTaps() >= Int64(backlog)
        }
        let done = clock.now
        let peak = sampler.stop()
        try check(drained, "the backlog did not drain within 30 min: \(drainedTaps()) of \(backlog) arrived; log \(drainer.logPath)")
        let drainRate = Double(backlog) / (done - ready).seconds
        report.add("drain_eps", drainRate, "events/s", goal: ">= 50000", limit: nil, met: drainRate >= 50_000)
        report.add("rss_peak_drain_mb", peak, "MB", goal: "<= 40", limit: rssIdle, met: peak <= 40)
        if loaded.count > 0 {
            report.add("alarm_p50_ms_backlog", loaded.percentile(50), "ms", goal: nil, limit: nil)
            report.add("alarm_p99_ms_backlog", loaded.percentile(99), "ms", goal: "< 25", limit: nil, met: loaded.percentile(99) < 25)
            report.add("alarm_max_ms_backlog", loaded.maximum, "ms", goal: nil, limit: nil)
        }
        say("drained \(backlog) in \(String(format: "%.1f", (done - ready).seconds)) s; \(loaded.count) presses measured under backlog")
    }

    /// One press: returns the time from `press()` to the alarm stored at the emulator, then resets
    /// it with the key switch and waits until the platform has the reset.
    private func press(box: VirtualAlarmBox, probe: EmulatorProbe, failures: inout Int) throws -> Double? {
        let clock = ContinuousClock()
        let before = probe.alarms
        let resetsBefore = probe.resetAlarms
        let start = clock.now
        box.press()
        let arrived = waitUntil(timeout: .seconds(10), interval: .microseconds(100)) { probe.alarms > before }
        let elapsed = (clock.now - start).milliseconds
        box.release()
        box.keySwitchReset()
        if !waitUntil(timeout: .seconds(5), interval: .microseconds(500), { probe.resetAlarms > resetsBefore }) { failures += 1 }
        return arrived ? elapsed : nil
    }

    private func writeConfiguration(station: String, state: String, port: Int) throws -> String {
        // Card numbers as a deployment sends them by default: pseudonyms under a district key.
        let districtKey = state + ".district.key"
        let keyHex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try keyHex.write(toFile: districtKey, atomically: true, encoding: .utf8)
        try check(chmod(districtKey, 0o600) == 0, "cannot make \(districtKey) private")
        let text = """
            # Written by station-bench.
            [station]
            id = "\(station)"
            state_dir = "\(state)"

            [platform]
            url = "http://127.0.0.1:\(port)"
            batch_size = \(batchSize)
            retry_initial_ms = 100
            retry_max_ms = 2000

            [log]
            level = "warning"

            [privacy]
            card_ids = "pseudonym"
            district_key_file = "\(districtKey)"

            [[device]]
            name = "reader-1"
            kind = "card-reader"
            profile = "rdm6300"
            purpose = "check-in"
            port = "\(work)/dev/reader-1"

            [[device]]
            name = "reader-2"
            kind = "card-reader"
            profile = "text-decimal"
            purpose = "volunteer"
            port = "\(work)/dev/reader-2"

            [[device]]
            name = "alarm-1"
            kind = "alarm-box"
            purpose = "one-key-alarm"
            port = "\(work)/dev/alarm-1"

            """
        let path = state + ".toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Samples a process's RSS every 50 ms on a dedicated thread and keeps the peak.
final class RSSSampler: @unchecked Sendable {
    private let child: Child
    private let lock = NSLock()
    private var peak = 0.0
    private var running = true
    private var thread: Thread?

    init(child: Child) { self.child = child }

    func start() {
        let thread = Thread { [self] in
            while isRunning {
                if let rss = child.rssMB {
                    lock.lock()
                    peak = max(peak, rss)
                    lock.unlock()
                }
                usleep(50_000)
            }
        }
        self.thread = thread
        thread.start()
    }

    /// Stops sampling and returns the peak in MB.
    func stop() -> Double {
        lock.lock()
        defer { lock.unlock() }
        running = false
        return peak
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }
}
