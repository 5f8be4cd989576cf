import EventModel
import Foundation
import PlatformAPI
import Testing

/// The hand-written ingest JSON against `JSONEncoder`/`JSONDecoder`.
@Suite struct WireJSONTests {
    /// Every field set, with text that needs escaping and text that does not.
    static let full = WireEvent(
        id: "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b", seq: Int64.max, kind: "card_tap", lane: "normal",
        occurredAt: "2026-11-24T10:15:30.123Z", monotonicNanos: UInt64.max, device: "reader \"1\"\\north",
        purpose: "check-in/out", card: WireCard(uid: "0012345678", format: "em4100", uidKind: "pseudonym-hmac-sha256"),
        detail: "line\nbreak\ttab\r\u{01}\u{1F} bell\u{08}\u{0C} 中文 é 🚨", related: "9a7b1c2d-3e4f-5a6b-3f2b-8c1e5d4a4e6f",
        bootId: "0b5c3a52-7e1f-4d0e-9c55-1f8f4a9d2e61", clockSynchronized: false, clockCorrected: true,
        originalOccurredAt: "2020-01-01T00:00:07.250Z")

    @Test func everyStoredPropertyOfWireEventIsSetInTheFixture() {
        // When WireEvent gains a field, set it here (non-nil) and write it in `WireEvent.write(to:)`;
        // the round trip below then proves the encoder carries it.
        for child in Mirror(reflecting: Self.full).children {
            let value = child.value
            let isNil = Mirror(reflecting: value).displayStyle == .optional && Mirror(reflecting: value).children.isEmpty
            #expect(!isNil, "WireEvent.\(child.label ?? "?") is nil in the fixture: set it so the encoder test covers it")
        }
    }

    @Test func requestRoundTripsThroughJSONDecoderWithEveryField() throws {
        let minimal = WireEvent(
            id: "00000000-0000-4000-8000-000000000001", seq: 1, kind: "alarm", lane: "alarm",
            occurredAt: "1970-01-01T00:00:00.000Z", device: "box")
        let request = IngestRequest(
            station: WireStation(id: "ST-7", location: GridLocation(district: "东城", grid: "g-1")),
            sentAt: "2026-11-24T10:15:31.000Z", events: [Self.full, minimal, Self.full])
        let bytes = try request.encodedJSON()
        let decoded = try JSONDecoder().decode(IngestRequest.self, from: Data(bytes))
        #expect(decoded == request)
        // The same keys as JSONEncoder writes, no more, no fewer (nil optionals left out).
        let ours = try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary
        let theirs = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? NSDictionary
        #expect(ours != nil && ours == theirs)
    }

    @Test func emptyBatchAndStationWithoutLocation() throws {
        let request = IngestRequest(station: WireStation(id: "s"), sentAt: "2026-11-24T10:15:31.000Z", events: [])
        let bytes = try request.encodedJSON()
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"station":{"id":"s"},"sentAt":"2026-11-24T10:15:31.000Z","events":[]}"#)
        #expect(try JSONDecoder().decode(IngestRequest.self, from: Data(bytes)) == request)
    }

    @Test func controlCharactersAreEscaped() throws {
        var json = JSONWriter()
        json.string("a\u{00}b\u{1F}\"\\/")
        #expect(String(decoding: json.bytes, as: UTF8.self) == #""a\u0000b\u001f\"\\/""#)
        let decoded = try JSONDecoder().decode(String.self, from: Data(json.bytes))
        #expect(decoded == "a\u{00}b\u{1F}\"\\/")
    }

    @Test func responseMatchesSortedKeysJSONEncoderByteForByte() throws {
        let response = IngestResponse(results: [
            IngestResult(id: "a", status: .accepted), IngestResult(id: "b", status: .duplicate),
            IngestResult(id: "c", status: .rejected, reason: "id c was already received as \"x\"\n"),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(response.encodedJSON() == [UInt8](try encoder.encode(response)))
        #expect(try JSONDecoder().decode(IngestResponse.self, from: Data(response.encodedJSON())) == response)
    }
}
