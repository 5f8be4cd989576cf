import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PlatformAPI
import Testing

@testable import PlatformEmulator

/// One way a request can fail to match the API document, and the answer it must get.
enum Malformation: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case notJSON, topLevelArray, missingStation, missingEvents, eventsNotArray, missingKind, seqIsString, seqIsFraction
    case kindUnknown, kindNull, idNotUUID, seqZero, seqNegative, occurredAtNotISO, laneUnknown
    case alarmInNormalLane, tapInAlarmLane, resetInNormalLane, tamperInNormalLane, relatedNotUUID
    case deviceEmpty, cardUIDMissing, monotonicNegative
    case stationMismatch, stationIDEmpty, sentAtNotISO, noEvents, tooManyEvents

    var testDescription: String { rawValue }

    /// Where the request goes (`/v1/stations/{this}/events`).
    var pathStation: String { self == .stationMismatch ? "station-2" : "station-1" }

    var expectedStatus: HTTPResponse.Status { self == .tooManyEvents ? .contentTooLarge : .badRequest }

    /// The detail must start with this (the field path, and for some cases the whole message).
    var expectedDetailPrefix: String {
        switch self {
        case .notJSON: "request body is not valid JSON: "
        case .topLevelArray: "request body: wrong type, expected an object"
        case .missingStation: "station: missing"
        case .missingEvents: "events: missing"
        case .eventsNotArray: "events: wrong type, expected an array"
        case .missingKind: "events[3].kind: missing"
        case .seqIsString: "events[3].seq: wrong type, expected an integer"
        case .seqIsFraction: "events[3].seq: 4.5 is not an integer"
        case .kindUnknown:
            "events[3].kind: \"foo\" is not one of card_tap, alarm, device_online, device_offline, agent_started, "
                + "alarm_reset, tamper, low_battery, power_loss, power_restored, device_fault, events_evicted, clock_jump"
        case .kindNull: "events[3].kind: must not be null"
        case .idNotUUID: "events[3].id: \"not-a-uuid\" is not a UUID"
        case .seqZero: "events[3].seq: 0 is below 1"
        case .seqNegative: "events[3].seq: -4 is below 1"
        case .occurredAtNotISO: "events[3].occurredAt: \"yesterday\" is not an ISO 8601 timestamp"
        case .laneUnknown: "events[3].lane: \"fast\" is not one of alarm, normal"
        case .alarmInNormalLane: "events[3].lane: \"normal\" does not fit kind \"alarm\""
        case .tapInAlarmLane: "events[3].lane: \"alarm\" does not fit kind \"card_tap\""
        case .resetInNormalLane: "events[3].lane: \"normal\" does not fit kind \"alarm_reset\"; alarm_reset events travel in lane alarm"
        case .tamperInNormalLane: "events[3].lane: \"normal\" does not fit kind \"tamper\""
        case .relatedNotUUID: "events[3].related: \"the alarm\" is not a UUID"
        case .deviceEmpty: "events[3].device: must not be empty"
        case .cardUIDMissing: "events[3].card.uid: missing"
        case .monotonicNegative: "events[3].monotonicNanos: -1 is not an integer between 0 and"
        case .stationMismatch: "station.id: \"station-1\" does not match the station in the path (\"station-2\")"
        case .stationIDEmpty: "station.id: must not be empty"
        case .sentAtNotISO: "sentAt: \"now\" is not an ISO 8601 timestamp"
        case .noEvents: "events: must contain at least one event"
        case .tooManyEvents: "events: 1001 events in one request, at most 1000 are allowed"
        }
    }

    /// The request body: a valid four-event batch for `station-1`, broken in one place.
    func body() throws -> ByteBuffer {
        if self == .notJSON {
            return ByteBuffer(string: "{\"station\": {\"id\": \"station-1\"}, \"events\": [")
        }
        if self == .topLevelArray {
            return ByteBuffer(string: "[1, 2, 3]")
        }
        let events = self == .tooManyEvents ? (1...1001).map { wireEvent($0) } : (1...4).map { wireEvent($0) }
        let encoded = try JSONEncoder().encode(ingestRequest(station: "station-1", events))
        var root = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        var list = try #require(root["events"] as? [[String: Any]])
        var event = list[3]
        switch self {
        case .notJSON, .topLevelArray, .stationMismatch, .tooManyEvents: break
        case .missingStation: root["station"] = nil
        case .missingEvents: root["events"] = nil
        case .eventsNotArray: root["events"] = ["id": uuid(1)]
        case .missingKind: event["kind"] = nil
        case .seqIsString: event["seq"] = "4"
        case .seqIsFraction: event["seq"] = 4.5
        case .kindUnknown: event["kind"] = "foo"
        case .kindNull: event["kind"] = NSNull()
        case .idNotUUID: event["id"] = "not-a-uuid"
        case .seqZero: event["seq"] = 0
        case .seqNegative: event["seq"] = -4
        case .occurredAtNotISO: event["occurredAt"] = "yesterday"
        case .laneUnknown: event["lane"] = "fast"
        case .alarmInNormalLane:
            event["kind"] = "alarm"
            event["lane"] = "normal"
        case .tapInAlarmLane: event["lane"] = "alarm"
        case .resetInNormalLane:
            event["kind"] = "alarm_reset"
            event["lane"] = "normal"
            event["related"] = uuid(1)
        case .tamperInNormalLane:
            event["kind"] = "tamper"
            event["lane"] = "normal"
        case .relatedNotUUID: event["related"] = "the alarm"
        case .deviceEmpty: event["device"] = ""
        case .cardUIDMissing: event["card"] = ["format": "hex"]
        case .monotonicNegative: event["monotonicNanos"] = -1
        case .stationIDEmpty: root["station"] = ["id": ""]
        case .sentAtNotISO: root["sentAt"] = "now"
        case .noEvents: list = []
        }
        if !list.isEmpty {
            list[3] = event
        }
        if root["events"] is [[String: Any]] {
            root["events"] = list
        }
        return ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: root))
    }
}

