import EventModel
import Foundation

/// Hand-written JSON for the two bodies that carry one entry per event: the ingest request the
/// agent sends and the ingest response the platform answers. `JSONEncoder` walks every field
/// through `Codable`'s containers; for a 1,000-event batch that cost more than the rest of the
/// request together. The output is ordinary JSON that `JSONDecoder` reads back into the same
/// values (tests compare both ways, field by field, so a field added to ``WireEvent`` and
/// forgotten here fails a test instead of silently vanishing from the wire).
///
/// Keys are the `Codable` property names; optional fields that are `nil` are left out, as
/// `JSONEncoder` does.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    private var needsComma = false

    public mutating func beginObject() {
        separate()
        bytes.append(0x7B)
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(0x7D)
        needsComma = true
    }

    public mutating func beginArray() {
        separate()
        bytes.append(0x5B)
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(0x5D)
        needsComma = true
    }

    /// Writes `"name":`; the value follows.
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(0x22)
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(0x22)
        bytes.append(0x3A)
        needsComma = false
    }

    public mutating func string(_ value: String) {
        separate()
        bytes.append(0x22)
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                if start < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index])) }
                bytes.append(0x5C)
                switch byte {
                case 0x22: bytes.append(0x22)
                case 0x5C: bytes.append(0x5C)
                case 0x0A: bytes.append(0x6E)  // \n
                case 0x0D: bytes.append(0x72)  // \r
                case 0x09: bytes.append(0x74)  // \t
                case 0x08: bytes.append(0x62)  // \b
                case 0x0C: bytes.append(0x66)  // \f
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
                }
                start = index + 1
            }
            if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
        bytes.append(0x22)
        needsComma = true
    }

    public mutating func integer<T: BinaryInteger>(_ value: T) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    public mutating func boolean(_ value: Bool) {
        separate()
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
        needsComma = true
    }

    /// Bytes that are already one JSON value (an object encoded once and reused).
    public mutating func raw(_ json: [UInt8]) {
        separate()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    public mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    public mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        field(name, value)
    }

    public mutating func field<T: BinaryInteger>(_ name: StaticString, _ value: T) {
        key(name)
        integer(value)
    }

    public mutating func field<T: BinaryInteger>(_ name: StaticString, _ value: T?) {
        guard let value else { return }
        field(name, value)
    }

    public mutating func field(_ name: StaticString, _ value: Bool?) {
        guard let value else { return }
        key(name)
        boolean(value)
    }

    private mutating func separate() {
        if needsComma { bytes.append(0x2C) }
        needsComma = false
    }
}

extension WireCard {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("uid", uid)
        json.field("format", format)
        json.field("uidKind", uidKind)
        json.endObject()
    }
}

extension WireEvent {
    /// Appends this event as one JSON object. Every stored property of ``WireEvent`` must be
    /// written here (`WireJSONTests` checks that against `Mirror` and `JSONDecoder`).
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.field("id", id)
        json.field("seq", seq)
        json.field("kind", kind)
        json.field("lane", lane)
        json.field("occurredAt", occurredAt)
        json.field("monotonicNanos", monotonicNanos)
        json.field("device", device)
        json.field("purpose", purpose)
        if let card {
            json.key("card")
            card.write(to: &json)
        }
        json.field("detail", detail)
        json.field("related", related)
        json.field("bootId", bootId)
        json.field("clockSynchronized", clockSynchronized)
        json.field("clockCorrected", clockCorrected)
        json.field("originalOccurredAt", originalOccurredAt)
        json.endObject()
    }
}

extension IngestRequest {
    /// The request body as JSON. `station` goes through `JSONEncoder` (one small object per
    /// request); the events are written by hand.
    public func encodedJSON() throws -> [UInt8] {
        let stationJSON = try [UInt8](JSONEncoder().encode(station))
        var json = JSONWriter(capacity: 128 + events.count * 260)
        json.beginObject()
        json.key("station")
        json.raw(stationJSON)
        json.field("sentAt", sentAt)
        json.key("events")
        json.beginArray()
        for event in events { event.write(to: &json) }
        json.endArray()
        json.endObject()
        return json.bytes
    }
}

extension IngestResponse {
    /// The response body as JSON, written by hand (one small object per event), with the keys
    /// sorted as the emulator's `JSONEncoder` (`.sortedKeys`) wrote them.
    public func encodedJSON() -> [UInt8] {
        var json = JSONWriter(capacity: 16 + results.count * 64)
        json.beginObject()
        json.key("results")
        json.beginArray()
        for result in results {
            json.beginObject()
            json.field("id", result.id)
            json.field("reason", result.reason)
            json.field("status", result.status.rawValue)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }
}
