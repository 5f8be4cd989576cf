import ArgumentParser
import CSerialShim
import DeviceProtocols
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import OSDP
import PlatformAPI
import PlatformEmulator
import SeededRandom
import Synchronization
import VirtualDevices

/// `station-sim chaos`: the power-cut test with the platform and the disk failing too, at random
/// (seeded), while cards are tapped and alarms pressed on every serial device kind the
/// simulator has. The verdict is the same comparison of the agent's store with what the
/// platform received, plus the events the platform was made to refuse wrongly.
struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Power cuts, platform faults and a full disk at random under load; prove nothing accepted was lost or wrongly rejected.",
        discussion: """
            Like power-cut (the emulator in this process, two virtual card readers, a virtual alarm \
            box, a real station-agent child killed with SIGKILL --kills times), plus a dry-contact \
            alarm button pressed every few seconds and an OSDP reader with cards every 700 ms and \
            its alarm input every 5 s, and before each round a platform fault drawn at \
            random (none, 503, 429, 500, a proxy's 404 and 502 pages, a redirect, a truncated 200, \
            verdicts for other events, a connection dropped before or after storing, a slow answer) \
            and, in some rounds, a full disk for part of the agent's life (its file size limit set \
            to 0 with prlimit(2), so every write fails as on a full disk). After the last kill the \
            faults clear, the agent drains and is stopped, and the checker compares. The last line \
            reads `kills=N accepted=A lost=L duplicates=D rejected_wrongly=R`; the exit status is \
            non-zero if L or R is above 0 or a sequence number is missing. Requests are signed. \
            Clock jumps are not injected (docs/reliability.md says why).
            """)

    @Option(help: "How many times to kill the agent.") var kills = 20
    @Option(help: "Card taps per second (spread over the readers).") var tapsPerSecond = 20.0
    @Option(help: "Seed of every random choice (default: from the clock; printed).") var seed: UInt64?
    @Option(help: "Longest time the agent runs between two kills, in milliseconds.") var maxUptimeMs = 2500
    @Option(help: "Seconds to wait for the queue to drain after the last kill.") var drainTimeout = 120
    @Option(help: "The station-agent binary (default: next to this one).") var agent: String?
    @Option(help: "Working directory (default: a new temporary one, removed unless --keep).") var workdir: String?
    @Flag(help: "Keep the working directory afterwards.") var keep = false

    func validate() throws {
        guard kills >= 0 else { throw ValidationError("--kills must be 0 or more") }
        guard tapsPerSecond > 0, tapsPerSecond <= 1000 else { throw ValidationError("--taps-per-second must be in (0, 1000]") }
        guard maxUptimeMs >= 300 else { throw ValidationError("--max-uptime-ms must be at least 300") }
        guard drainTimeout > 0 else { throw ValidationError("--drain-timeout must be positive") }
    }

    static let stationID = "ST-CHAOS"

    /// The platform faults a round may draw (nil: none), with a name for the log.
    static let platformFaults: [(String, FaultSettings?)] = [
        ("none", nil),
        ("none", nil),
        ("503", FaultSettings(status: 503, body: .empty)),
        ("429 retry-after 1", FaultSettings(status: 429, retryAfterSeconds: 1)),
        ("500", FaultSettings(status: 500)),
        ("a proxy's 404 page", FaultSettings(status: 404, body: .html)),
        ("a load balancer's 502 page", FaultSettings(status: 502, body: .html)),
        ("a redirect", FaultSettings(status: 307)),
        ("a truncated 200", FaultSettings(answer: .truncated)),
        ("verdicts for other events", FaultSettings(answer: .wrongIDs)),
        ("dropped before storing", FaultSettings(dropConnection: .beforeStore)),
        ("dropped after storing", FaultSettings(dropConnection: .afterStore)),
        ("slow answers", FaultSettings(delayMs: 300)),
    ]

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let agentPath = try SimulatorSupport.locateAgent(agent)
        let directory = try SimulatorSupport.makeWorkdir(workdir, prefix: "station-chaos")
        defer {
            if !keep && workdir == nil { try? FileManager.default.removeItem(atPath: directory) }
        }
        let seed = self.seed ?? UInt64(Date().timeIntervalSince1970 * 1000)
        PowerCut.say("chaos: seed=\(seed) kills=\(kills) taps-per-second=\(tapsPerSecond) workdir=\(directory)")
        // Requests are signed (HMAC, with a key drawn from the seed), as in a district that
        // requires it: every resend after a fault is signed afresh, with a new nonce.
        var keyBytes = SplitMix64(seed: seed ^ 0x5EED)
        let keyHex = (0..<4).map { _ in String(format: "%016llx", keyBytes.next()) }.joined()
        FileManager.default.createFile(
            atPath: directory + "/signing.key", contents: Data(keyHex.utf8), attributes: [.posixPermissions: 0o600])
        guard case .success(let key) = HMACKey.parse(hex: keyHex) else { throw DemoFailure("chaos: the generated signing key does not parse") }
        let faults = FaultInjector()
        let verdict = try await SimulatorSupport.withEmulator(
            databasePath: directory + "/platform.sqlite", faults: faults, signingKeys: SigningKeyring(defaultKey: key)
        ) { port, store in
            try await rounds(port: port, store: store, faults: faults, directory: directory, agentPath: agentPath, seed: seed)
        }
        for problem in verdict.problems.prefix(20) { PowerCut.say("chaos: PROBLEM \(problem)") }
        PowerCut.say(
            "kills=\(verdict.kills) accepted=\(verdict.accepted) lost=\(verdict.lost) duplicates=\(verdict.duplicates) "
                + "rejected_wrongly=\(verdict.rejected)")
        if verdict.lost > 0 || verdict.rejected > 0 || !verdict.problems.isEmpty { throw ExitCode.failure }
    }

    private func rounds(
        port: Int, store: EmulatorStore, faults: FaultInjector, directory: String, agentPath: String, seed: UInt64
    ) async throws -> PowerCutVerdict {
        try FileManager.default.createDirectory(atPath: directory + "/dev", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        let readers = [
            try VirtualCardReader(profile: .rdm6300, linkPath: directory + "/dev/reader-1"),
            try VirtualCardReader(profile: .textDecimal, linkPath: directory + "/dev/reader-2"),
        ]
        let box = try VirtualAlarmBox(linkPath: directory + "/dev/alarm-1", heartbeatInterval: .seconds(2))
        let button = try VirtualAlarmButton(path: directory + "/dev/button-1.lines")
        // An OSDP bus with one reader whose input 1 is a one-key alarm.
        let osdp = try VirtualOSDPBus(linkPath: directory + "/dev/osdp-bus", readers: [OSDPPeripheral.Configuration(address: 1, inputCount: 2)])
        osdp.start()
        defer {
            for reader in readers { reader.device.unplug() }
            box.device.unplug()
            osdp.stop()
        }
        let extraDevices = """
            [[device]]
            name = "button-1"
            kind = "alarm-button"
            purpose = "one-key-alarm"
            port = "\(button.portPath)"
            input = "cts"
            drive = "dtr"
            reopen_initial_ms = 50
            reopen_max_ms = 200

            [[device]]
            name = "osdp-bus"
            kind = "osdp-bus"
            port = "\(osdp.linkPath)"
            purpose = "check-in"
            reopen_initial_ms = 50
            reopen_max_ms = 200

            [[device.reader]]
            address = 1
            name = "osdp-entrance"
            alarm_input = 1
            """
        let configPath = directory + "/station.toml"
        try PowerCut.configuration(
            port: port, directory: directory, stationID: Self.stationID,
            extraPlatform: "signing_key_file = \"\(directory)/signing.key\"", extraDevices: extraDevices)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let logPath = directory + "/agent.log"
        FileManager.default.createFile(atPath: logPath, contents: nil)

        var random = SplitMix64(seed: seed)
        let load = LoadSwitch()
        let interval = Duration.milliseconds(max(1, Int(1000 / tapsPerSecond)))
        let (killsDone, checked) = try await withThrowingTaskGroup(of: Void.self, returning: (Int, PowerCutVerdict).self) { group in
            group.addTask { try await PowerCut.tapAndPress(readers: readers, box: box, load: load, interval: interval) }
            group.addTask {
                // A press of the dry-contact button every 3 s, long enough to count.
                while load.running.load(ordering: .relaxed) {
                    try? await button.hold(for: .milliseconds(500))
                    try await Task.sleep(for: .milliseconds(2500))
                }
            }
            group.addTask {
                // A card on the OSDP reader every 700 ms, and its alarm input every 5 s.
                var index: UInt32 = 0
                while load.running.load(ordering: .relaxed) {
                    if let reader = osdp.reader(1) {
                        try? reader.presentCard(WiegandCard(format: .wiegand26, facilityCode: 77, cardNumber: 1000 + index % 60_000))
                        if index % 7 == 3 { reader.setInput(1, active: true) }
                        if index % 7 == 4 { reader.setInput(1, active: false) }
                    }
                    index += 1
                    try await Task.sleep(for: .milliseconds(700))
                }
            }
            var done = 0
            for round in 0..<kills {
                let (faultName, fault) = Self.platformFaults[Int(random.next() % UInt64(Self.platformFaults.count))]
                if let fault { try await faults.set(fault) } else { await faults.clear() }
                let child = try AgentChild(path: agentPath, configPath: configPath, output: .appendTo(logPath))
                let uptime = 200 + Int(random.next() % UInt64(maxUptimeMs - 200))
                var diskFull = "no"
                if random.next() % 3 == 0 {
                    // A full disk for a stretch in the middle of the agent's life.
                    let start = Int(random.next() % UInt64(uptime / 2))
                    let length = 100 + Int(random.next() % UInt64(max(1, uptime - start - 100)))
                    diskFull = "\(length) ms from \(start) ms"
                    try await Task.sleep(for: .milliseconds(start))
                    Self.limitFileSize(of: child.pid, to: 0)
                    try await Task.sleep(for: .milliseconds(length))
                    Self.limitFileSize(of: child.pid, to: nil)
                    try await Task.sleep(for: .milliseconds(max(0, uptime - start - length)))
                } else {
                    try await Task.sleep(for: .milliseconds(uptime))
                }
                let wasRunning = child.isRunning
                child.kill()
                done += 1
                PowerCut.say(
                    "chaos: round \(round + 1)/\(kills): platform \(faultName), disk full \(diskFull), killed after \(uptime) ms"
                        + (wasRunning ? "" : " (it had already exited with \(child.exitStatus))"))
            }
            await faults.clear()
            let last = try AgentChild(path: agentPath, configPath: configPath, output: .appendTo(logPath))
            try await Task.sleep(for: .seconds(1))
            load.running.store(false, ordering: .relaxed)
            try await group.next()
            try await group.next()
            try await group.next()
            let verdict = try await PowerCut.drain(
                agent: last, store: store, directory: directory, stationID: Self.stationID, timeout: .seconds(drainTimeout))
            last.stop()
            return (done, verdict)
        }
        var verdict = checked
        verdict.kills = killsDone
        PowerCut.say(
            "chaos: taps written to the virtual readers: \(load.taps.load(ordering: .relaxed))"
                + (keep || workdir != nil ? "; agent log: \(logPath)" : " (agent log removed; --keep keeps it)"))
        return verdict
    }

    /// Sets the running agent's largest file size (`RLIMIT_FSIZE`, with prlimit(2)): 0 makes every
    /// write fail as on a full disk (the agent ignores SIGXFSZ), nil lifts the limit.
    static func limitFileSize(of pid: Int32, to bytes: UInt64?) {
        // prlimit(2) is a GNU extension Swift's Glibc module does not show: the C shim calls it.
        let error = cserial_limit_file_size(pid, bytes ?? 0, bytes == nil ? 1 : 0)
        if error != 0 {
            PowerCut.say("chaos: prlimit on pid \(pid) failed: \(String(cString: strerror(error))) (the agent may have exited)")
        }
    }
}
