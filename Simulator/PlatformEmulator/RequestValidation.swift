import EventModel
import Foundation
import PlatformAPI

/// Decoding and checking of request bodies against the API document (`docs/platform-api.yaml`).
///
/// Every failure is an ``EmulatorRequestError`` whose detail starts with the field path, e.g.
/// `events[3].kind: "foo" is not one of card_tap, alarm, device_online, ...`.
public enum RequestValidation {
    /// The integer fields of a request body by name, so that a number that does not fit can be
    /// named (Foundation's decoder reports those without a coding path).
    public enum IntegerField: Sendable {
        /// A signed 64-bit integer.
        case int64
        /// An unsigned 64-bit integer.
        case uint64
    }

    /// The integer fields of ``PlatformAPI/IngestRequest``.
    public static let ingestIntegerFields: [String: IntegerField] = ["seq": .int64, "monotonicNanos": .uint64]

    /// Decodes a JSON body, turning decoder errors into 400s that name the field.
    /// - Parameter integerFields: integer fields by name, used to name the field when a number
    ///   does not fit its type (a fraction, a negative unsigned value, an overflow).
    public static func decodeJSON<T: Decodable>(
        _ type: T.Type, from data: Data, integerFields: [String: IntegerField] = [:]
    ) throws(EmulatorRequestError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw .badRequest(describeUnlocatedCorruption(data, integerFields: integerFields))
            }
            throw .badRequest(describe(error))
        } catch {
            throw .badRequest("request body could not be read as JSON: \(error)")
        }
    }

    /// Foundation's decoder says only "not valid JSON" both for broken syntax and for a number that
    /// does not fit its field. Parse again to tell which, and where.
    static func describeUnlocatedCorruption(_ data: Data, integerFields: [String: IntegerField]) -> String {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            return "request body is not valid JSON: \(reason)"
        }
        if let problem = firstIntegerProblem(in: object, path: "", integerFields: integerFields) {
            return problem
        }
        return "request body is not valid JSON for this route; compare it with docs/platform-api.yaml"
    }

    private static func firstIntegerProblem(in value: Any, path: String, integerFields: [String: IntegerField]) -> String? {
        if let object = value as? [String: Any] {
            for key in object.keys.sorted() {
                let child = path.isEmpty ? key : "\(path).\(key)"
                if let kind = integerFields[key], let number = object[key] as? NSNumber {
                    let text = "\(number)"
                    switch kind {
                    case .int64 where Int64(text) == nil:
                        return "\(child): \(text) is not an integer between \(Int64.min) and \(Int64.max)"
                    case .uint64 where UInt64(text) == nil:
                        return "\(child): \(text) is not an integer between 0 and \(UInt64.max)"
                    default:
                        break
                    }
                }
                if let problem = firstIntegerProblem(in: object[key] as Any, path: child, integerFields: integerFields) {
                    return problem
                }
            }
        } else if let array = value as? [Any] {
            for (index, element) in array.enumerated() {
                if let problem = firstIntegerProblem(in: element, path: "\(path)[\(index)]", integerFields: integerFields) {
                    return problem
                }
            }
        }
        return nil
    }

    /// Decodes and validates an ingest request sent to `/v1/stations/{pathStationID}/events`.
    public static func ingestRequest(from data: Data, pathStationID: String) throws(EmulatorRequestError) -> IngestRequest {
        let request = try decodeJSON(IngestRequest.self, from: data, integerFields: ingestIntegerFields)
        try validate(request, pathStationID: pathStationID)
        return request
    }

    /// Checks what JSON decoding cannot: the station matches the path, the batch size, and each
    /// event's id, sequence number, kind, lane and timestamp.
    public static func validate(_ request: IngestRequest, pathStationID: String) throws(EmulatorRequestError) {
        if request.station.id.isEmpty {
            throw .badRequest("station.id: must not be empty")
        }
        if request.station.id != pathStationID {
            throw .badRequest(
                "station.id: \(quoted(request.station.id)) does not match the station in the path "
                    + "(\(quoted(pathStationID))); send each station's events to /v1/stations/{its id}/events"
            )
        }
        if Timestamp.parse(request.sentAt) == nil {
            throw .badRequest("sentAt: \(quoted(request.sentAt)) is not an ISO 8601 timestamp (like 2026-11-24T10:15:30.123Z)")
        }
        if request.events.isEmpty {
            throw .badRequest("events: must contain at least one event")
        }
        if request.events.count > PlatformAPI.maxBatchSize {
            throw .tooLarge(
                "events: \(request.events.count) events in one request, at most \(PlatformAPI.maxBatchSize) are allowed; "
                    + "split the batch"
            )
        }
        for (index, event) in request.events.enumerated() {
            try validate(event, field: "events[\(index)]")
        }
    }

    /// Checks one event; `field` is its path in the request (`events[3]`).
    public static func validate(_ event: WireEvent, field: String) throws(EmulatorRequestError) {
        if !isUUID(event.id) {
            throw .badRequest("\(field).id: \(quoted(event.id)) is not a UUID (like 3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b)")
        }
        if event.seq < 1 {
            throw .badRequest("\(field).seq: \(event.seq) is below 1; sequence numbers start at 1")
        }
        guard let kind = EventKind(rawValue: event.kind) else {
            let kinds = EventKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw .badRequest("\(field).kind: \(quoted(event.kind)) is not one of \(kinds)")
        }
        guard let lane = Lane(rawValue: event.lane) else {
            let lanes = Lane.allCases.map(\.rawValue).joined(separator: ", ")
            throw .badRequest("\(field).lane: \(quoted(event.lane)) is not one of \(lanes)")
        }
        if lane != kind.lane {
            throw .badRequest(
                "\(field).lane: \(quoted(event.lane)) does not fit kind \(quoted(event.kind)); "
                    + "\(kind.rawValue) events travel in lane \(kind.lane.rawValue)"
            )
        }
        if Timestamp.parse(event.occurredAt) == nil {
            throw .badRequest(
                "\(field).occurredAt: \(quoted(event.occurredAt)) is not an ISO 8601 timestamp (like 2026-11-24T10:15:30.123Z)"
            )
        }
        if event.device.isEmpty {
            throw .badRequest("\(field).device: must not be empty")
        }
        if let card = event.card {
            if card.uid.isEmpty {
                throw .badRequest("\(field).card.uid: must not be empty")
            }
            if card.format.isEmpty {
                throw .badRequest("\(field).card.format: must not be empty")
            }
            if let uidKind = card.uidKind {
                guard let kind = CardUIDKind(rawValue: uidKind) else {
                    throw .badRequest(
                        "\(field).card.uidKind: \(quoted(uidKind)) is not one of "
                            + CardUIDKind.allCases.map(\.rawValue).joined(separator: ", "))
                }
                let isLowerHex = card.uid.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
                if kind == .pseudonymHMACSHA256, card.uid.utf8.count != 64 || !isLowerHex {
                    throw .badRequest(
                        "\(field).card.uid: a pseudonym-hmac-sha256 uid is 64 lower-case hex digits; got \(card.uid.utf8.count) characters")
                }
            }
        }
        if let related = event.related, !isUUID(related) {
            throw .badRequest(
                "\(field).related: \(quoted(related)) is not a UUID; it must be the id of the event this one refers to "
                    + "(the alarm an alarm_reset resets)"
            )
        }
    }

    /// Whether `text` is a UUID as `UUID(uuidString:)` reads it. The canonical form
    /// (`8-4-4-4-12` hex digits, either case) is checked by hand; only other shapes are handed
    /// to Foundation, whose parser goes through `sscanf` and cost more than the rest of an
    /// event's validation.
    public static func isUUID(_ text: String) -> Bool {
        if isCanonicalUUID(text) { return true }
        return UUID(uuidString: text) != nil
    }

    static func isCanonicalUUID(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count == 36 else { return false }
            for index in 0..<36 {
                let byte = bytes[index]
                if index == 8 || index == 13 || index == 18 || index == 23 {
                    guard byte == 0x2D else { return false }
                } else {
                    let isHex = (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
                    guard isHex else { return false }
                }
            }
            return true
        }
    }

    // MARK: Heartbeat

    /// The integer fields of ``PlatformAPI/Heartbeat`` (the lanes' counts in `queued`).
    public static let heartbeatIntegerFields: [String: IntegerField] = Dictionary(
        uniqueKeysWithValues: Lane.allCases.map { ($0.rawValue, IntegerField.int64) }
    )

    /// The device states a heartbeat may report.
    public static let deviceStates = ["online", "offline", "unknown"]

    /// Decodes and validates a heartbeat body.
    public static func heartbeat(from data: Data) throws(EmulatorRequestError) -> Heartbeat {
        let heartbeat = try decodeJSON(Heartbeat.self, from: data, integerFields: heartbeatIntegerFields)
        try validate(heartbeat)
        return heartbeat
    }

    /// Checks what JSON decoding cannot: timestamps, the lanes and counts of `queued`, device
    /// names and states, and that latched alarms are event ids.
    public static func validate(_ heartbeat: Heartbeat) throws(EmulatorRequestError) {
        if Timestamp.parse(heartbeat.sentAt) == nil {
            throw .badRequest("sentAt: \(quoted(heartbeat.sentAt)) is not an ISO 8601 timestamp (like 2026-11-24T10:15:30.123Z)")
        }
        if heartbeat.agentVersion.isEmpty {
            throw .badRequest("agentVersion: must not be empty")
        }
        if let bootId = heartbeat.bootId, bootId.isEmpty {
            throw .badRequest("bootId: must not be empty; leave it out when the agent has none")
        }
        for lane in heartbeat.queued.keys.sorted() {
            guard Lane(rawValue: lane) != nil else {
                let lanes = Lane.allCases.map(\.rawValue).joined(separator: ", ")
                throw .badRequest("queued.\(lane): \(quoted(lane)) is not a lane; use \(lanes)")
            }
            if let count = heartbeat.queued[lane], count < 0 {
                throw .badRequest("queued.\(lane): \(count) is negative")
            }
        }
        if let oldest = heartbeat.oldestQueuedAt, Timestamp.parse(oldest) == nil {
            throw .badRequest("oldestQueuedAt: \(quoted(oldest)) is not an ISO 8601 timestamp (like 2026-11-24T10:15:30.123Z)")
        }
        for (index, device) in heartbeat.devices.enumerated() {
            if device.name.isEmpty {
                throw .badRequest("devices[\(index)].name: must not be empty")
            }
            if !deviceStates.contains(device.state) {
                throw .badRequest(
                    "devices[\(index)].state: \(quoted(device.state)) is not one of \(deviceStates.joined(separator: ", "))"
                )
            }
        }
        for (index, alarm) in heartbeat.latchedAlarms.enumerated() where UUID(uuidString: alarm) == nil {
            throw .badRequest("latchedAlarms[\(index)]: \(quoted(alarm)) is not a UUID; list the event ids of the latched alarms")
        }
    }

    /// The dotted path of a coding path: `events[3].card.uid`.
    static func fieldPath(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return path
    }

    /// A one-line description of a decoding error that starts with the field's path.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\(fieldPath(context.codingPath + [key])): missing; the field is required"
        case .valueNotFound(let type, let context):
            return "\(fieldPath(context.codingPath)): must not be null, expected \(jsonTypeName(type))"
        case .typeMismatch(let type, let context):
            let path = fieldPath(context.codingPath)
            return "\(path.isEmpty ? "request body" : path): wrong type, expected \(jsonTypeName(type))"
        case .dataCorrupted(let context):
            let path = fieldPath(context.codingPath)
            if path.isEmpty {
                let underlying = context.underlyingError.map { ": \($0)" } ?? ""
                return "request body is not valid JSON\(underlying)"
            }
            return "\(path): \(context.debugDescription)"
        @unknown default:
            return "request body could not be decoded: \(error)"
        }
    }

    /// How a Swift type the decoder expected is called in JSON.
    static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type, is UInt32.Type, is UInt.Type:
            return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Dictionary") || name.contains(":") { return "an object" }
            if name.hasPrefix("Array") || name.hasPrefix("[") { return "an array" }
            return "an object"
        }
    }

    static func quoted(_ text: String) -> String {
        let limited = text.count > 80 ? String(text.prefix(80)) + "..." : text
        return "\"\(limited)\""
    }
}
