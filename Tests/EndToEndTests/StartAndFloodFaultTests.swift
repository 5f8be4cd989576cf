import DeviceProtocols
import EventModel
import EventStore
import Foundation
import PlatformAPI
import TestSupport
import Synchronization
import Testing
import VirtualDevices

/// Storage and serial faults against the real agent binary: a state directory the agent's
/// user cannot write, and a reader that floods the line.
@Suite(.serialized) struct StartAndFloodFaultTests {
    /// The bytes of every file in `directory`, by name.
    static func snapshot(_ directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return files
    }

    @Test func aReadOnlyStateDirectoryStopsTheAgentWithAClearErrorAndDestroysNothing() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer {
            chmod(station.stateDirectory, 0o755)
            station.remove()
        }
        // A store from an earlier run, with events not yet delivered.
        do {
            let store = try EventStore.open(directory: station.stateDirectory)
            _ = try await store.append(contentsOf: (0..<50).map { NewEvent(kind: .cardTap, device: "reader-1", card: CardRead(uid: "\($0)", format: "decimal")) })
            try store.checkpoint()
        }
        try station.writeConfig(platformURL: "http://127.0.0.1:9")
        let before = try Self.snapshot(station.stateDirectory)

        // As root, `access(2)` grants write on any mode: run the agent as nobody (setpriv, from
        // util-linux) so the directory is really read-only for it. As a normal user, the mode
        // alone does it.
        chmod(station.stateDirectory, 0o555)
        let agent: ChildProcess
        if getuid() == 0 {
            let setpriv = "/usr/bin/setpriv"
            try #require(FileManager.default.isExecutableFile(atPath: setpriv), "util-linux's setpriv is needed to drop root")
            // nobody must reach the config and the binary.
            chmod(station.directory, 0o755)
            chmod(station.configPath, 0o644)
            agent = try ChildProcess(
                setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", Binaries.agent, "run", "--config", station.configPath])
        } else {
            agent = try station.startAgent()
        }
        let status = await agent.waitForExit(timeout: .seconds(30))
        if status == nil { await agent.stop() }
        #expect(status != nil && status != 0, "the agent must exit non-zero; log:\n\(agent.log)")
        #expect(status == 73, "EX_CANTCREAT; log:\n\(agent.log)")
        #expect(agent.log.contains(station.stateDirectory), "the error names the directory; log:\n\(agent.log)")
        #expect(agent.log.contains("not writable"), "log:\n\(agent.log)")
        // Nothing destroyed, nothing moved aside, nothing added.
        #expect(try Self.snapshot(station.stateDirectory) == before)
    }

    /// Resident memory of a process in KiB (`VmRSS` in /proc).
    static func residentKiB(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    @Test func aReaderFloodingFramesAndGarbageLeavesTheAgentUpBoundedAndStillReading() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL)
        let agent = try station.startAgent()
        let reader = try #require(station.readers["reader-1"])
        #expect(await eventually { try await platform.received().contains { $0.event.kind == EventKind.agentStarted.rawValue } }, "log:\n\(agent.log)")
        try reader.tap(uid: "0A0B0C0D01")
        #expect(await eventually { try await platform.received().contains { $0.event.card?.uid == "0A0B0C0D01" } }, "log:\n\(agent.log)")
        let baseline = try #require(Self.residentKiB(agent.pid))

        // Flood for 4 s from a thread of its own: the same card's frame (held on the reader)
        // mixed with random bytes and half frames, at about 200 KB/s: some 200 times what a
        // 9600-baud reader can send, yet bounded so that the other end-to-end tests running in
        // parallel on a 2-core machine are not starved.
        let frame = try reader.frame(uid: "0F100D0001")
        let floodEnded = Atomic<Bool>(false)
        let flooding = Thread {
            defer { floodEnded.store(true, ordering: .releasing) }
            var rng = SystemRandomNumberGenerator()
            let deadline = Date().addingTimeInterval(4)
            var chunk: [UInt8] = []
            while Date() < deadline {
                chunk.removeAll(keepingCapacity: true)
                for _ in 0..<16 {
                    chunk += frame
                    chunk += (0..<Int.random(in: 0...24, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    chunk += frame.prefix(Int.random(in: 0..<frame.count, using: &rng))
                }
                // A full pty buffer (the agent reads slower than this loop writes) times out: go on.
                try? reader.sendGarbage(chunk)
                Thread.sleep(forTimeInterval: 0.002)
            }
        }
        flooding.start()
        #expect(await eventually { floodEnded.load(ordering: .acquiring) })
        #expect(agent.isRunning, "log:\n\(agent.log)")
        let flooded = try #require(Self.residentKiB(agent.pid))
        #expect(flooded < baseline + 64 * 1024, "resident memory grew from \(baseline) KiB to \(flooded) KiB under the flood")

        // The card held in the flood is a tap (de-duplicated), and a later card still arrives.
        try await Task.sleep(for: .milliseconds(500))
        try reader.tap(uid: "0A0B0C0D02")
        #expect(await eventually { try await platform.received().contains { $0.event.card?.uid == "0A0B0C0D02" } }, "log:\n\(agent.log)")
        let received = try await platform.received()
        let floodTaps = received.filter { $0.event.card?.uid == "0F100D0001" }
        #expect(!floodTaps.isEmpty, "the held card was read through the noise")
        #expect(floodTaps.count <= 10, "a held card is one tap per de-duplication window, not one per frame (\(floodTaps.count))")
        #expect(agent.isRunning)
        await agent.stop()
        #expect(agent.process.terminationStatus == 0, "log:\n\(agent.log)")
        await platform.stop()
    }
}
