import Agent
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

/// Nothing lost, whatever the platform answers: every answer class that must not refuse events
/// (docs/platform-api.md, "How the kiosk reads your answers"), on both lanes, against the real
/// agent and the emulator's fault injection. For each: the taps and alarm-lane events made during
/// the fault stay queued, `status` names the fault, nothing is rejected, and everything arrives
/// exactly once when the fault clears.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct FaultMatrixTests {
    /// (what the fault is, the emulator's fault setting, what `status` must say after "platform").
    static let answers: [(String, String, String)] = [
        ("the platform's 404 (a wrong URL path)", #"{"status": 404}"#, "refusing: 404 Not Found"),
        ("a proxy's 404 page", #"{"status": 404, "body": "html"}"#, "refusing: 404 Not Found"),
        ("405", #"{"status": 405}"#, "refusing: 405 Method Not Allowed"),
        ("410", #"{"status": 410, "body": "empty"}"#, "refusing: 410 Gone"),
        ("415", #"{"status": 415}"#, "refusing: 415 Unsupported Media Type"),
        ("401", #"{"status": 401}"#, "refusing: 401 Unauthorized"),
        ("403 from a captive portal", #"{"status": 403, "body": "html"}"#, "refusing: 403 Forbidden"),
        ("409", #"{"status": 409}"#, "refusing: 409 Conflict"),
        ("429", #"{"status": 429, "retryAfterSeconds": 1}"#, "refusing: 429 Too Many Requests"),
        ("a proxy's 400 page", #"{"status": 400, "body": "html"}"#, "refusing: 400 Bad Request"),
        ("a proxy's 413 page", #"{"status": 413, "body": "html"}"#, "refusing: 413 Payload Too Large"),
        ("422 without the platform's body", #"{"status": 422, "body": "empty"}"#, "refusing: 422 Unprocessable Entity"),
        ("500", #"{"status": 500}"#, "refusing: 500 Internal Server Error"),
        ("a load balancer's 502 page", #"{"status": 502, "body": "html"}"#, "refusing: 502 Bad Gateway"),
        ("503 without a body", #"{"status": 503, "body": "empty"}"#, "refusing: 503 Service Unavailable"),
        ("504", #"{"status": 504, "body": "html"}"#, "refusing: 504 Gateway Timeout"),
        ("a redirect (302)", #"{"status": 302}"#, "refusing: 302 Found"),
        ("a redirect (307)", #"{"status": 307}"#, "refusing: 307 Temporary Redirect"),
        ("a redirect (308)", #"{"status": 308}"#, "refusing: 308 Permanent Redirect"),
        ("a truncated 200 after storing", #"{"answer": "truncated"}"#, "answering with a body that is not an IngestResponse"),
        ("a 200 with verdicts for other events", #"{"answer": "wrong-ids"}"#, "answering with verdicts for events not in the batch"),
        ("a reset before storing", #"{"dropConnection": "before-store"}"#, "unreachable"),
        ("a reset after storing", #"{"dropConnection": "after-store"}"#, "unreachable"),
    ]

    @Test func everyAnswerThatDoesNotRefuseKeepsTheEventsOnBothLanesAndStatusNamesIt() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(2))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        let agent = try station.startAgent()
        func store() throws -> EventStore { try EventStore.openReadOnly(directory: station.stateDirectory) }
        let online = await eventually { try await platform.received().contains { $0.event.kind == EventKind.agentStarted.rawValue } }
        try #require(online, "agent log:\n\(agent.log)")

        var tamperOpen = false
        for (index, (name, fault, summary)) in Self.answers.enumerated() {
            try await platform.setFaults(fault)
            let uid = String(format: "%010X", 0x7A_0000_0000 + index)
            try station.readers["reader-1"]!.tap(uid: uid)
            tamperOpen.toggle()
            box.tamper(open: tamperOpen)
            // Both lanes met the fault and recorded it for `status`.
            let recorded = await eventually {
                let faults = try await PlatformFault.readAll(from: store())
                return Set(faults.filter { $0.summary == summary }.map(\.lane)) == [.alarm, .normal]
            }
            #expect(recorded, "\(name): both lanes record '\(summary)'; agent log:\n\(agent.log)")
            let status = try await station.agentCommand("status")
            #expect(status.contains("platform \(summary) since"), "\(name): status names the fault:\n\(status)")
            #expect(status.contains("alarm event(s) waiting") && status.contains("normal event(s) waiting"), "\(name):\n\(status)")

            try await platform.clearFaults()
            let delivered = await eventually {
                let received = try await platform.received()
                let tamper = received.filter { $0.event.kind == EventKind.tamper.rawValue }
                let queued = try await store().summary().totalQueued
                return received.contains { $0.event.card?.uid == uid } && tamper.count == index + 1 && queued == 0
            }
            #expect(delivered, "\(name): everything arrives once the fault clears; agent log:\n\(agent.log)")
            let cleared = await eventually { try await PlatformFault.readAll(from: store()).isEmpty }
            #expect(cleared, "\(name): the fault record clears when the platform answers again")
            #expect(try await store().rejectedCounts().isEmpty, "\(name): nothing is rejected")
        }
        let received = try await platform.received()
        #expect(Set(received.map(\.event.id)).count == received.count, "each event stored once by the platform")
        let taps = received.filter { $0.event.kind == EventKind.cardTap.rawValue }
        #expect(taps.count == Self.answers.count, "one tap per fault, each delivered once")
        #expect(try await store().events(limit: 100_000).allSatisfy { $0.outcome != .rejected })
        let status = try await station.agentCommand("status")
        #expect(!status.contains("platform refusing") && !status.contains("rejected by the platform"), "\(status)")
        await agent.stop()
        await platform.stop()
    }

    /// A platform that sends its headers and then stalls the body: each such answer is
    /// abandoned at the request's deadline (`timeout_ms`), `status` names it, and the lane goes
    /// on; the tap and the alarm arrive once the platform answers again.
    @Test func aStalledAnswerIsAbandonedAtTheDeadlineAndTheLanesGoOn() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(2))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL, extraPlatform: "timeout_ms = 1000", extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        try await platform.setFaults(#"{"answer": "stalled"}"#)
        let agent = try station.startAgent()
        func store() throws -> EventStore { try EventStore.openReadOnly(directory: station.stateDirectory) }
        try station.readers["reader-1"]!.tap(uid: "7C00000001")
        let pressedAt = ContinuousClock.now
        box.press()
        let stalled = await eventually {
            Set(try await PlatformFault.readAll(from: store()).filter { $0.summary == "not answering within the deadline" }.map(\.lane))
                == [.alarm, .normal]
        }
        #expect(stalled, "both lanes abandon the stalled answer and record it; log:\n\(agent.log)")
        Measured.report("platform stalling after its headers (timeout_ms 1000): press to both lanes' fault recorded", since: pressedAt)
        let status = try await station.agentCommand("status")
        #expect(status.contains("platform not answering within the deadline since"), "\(status)")
        try await platform.clearFaults()
        let cleared = ContinuousClock.now
        let arrived = await eventually {
            let received = try await platform.received()
            return received.contains { $0.event.card?.uid == "7C00000001" } && received.contains { $0.event.kind == "alarm" }
        }
        #expect(arrived, "the lanes were not held by the stalled answers; log:\n\(agent.log)")
        Measured.report("platform stalling after its headers: fault cleared to both events at the platform", since: cleared)
        #expect(await eventually { try await PlatformFault.readAll(from: store()).isEmpty })
        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "SIGTERM still stops the agent; log:\n\(agent.log)")
        await platform.stop()
    }

    /// A TLS failure (the agent speaks https to a plain-http server: the handshake fails) keeps
    /// the queue on both lanes like any other failure to get an answer; `status` names it.
    @Test func aTLSFailureKeepsTheQueueUntilItIsFixed() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(2))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        let https = platform.baseURL.replacingOccurrences(of: "http://", with: "https://")
        try station.writeConfig(
            platformURL: https, extraPlatform: "timeout_ms = 1000", extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        var agent = try station.startAgent()
        try station.readers["reader-1"]!.tap(uid: "7E00000001")
        box.press()
        func store() throws -> EventStore { try EventStore.openReadOnly(directory: station.stateDirectory) }
        // The plain-http server either drops the handshake (no answer) or waits for a request
        // it never gets (the deadline): both are failures to get an answer.
        let noAnswer: Set = ["unreachable", "not answering within the deadline"]
        let failing = await eventually {
            Set(try await PlatformFault.readAll(from: store()).filter { noAnswer.contains($0.summary) }.map(\.lane)) == [.alarm, .normal]
        }
        #expect(failing, "both lanes record the TLS failure; log:\n\(agent.log)")
        let status = try await station.agentCommand("status")
        #expect(noAnswer.contains { status.contains("platform \($0) since") }, "\(status)")
        #expect(try await store().rejectedCounts().isEmpty, "a TLS failure rejects nothing")
        await agent.stop()

        try station.writeConfig(platformURL: platform.baseURL, extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        agent = try station.startAgent()
        let arrived = await eventually {
            let received = try await platform.received()
            return received.contains { $0.event.card?.uid == "7E00000001" } && received.contains { $0.event.kind == "alarm" }
        }
        #expect(arrived, "everything arrives once TLS is fixed; log:\n\(agent.log)")
        await agent.stop()
        await platform.stop()
    }

    @Test func aWrongURLPathKeepsTheQueueUntilTheURLIsFixed() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(2))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL + "/wrong", extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        var agent = try station.startAgent()
        for index in 0..<5 { try station.readers["reader-1"]!.tap(uid: String(format: "%010X", 0x7B_0000_0000 + index)) }
        box.press()
        func store() throws -> EventStore { try EventStore.openReadOnly(directory: station.stateDirectory) }
        let refused = await eventually {
            let faults = try await PlatformFault.readAll(from: store())
            let queued = try await store().summary()
            return faults.count == 2 && (queued.lanes[.normal]?.count ?? 0) >= 5 && (queued.lanes[.alarm]?.count ?? 0) >= 1
        }
        #expect(refused, "agent log:\n\(agent.log)")
        let status = try await station.agentCommand("status")
        #expect(status.contains("platform refusing: 404 Not Found since"), "\(status)")
        #expect(status.contains("last delivery: never"), "a refusal is not a delivery:\n\(status)")
        let doctor = try await station.agentCommand("doctor", ["--timeout", "2"])
        #expect(doctor.contains("FAIL  delivery: the agent's normal lane finds the platform refusing: 404 Not Found"), "\(doctor)")
        #expect(try await store().rejectedCounts().isEmpty, "a wrong URL rejects nothing")
        #expect(try await platform.received().isEmpty)

        await agent.stop()
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: AlarmEndToEndTests.alarmBoxConfig(box))
        agent = try station.startAgent()
        let arrived = await eventually {
            let received = try await platform.received()
            return received.filter { $0.event.kind == "card_tap" }.count == 5 && received.contains { $0.event.kind == "alarm" }
        }
        #expect(arrived, "every queued tap and the alarm arrive after the fix; agent log:\n\(agent.log)")
        #expect(await eventually { try await store().summary().totalQueued == 0 })
        await agent.stop()
        await platform.stop()
    }
}
