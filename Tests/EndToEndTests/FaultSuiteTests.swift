import DeviceProtocols
import EventModel
import EventStore
import Foundation
import PlatformAPI
import TestSupport
import Testing
import VirtualDevices

/// The fault suite in its short form: real processes, real files.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct FaultSuiteTests {
    /// Parses `kills=N accepted=A lost=L duplicates=D`.
    static func verdict(_ line: String) -> [String: Int]? {
        var values: [String: Int] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=")
            guard parts.count == 2, let value = Int(parts[1]) else { return nil }
            values[String(parts[0])] = value
        }
        return Set(values.keys) == ["kills", "accepted", "lost", "duplicates"] ? values : nil
    }

    @Test func verdictLineParsesOnlyTheExactForm() {
        #expect(Self.verdict("kills=5 accepted=120 lost=0 duplicates=3") == ["kills": 5, "accepted": 120, "lost": 0, "duplicates": 3])
        #expect(Self.verdict("kills=5 accepted=120 lost=0") == nil)
        #expect(Self.verdict("power-cut: kill 1/5 after 300 ms") == nil)
    }

    @Test func powerCutWithFiveKillsLosesNothing() async throws {
        let child = try ChildProcess(Binaries.sim, ["power-cut", "--kills", "5", "--taps-per-second", "20", "--seed", "20261124"])
        let status = await child.waitForExit(timeout: .seconds(240))
        if status == nil { await child.stop() }
        let lines = child.log.split(separator: "\n").map(String.init)
        let last = try #require(lines.last, "no output; log:\n\(child.log)")
        let values = try #require(Self.verdict(last), "last line is not the verdict; log:\n\(child.log)")
        #expect(values["kills"] == 5)
        #expect(values["lost"] == 0, "log:\n\(child.log)")
        #expect((values["accepted"] ?? 0) > 20, "the load reached the agent; log:\n\(child.log)")
        #expect(status == 0, "log:\n\(child.log)")
        #expect(!child.log.contains("PROBLEM"), "log:\n\(child.log)")
    }

    /// Parses chaos's `kills=N accepted=A lost=L duplicates=D rejected_wrongly=R`.
    static func chaosVerdict(_ line: String) -> [String: Int]? {
        var values: [String: Int] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=")
            guard parts.count == 2, let value = Int(parts[1]) else { return nil }
            values[String(parts[0])] = value
        }
        return Set(values.keys) == ["kills", "accepted", "lost", "duplicates", "rejected_wrongly"] ? values : nil
    }

    /// The short form of `station-sim chaos`: a seed whose eight rounds include platform faults
    /// and full-disk stretches (the log names each round's).
    @Test func chaosWithEightKillsLosesNothingAndRejectsNothing() async throws {
        let child = try ChildProcess(Binaries.sim, ["chaos", "--kills", "8", "--taps-per-second", "20", "--seed", "42"])
        let status = await child.waitForExit(timeout: .seconds(240))
        if status == nil { await child.stop() }
        _ = await child.waitForEndOfOutput()
        let lines = child.log.split(separator: "\n").map(String.init)
        let last = try #require(lines.last, "no output; log:\n\(child.log)")
        let values = try #require(Self.chaosVerdict(last), "last line is not the verdict; log:\n\(child.log)")
        #expect(values["kills"] == 8)
        #expect(values["lost"] == 0, "log:\n\(child.log)")
        #expect(values["rejected_wrongly"] == 0, "log:\n\(child.log)")
        #expect((values["accepted"] ?? 0) > 20, "the load reached the agent; log:\n\(child.log)")
        #expect(child.log.contains("disk full ") && child.log.range(of: "disk full [0-9]+ ms", options: .regularExpression) != nil,
            "the seed includes a full disk; log:\n\(child.log)")
        #expect(status == 0, "log:\n\(child.log)")
        #expect(!child.log.contains("PROBLEM"), "log:\n\(child.log)")
    }

    @Test func agentStartsOnACorruptStoreSalvagesItAndKeepsDelivering() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        // A store with 500 events, all delivered but the last 100, then damaged in the middle.
        var original: [StoredEvent] = []
        do {
            let store = try EventStore.open(directory: station.stateDirectory)
            original = try await store.append(
                contentsOf: (0..<500).map { NewEvent(kind: .cardTap, device: "reader-1", purpose: "check-in", card: CardRead(uid: String(format: "%010X", $0), format: "em4100")) })
            try await store.markDelivered(original.prefix(400).map { DeliveryOutcome(seq: $0.seq, status: .accepted) })
            try store.checkpoint()
        }
        try station.damageMiddlePageOfTheStore()

        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL)
        let agent = try station.startAgent()
        let started = await eventually(timeout: .seconds(30)) {
            try await platform.received().contains { $0.event.kind == EventKind.agentStarted.rawValue }
        }
        #expect(started, "agent log:\n\(agent.log)")
        try station.readers["reader-1"]!.tap(uid: "0DDBA11000")
        let tapArrived = await eventually(timeout: .seconds(20)) {
            try await platform.received().contains { $0.event.card?.uid == "0DDBA11000" }
        }
        #expect(tapArrived, "agent log:\n\(agent.log)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: station.stateDirectory).filter { $0.hasPrefix("events.sqlite.corrupt-") }
        #expect(!aside.isEmpty, "the corrupt file is kept aside")
        // Undelivered salvaged taps (seq 401...500) that could be read reached the platform, with their ids.
        let received = try await platform.received()
        let receivedIDs = Set(received.map(\.event.id))
        let undelivered = original.suffix(100)
        let salvagedAndSent = undelivered.filter { receivedIDs.contains($0.id) }
        #expect(!salvagedAndSent.isEmpty, "agent log:\n\(agent.log)")
        #expect(received.filter { $0.event.kind == "card_tap" }.allSatisfy { $0.event.seq > 400 }, "delivered events are not sent again")
        let newest = try #require(received.first { $0.event.card?.uid == "0DDBA11000" })
        #expect(newest.event.seq > 500, "new sequence numbers continue above the old file's")
        await agent.stop()
        await platform.stop()
    }
}
