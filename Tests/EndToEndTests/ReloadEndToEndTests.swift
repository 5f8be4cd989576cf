import DeviceProtocols
import EventModel
import EventStore
import Foundation
import PlatformAPI
import TestSupport
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP reloads the configuration of a running `station-agent run`: a valid file restarts its
/// services without losing or repeating an event; an invalid one is rejected and the old runs on.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ReloadEndToEndTests {
    /// A configuration with the given readers (name, purpose, extra lines) of `station`.
    static func config(
        _ station: Station, platformURL: String, readers: [(name: String, purpose: String, extra: String)], stateDirectory: String? = nil,
        extra: String = ""
    ) -> String {
        var text = """
            [station]
            id = "ST-E2E"
            state_dir = "\(stateDirectory ?? station.stateDirectory)"

            [platform]
            url = "\(platformURL)"
            retry_initial_ms = 50
            retry_max_ms = 500

            [privacy]
            card_ids = "raw"

            """
        for reader in readers {
            let virtual = station.readers[reader.name]!
            text += """

                [[device]]
                name = "\(reader.name)"
                kind = "card-reader"
                profile = "\(virtual.profile.rawValue)"
                purpose = "\(reader.purpose)"
                port = "\(virtual.linkPath)"
                reopen_initial_ms = 50
                reopen_max_ms = 200
                \(reader.extra)

                """
        }
        return text + "\n" + extra
    }

    static func taps(_ platform: EmulatorProcess) async throws -> [ReceivedEvent] {
        StationEndToEndTests.cardTaps(try await platform.received())
    }

    static func occurrences(of text: String, in log: String) -> Int {
        log.components(separatedBy: text).count - 1
    }

    /// Runs `station-agent status` to completion.
    static func status(_ configPath: String) async throws -> (output: String, status: Int32?) {
        let child = try ChildProcess(Binaries.agent, ["status", "--config", configPath])
        // Its log is complete once it has exited: waitForExit waits for the pipe to close.
        let status = await child.waitForExit(timeout: .seconds(30))
        return (child.log, status)
    }

    /// A reload that leaves reader-1 as it was keeps its line open: taps made on it all through
    /// the reload arrive, none missed, and it is opened once only.
    @Test func anUnchangedReaderKeepsReadingThroughAReload() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300), ("reader-2", .textHex)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try Self.config(station, platformURL: platform.baseURL, readers: [("reader-1", "check-in", "")])
            .write(toFile: station.configPath, atomically: true, encoding: .utf8)
        let agent = try station.startAgent()
        _ = try await agent.firstLine(containing: "device=reader-1 port=")
        let one = station.readers["reader-1"]!
        try Self.config(station, platformURL: platform.baseURL, readers: [("reader-1", "check-in", ""), ("reader-2", "volunteer", "")])
            .write(toFile: station.configPath, atomically: true, encoding: .utf8)

        // Tap reader-1 before, during and after the reload, each card once the last one is
        // stored: a tap the reader misses (its line closed) stops the run at that card.
        var tapped: [String] = []
        func tapAndWaitUntilStored(_ index: Int) async throws -> Bool {
            let uid = String(format: "%010llX", 0x5C_0000_0000 + index)
            try one.tap(uid: uid)
            tapped.append(uid)
            return await eventually {
                try await EventStore.openReadOnly(directory: station.stateDirectory).events(limit: 10_000)
                    .contains { $0.event.event.card?.uid == uid }
            }
        }
        for index in 0..<5 { #expect(try await tapAndWaitUntilStored(index), "log:\n\(agent.log)") }
        agent.signal(SIGHUP)
        var index = 5
        while (!agent.log.contains("configuration reloaded") || index < 15) && index < 500 {
            let stored = try await tapAndWaitUntilStored(index)
            #expect(stored, "tap \(index) during the reload was missed; log:\n\(agent.log)")
            if !stored { break }
            index += 1
        }
        #expect(agent.log.contains("configuration reloaded"), "log:\n\(agent.log)")
        let arrived = await eventually {
            Set(try await Self.taps(platform).compactMap(\.event.card?.uid)) == Set(tapped)
        }
        let received = try await Self.taps(platform).compactMap(\.event.card?.uid)
        #expect(arrived, "missed: \(Set(tapped).subtracting(received).sorted())\nlog:\n\(agent.log)")
        #expect(received.count == Set(received).count, "each tap once")
        #expect(Self.occurrences(of: "device=reader-1 port=", in: agent.log) == 1, "reader-1 was never closed:\n\(agent.log)")
        #expect(await eventually { Self.occurrences(of: "device=reader-2 port=", in: agent.log) == 1 }, "reader-2 opened")
        #expect(agent.log.contains("devices unchanged by the reload keep running"), "\(agent.log)")
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    @Test func aValidReloadAddsAReaderAndChangesAPurposeAndEveryTapArrivesOnce() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300), ("reader-2", .textHex)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        let metrics = MetricsEndToEndTests.metricsOnAnyPort
        try Self.config(station, platformURL: platform.baseURL, readers: [("reader-1", "check-in", "")], extra: metrics)
            .write(toFile: station.configPath, atomically: true, encoding: .utf8)
        let agent = try station.startAgent()
        let metricsPort = try await MetricsEndToEndTests.metricsPort(agent)
        let one = station.readers["reader-1"]!
        let two = station.readers["reader-2"]!

        for index in 0..<3 { try one.tap(uid: String(format: "%010llX", 0x5A_0000_0000 + index)) }
        #expect(await eventually { try await Self.taps(platform).count == 3 }, "log:\n\(agent.log)")

        // Add reader-2 and give reader-1 another purpose, then SIGHUP.
        try Self.config(
            station, platformURL: platform.baseURL, readers: [("reader-1", "attendance", ""), ("reader-2", "volunteer", "")], extra: metrics
        ).write(toFile: station.configPath, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        _ = try await agent.firstLine(containing: "configuration reloaded")
        #expect(agent.isRunning)
        // The new generation opens reader-1 again (its second "reader open") and reader-2.
        #expect(await eventually {
            Self.occurrences(of: "device=reader-1 port=", in: agent.log) == 2 && Self.occurrences(of: "device=reader-2 port=", in: agent.log) == 1
        }, "log:\n\(agent.log)")
        #expect(!agent.log.contains("detail=cannot open"), "the old generation released its ports first:\n\(agent.log)")

        var expected = Set<String>()
        for index in 0..<3 {
            let uid = String(format: "%010llX", 0x5B_0000_0000 + index)
            try one.tap(uid: uid)
            expected.insert(uid)
            let hex = String(format: "%08llX", 0x0500_0000 + index)
            try two.tap(uid: hex)
            expected.insert(hex)
        }
        // One more card on each reader, after the others on its line: once both are at the
        // platform, so is everything the taps before them produced (a lane delivers in order).
        let sentinels = ["5BFFFFFFFF", "05FFFFFF"]
        try one.tap(uid: sentinels[0])
        try two.tap(uid: sentinels[1])
        let arrived = await eventually {
            let uids = Set(try await Self.taps(platform).compactMap(\.event.card?.uid))
            return sentinels.allSatisfy(uids.contains)
        }
        let taps = try await Self.taps(platform).filter { !sentinels.contains($0.event.card?.uid ?? "") }
        #expect(arrived, "taps: \(taps.map { "\($0.event.device) \($0.event.card?.uid ?? "") \($0.event.purpose ?? "")" })\nlog:\n\(agent.log)")
        #expect(taps.count == 9, "each tap once")
        #expect(taps.allSatisfy { $0.deliveries == 1 }, "no event was sent twice across the reload")
        let afterReload = taps.filter { expected.contains($0.event.card?.uid ?? "") }
        #expect(afterReload.count == 6)
        #expect(afterReload.filter { $0.event.device == "reader-1" }.allSatisfy { $0.event.purpose == "attendance" })
        #expect(afterReload.filter { $0.event.device == "reader-2" }.count == 3)
        #expect(afterReload.filter { $0.event.device == "reader-2" }.allSatisfy { $0.event.purpose == "volunteer" })
        let seqs = taps.map(\.event.seq)
        #expect(Set(seqs).count == seqs.count)
        // A reload is not a restart: one agent_started.
        #expect(try await platform.received().filter { $0.event.kind == EventKind.agentStarted.rawValue }.count == 1)

        let (output, status) = try await Self.status(station.configPath)
        #expect(status == 0, "\(output)")
        #expect(output.contains("last configuration reload: ") && output.contains(" applied"), "\(output)")

        // Taking reader-2 out again drops its series from the metrics; the counts carry on.
        #expect(await eventually {
            try await MetricsEndToEndTests.scrape(metricsPort).value("station_device_online", ["device": "reader-2"]) == 1
        })
        try Self.config(station, platformURL: platform.baseURL, readers: [("reader-1", "attendance", "")], extra: metrics)
            .write(toFile: station.configPath, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        _ = try await agent.firstLine(containing: "configuration reloaded")
        let after = try await MetricsEndToEndTests.scrape(metricsPort)
        #expect(after.value("station_device_online", ["device": "reader-2"]) == nil, "\(after)")
        #expect(after.value("station_device_reconnects_total", ["device": "reader-2"]) == nil)
        #expect(after.value("station_events_total", ["kind": "card_tap", "outcome": "delivered"]) == 11, "the 9 taps and the two last cards")

        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    @Test func anInvalidOrRestartOnlyChangeIsRejectedAndTheOldConfigurationKeepsRunning() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300), ("reader-2", .textHex)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try Self.config(station, platformURL: platform.baseURL, readers: [("reader-1", "check-in", "")])
            .write(toFile: station.configPath, atomically: true, encoding: .utf8)
        let agent = try station.startAgent()
        let one = station.readers["reader-1"]!
        try one.tap(uid: "5C00000001")
        #expect(await eventually { try await Self.taps(platform).count == 1 }, "log:\n\(agent.log)")

        // An invalid file: a baud rate the schema does not allow, on reader-2's section.
        let invalid = Self.config(
            station, platformURL: platform.baseURL, readers: [("reader-1", "attendance", ""), ("reader-2", "check-in", "baud = 9601")])
        try invalid.write(toFile: station.configPath, atomically: true, encoding: .utf8)
        let badLine = invalid.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("baud = 9601") }! + 1
        agent.signal(SIGHUP)
        let rejected = try await agent.firstLine(containing: "configuration reload rejected")
        #expect(rejected.contains("\(station.configPath):\(badLine): device[1].baud: expected one of"), "\(rejected)")
        #expect(agent.isRunning)

        try one.tap(uid: "5C00000002")
        #expect(await eventually { try await Self.taps(platform).count == 2 }, "log:\n\(agent.log)")
        let second = try #require(try await Self.taps(platform).first { $0.event.card?.uid == "5C00000002" })
        #expect(second.event.purpose == "check-in", "the old configuration still runs")

        // status needs a valid file (the one on disk is not): give it the running configuration under another name.
        try Self.config(station, platformURL: platform.baseURL, readers: [("reader-1", "check-in", "")])
            .write(toFile: station.directory + "/status.toml", atomically: true, encoding: .utf8)
        let (output, status) = try await Self.status(station.directory + "/status.toml")
        #expect(status == 0, "\(output)")
        #expect(output.contains("last configuration reload: ") && output.contains(" rejected: \(station.configPath):\(badLine): device[1].baud"), "\(output)")

        // A valid file that moves the state directory: the process keeps its store, so it is refused.
        try Self.config(
            station, platformURL: platform.baseURL, readers: [("reader-1", "attendance", "")],
            stateDirectory: station.directory + "/elsewhere"
        ).write(toFile: station.configPath, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        _ = try await agent.firstLine(containing: "station.state_dir: changed from \(station.stateDirectory) to \(station.directory)/elsewhere")
        try one.tap(uid: "5C00000003")
        #expect(await eventually { try await Self.taps(platform).count == 3 }, "log:\n\(agent.log)")
        #expect(try await Self.taps(platform).allSatisfy { $0.event.purpose == "check-in" && $0.deliveries == 1 })

        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    /// A backlog builds while the platform is unreachable: `status` shows it with a progress bar
    /// and "not draining". A reload points the agent at a working platform; the backlog drains
    /// and `status` shows the rate.
    @Test func statusShowsTheBacklogAndAReloadToAWorkingPlatformDrainsIt() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        try Self.config(station, platformURL: "http://127.0.0.1:9", readers: [("reader-1", "check-in", "")])
            .write(toFile: station.configPath, atomically: true, encoding: .utf8)
        let agent = try station.startAgent()
        let reader = station.readers["reader-1"]!
        let count = 150
        for index in 0..<count {
            try reader.tap(uid: String(format: "%010llX", 0x5D_0000_0000 + index))
            try await Task.sleep(for: .milliseconds(2))
        }
        var output = ""
        var status: Int32?
        let queued = await eventually {
            (output, status) = try await Self.status(station.configPath)
            guard let line = output.split(separator: "\n").first(where: { $0.contains("queued normal: ") }),
                let number = Int(line.split(separator: " ")[2])
            else { return false }
            return number >= count
        }
        #expect(queued, "\(output)\nagent log:\n\(agent.log)")
        #expect(status == 0)
        #expect(output.contains("  backlog: [..............................]   0%"), "\(output)")
        #expect(output.contains("  not draining: nothing delivered in the last 10 min"), "\(output)")
        #expect(output.contains("  delivery rate: none in the last 10 min"), "\(output)")

        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try Self.config(station, platformURL: platform.baseURL, readers: [("reader-1", "check-in", "")])
            .write(toFile: station.configPath, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        _ = try await agent.firstLine(containing: "configuration reloaded")
        #expect(await eventually { try await Self.taps(platform).count == count }, "log:\n\(agent.log)")
        #expect(try await Self.taps(platform).allSatisfy { $0.deliveries == 1 })
        let drained = await eventually {
            (output, status) = try await Self.status(station.configPath)
            return output.contains("queued normal: 0")
        }
        #expect(drained, "\(output)")
        #expect(!output.contains("backlog:"), "\(output)")
        // At least the 150 taps went in the last minute: 150 / 60 = 2.5 events/s or more.
        let rateLine = try #require(output.split(separator: "\n").first { $0.contains("delivery rate: ") }, "\(output)")
        let rate = Double(rateLine.split(separator: " ")[2]) ?? 0
        #expect(rate >= 2.5, "\(rateLine)")

        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    /// systemd's side of `Type=notify` with `ExecReload=`: READY=1 at start; RELOADING=1 with
    /// MONOTONIC_USEC, then READY=1, around an applied reload; READY=1 and a status line naming the
    /// problem after a rejected one.
    @Test func systemdIsToldAboutReloads() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300), ("reader-2", .textHex)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try Self.config(station, platformURL: platform.baseURL, readers: [("reader-1", "check-in", "")])
            .write(toFile: station.configPath, atomically: true, encoding: .utf8)
        let socket = try NotifySocket(path: station.directory + "/notify.sock")
        let agent = try ChildProcess(Binaries.agent, ["run", "--config", station.configPath], environment: ["NOTIFY_SOCKET": socket.path])

        let started = await socket.messages(until: "READY=1")
        #expect(started.last?.contains("STATUS=running: 1 reader(s)") == true, "\(started)\nlog:\n\(agent.log)")

        try Self.config(
            station, platformURL: platform.baseURL, readers: [("reader-1", "check-in", ""), ("reader-2", "check-in", "")]
        ).write(toFile: station.configPath, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        let reload = await socket.messages(until: "READY=1")
        let reloading = try #require(reload.first { $0.contains("RELOADING=1") }, "\(reload)\nlog:\n\(agent.log)")
        #expect(reloading.range(of: #"MONOTONIC_USEC=[0-9]+"#, options: .regularExpression) != nil, "\(reloading)")
        #expect(reload.firstIndex { $0.contains("RELOADING=1") }! < reload.firstIndex { $0.contains("READY=1") }!)
        #expect(reload.last?.contains("STATUS=running: 2 reader(s); configuration reloaded") == true, "\(reload)")

        try "[station]\nid = 42\n".write(toFile: station.configPath, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        let rejected = await socket.messages(until: "READY=1")
        #expect(!rejected.contains { $0.contains("RELOADING=1") }, "nothing was reloaded: \(rejected)")
        #expect(
            rejected.last?.contains("STATUS=running the previous configuration; reload rejected: \(station.configPath):2: station.id: expected a string")
                == true, "\(rejected)")

        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        #expect(await socket.messages(until: "STOPPING=1").last?.contains("STOPPING=1") == true)
        await platform.stop()
    }
}

/// A datagram socket standing in for systemd's `NOTIFY_SOCKET`.
final class NotifySocket: Sendable {
    let descriptor: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name = Array(path.utf8) + [0]
        guard name.count <= MemoryLayout.size(ofValue: address.sun_path) else { throw HarnessError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in name.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard rc == 0 else { throw HarnessError("bind \(path): errno \(errno)") }
    }

    /// The datagrams that arrive until one contains `text` (that one included), or `timeout` passes.
    func messages(until text: String, timeout: Duration = .seconds(20)) async -> [String] {
        var received: [String] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 {
                let message = String(decoding: buffer[0..<count], as: UTF8.self)
                received.append(message)
                if message.contains(text) { return received }
                continue
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return received
    }

    deinit {
        close(descriptor)
        unlink(path)
    }
}
