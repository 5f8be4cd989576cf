import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PlatformAPI
import Testing

@testable import PlatformEmulator

@Suite("Station supervision: heartbeats and silent stations")
struct SupervisionTests {
    @Test("a heartbeat is stored as the station's last one, with the time it arrived")
    func heartbeatStored() async throws {
        let clock = ManualClock()
        let harness = try Harness(now: clock.now)
        try await harness.test { client in
            let first = sampleHeartbeat()
            let response = try await postHeartbeat(client, first)
            #expect(response.status == .noContent)
            #expect(response.body.readableBytes == 0)
            #expect(
                try await stationList(client) == [
                    StationView(stationID: "station-1", lastHeartbeatAt: "2027-01-15T08:00:00.000Z", silent: false, heartbeat: first)
                ]
            )

            clock.advance(seconds: 30)
            var second = sampleHeartbeat(latched: [uuid(5)])
            second.queued = ["alarm": 1, "normal": 0]
            second.oldestQueuedAt = nil
            second.bootId = nil
            try await postHeartbeat(client, second)
            let stations = try await stationList(client)
            #expect(stations.map(\.heartbeat) == [second])
            #expect(stations.map(\.lastHeartbeatAt) == ["2027-01-15T08:00:30.000Z"])
        }
    }

    @Test("a station is silent once its last heartbeat is older than silentAfterSeconds")
    func silentComputed() async throws {
        let clock = ManualClock()
        let harness = try Harness(now: clock.now)
        try await harness.test { client in
            try await postHeartbeat(client, sampleHeartbeat(), station: "kiosk-a")
            clock.advance(seconds: 60)
            try await postHeartbeat(client, sampleHeartbeat(), station: "kiosk-b")
            // A station known only by its events never sent a heartbeat: silent.
            try await post(client, ingestRequest(station: "kiosk-c", [wireEvent(1)]))

            clock.advance(seconds: 30)  // a: 90 s, b: 30 s
            var stations = try await stationList(client)
            #expect(stations.map(\.stationID) == ["kiosk-a", "kiosk-b", "kiosk-c"])
            #expect(stations.map(\.silent) == [false, false, true])
            #expect(stations.last?.lastHeartbeatAt == nil)
            #expect(stations.last?.heartbeat == nil)

            clock.advance(seconds: 1)  // a: 91 s
            stations = try await stationList(client)
            #expect(stations.map(\.silent) == [true, false, true])

            stations = try await stationList(client, query: "?silentAfterSeconds=20")
            #expect(stations.map(\.silent) == [true, true, true])
            stations = try await stationList(client, query: "?silentAfterSeconds=3600")
            #expect(stations.map(\.silent) == [false, false, true])

            // A new heartbeat makes it heard again.
            try await postHeartbeat(client, sampleHeartbeat(), station: "kiosk-a")
            #expect(try await stationList(client).map(\.silent) == [false, false, true])
        }
    }

    @Test("silentAfterSeconds is checked")
    func silentAfterChecked() async throws {
        let harness = try Harness()
        try await harness.test { client in
            for query in ["?silentAfterSeconds=0", "?silentAfterSeconds=-5", "?silentAfterSeconds=a"] {
                let response = try await client.execute(uri: "/v1/stations" + query, method: .get)
                #expect(response.status == .badRequest)
                #expect(try decode(ErrorBody.self, response).detail.hasPrefix("silentAfterSeconds:"))
            }
        }
    }

    @Test(
        "a heartbeat that does not match the document gets 400 naming the field, and is not stored",
        arguments: [
            ("sentAt", "sentAt: \"later\" is not an ISO 8601 timestamp"),
            ("agentVersion", "agentVersion: must not be empty"),
            ("agentVersionMissing", "agentVersion: missing"),
            ("queuedLane", "queued.fast: \"fast\" is not a lane"),
            ("queuedNegative", "queued.normal: -1 is negative"),
            ("queuedFraction", "queued.normal: 1.5 is not an integer"),
            ("oldestQueuedAt", "oldestQueuedAt: \"x\" is not an ISO 8601 timestamp"),
            ("deviceName", "devices[1].name: must not be empty"),
            ("deviceState", "devices[0].state: \"broken\" is not one of online, offline, unknown"),
            ("latched", "latchedAlarms[0]: \"alarm-1\" is not a UUID"),
            ("devicesNotArray", "devices: wrong type, expected an array"),
        ]
    )
    func heartbeatValidation(_ field: String, _ prefix: String) async throws {
        let harness = try Harness()
        let encoded = try JSONEncoder().encode(sampleHeartbeat())
        var root = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        var devices = try #require(root["devices"] as? [[String: Any]])
        switch field {
        case "sentAt": root["sentAt"] = "later"
        case "agentVersion": root["agentVersion"] = ""
        case "agentVersionMissing": root["agentVersion"] = nil
        case "queuedLane": root["queued"] = ["fast": 1]
        case "queuedNegative": root["queued"] = ["normal": -1]
        case "queuedFraction": root["queued"] = ["normal": 1.5]
        case "oldestQueuedAt": root["oldestQueuedAt"] = "x"
        case "deviceName": devices[1]["name"] = ""
        case "deviceState": devices[0]["state"] = "broken"
        case "latched": root["latchedAlarms"] = ["alarm-1"]
        case "devicesNotArray": root["devices"] = "reader-1"
        default: Issue.record("unknown case \(field)")
        }
        if root["devices"] is [[String: Any]] {
            root["devices"] = devices
        }
        let body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: root))
        try await harness.test { client in
            let response = try await client.execute(
                uri: PlatformAPI.heartbeatPath(stationID: "station-1"), method: .post, headers: jsonHeaders, body: body
            )
            #expect(response.status == .badRequest)
            let detail = try decode(ErrorBody.self, response).detail
            #expect(detail.hasPrefix(prefix), "detail was: \(detail)")
            #expect(try await stationList(client).isEmpty)
        }
    }

    @Test("a heartbeat not sent as JSON gets 415")
    func heartbeatContentType() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let response = try await postHeartbeat(client, sampleHeartbeat(), headers: [.contentType: "text/plain"])
            #expect(response.status == .unsupportedMediaType)
        }
    }
}