@Suite("Ingest requests that do not match the API document")
struct ValidationTests {
    @Test("each malformation gets its status and a detail naming the field", arguments: Malformation.allCases)
    func malformedRequest(_ malformation: Malformation) async throws {
        let harness = try Harness()
        let body = try malformation.body()
        try await harness.test { client in
            let response = try await client.execute(
                uri: PlatformAPI.ingestPath(stationID: malformation.pathStation), method: .post, headers: jsonHeaders,
                body: body
            )
            #expect(response.status == malformation.expectedStatus)
            #expect(response.headers[.contentType] == "application/json")
            let error = try decode(ErrorBody.self, response)
            #expect(error.error == (malformation.expectedStatus == .badRequest ? "bad_request" : "too_large"))
            #expect(
                error.detail.hasPrefix(malformation.expectedDetailPrefix),
                "detail was: \(error.detail)"
            )
            #expect(try await receivedPage(client).events.isEmpty)
            #expect(try await stats(client).badRequests == 1)
        }
    }

    @Test("a body that is not declared as JSON gets 415", arguments: ["text/plain", "application/x-www-form-urlencoded", ""])
    func wrongContentType(_ contentType: String) async throws {
        let harness = try Harness()
        let headers: HTTPFields = contentType.isEmpty ? [:] : [.contentType: contentType]
        let body = try jsonBuffer(ingestRequest([wireEvent(1)]))
        try await harness.test { client in
            let response = try await client.execute(
                uri: PlatformAPI.ingestPath(stationID: "station-1"), method: .post, headers: headers, body: body
            )
            #expect(response.status == .unsupportedMediaType)
            let error = try decode(ErrorBody.self, response)
            #expect(error.error == "unsupported_media_type")
            #expect(error.detail.contains("Content-Type: application/json"))
        }
    }

    @Test("`application/json; charset=utf-8` is JSON")
    func contentTypeWithCharset() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let response = try await post(
                client, ingestRequest([wireEvent(1)]), headers: [.contentType: "Application/JSON; charset=utf-8"]
            )
            #expect(response.status == .ok)
        }
    }

    @Test("a body over 8 MiB gets 413 too_large")
    func bodyTooLarge() async throws {
        let harness = try Harness()
        var event = wireEvent(1)
        event.detail = String(repeating: "x", count: EmulatorConfiguration.defaultMaxBodyBytes)
        let body = try jsonBuffer(ingestRequest([event]))
        #expect(body.readableBytes > EmulatorConfiguration.defaultMaxBodyBytes)
        try await harness.test { client in
            let response = try await client.execute(
                uri: PlatformAPI.ingestPath(stationID: "station-1"), method: .post, headers: jsonHeaders, body: body
            )
            #expect(response.status == .contentTooLarge)
            let error = try decode(ErrorBody.self, response)
            #expect(error.error == "too_large")
            #expect(error.detail.hasPrefix("request body: larger than 8388608 bytes"))
        }
    }

    @Test("exactly the maximum batch size is accepted")
    func maximumBatch() async throws {
        let harness = try Harness()
        let events = (1...PlatformAPI.maxBatchSize).map { wireEvent($0) }
        try await harness.test { client in
            let response = try await post(client, ingestRequest(events))
            #expect(response.status == .ok)
            #expect(try decode(IngestResponse.self, response).results.count == PlatformAPI.maxBatchSize)
        }
    }

    @Test("a percent-encoded station id in the path matches the body's")
    func percentEncodedStation() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let response = try await client.execute(
                uri: "/v1/stations/kiosk%207/events", method: .post, headers: jsonHeaders,
                body: try jsonBuffer(ingestRequest(station: "kiosk 7", [wireEvent(1)]))
            )
            #expect(response.status == .ok)
        }
    }

    @Test("unknown routes answer 404 with an ErrorBody")
    func unknownRoute() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let response = try await client.execute(uri: "/v1/nothing-here", method: .get)
            #expect(response.status == .notFound)
            let error = try decode(ErrorBody.self, response)
            #expect(error.error == "not_found")
            #expect(error.detail.contains("/v1/nothing-here"))
        }
    }

    @Test("field paths join keys with dots and indexes with brackets")
    func fieldPaths() {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int?
            init(stringValue: String) { self.stringValue = stringValue }
            init(intValue: Int) {
                self.stringValue = "Index \(intValue)"
                self.intValue = intValue
            }
        }
        #expect(RequestValidation.fieldPath([]) == "")
        #expect(RequestValidation.fieldPath([Key(stringValue: "events")]) == "events")
        #expect(
            RequestValidation.fieldPath([Key(stringValue: "events"), Key(intValue: 12), Key(stringValue: "card"), Key(stringValue: "uid")])
                == "events[12].card.uid"
        )
    }
}
