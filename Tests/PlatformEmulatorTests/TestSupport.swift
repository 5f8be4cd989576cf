import EventModel
import Foundation
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import PlatformAPI
import Synchronization
import Testing

@testable import PlatformEmulator

/// Fixed, valid UUIDs so that tests can name events: `uuid(1)`, `uuid(2)`, ...
func uuid(_ number: Int) -> String {
    String(format: "00000000-0000-4000-8000-%012d", number)
}

/// Event `uuid(number)`; the lane follows the kind unless given.
func wireEvent(
    _ number: Int, seq: Int64? = nil, kind: String = "card_tap", lane: String? = nil, device: String = "reader-1",
    related: String? = nil
) -> WireEvent {
    WireEvent(
        id: uuid(number), seq: seq ?? Int64(number), kind: kind,
        lane: lane ?? (EventKind(rawValue: kind)?.lane ?? .normal).rawValue,
        occurredAt: "2026-11-24T10:15:30.123Z", monotonicNanos: 1_000_000 * UInt64(number), device: device,
        purpose: "check-in", card: kind == "card_tap" ? WireCard(uid: "04A1B2C3", format: "hex", uidKind: "raw") : nil,
        detail: nil, related: related
    )
}

/// A clock a test sets by hand.
final class ManualClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    func now() -> Date {
        current.withLock { $0 }
    }

    func advance(seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

func ingestRequest(station: String = "station-1", _ events: [WireEvent]) -> IngestRequest {
    IngestRequest(station: WireStation(id: station), sentAt: "2026-11-24T10:15:31.000Z", events: events)
}

func jsonBuffer(_ value: some Encodable) throws -> ByteBuffer {
    ByteBuffer(bytes: try JSONEncoder().encode(value))
}

func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
    try JSONDecoder().decode(type, from: Data(response.body.readableBytesView))
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

func bearer(_ token: String) -> HTTPFields {
    [.contentType: "application/json", .authorization: "Bearer \(token)"]
}

/// Posts an ingest request for `station` (path and body) and returns the response.
@discardableResult
func post(
    _ client: some TestClientProtocol, _ request: IngestRequest, path station: String? = nil,
    headers: HTTPFields = jsonHeaders
) async throws -> TestResponse {
    try await client.execute(
        uri: PlatformAPI.ingestPath(stationID: station ?? request.station.id), method: .post, headers: headers,
        body: try jsonBuffer(request)
    )
}

func receivedPage(_ client: some TestClientProtocol, query: String = "") async throws -> ReceivedPage {
    let response = try await client.execute(uri: PlatformAPI.receivedPath + query, method: .get)
    #expect(response.status == .ok)
    return try decode(ReceivedPage.self, response)
}

func stats(_ client: some TestClientProtocol) async throws -> EmulatorStats {
    let response = try await client.execute(uri: PlatformAPI.statsPath, method: .get)
    #expect(response.status == .ok)
    return try decode(EmulatorStats.self, response)
}

/// An emulator on an in-memory store, with what the test may want to look at.
struct Harness {
    let store: EmulatorStore
    let faults = FaultInjector()
    /// What the emulator logged (swift-log's in-memory handler; copies share the entries).
    let logs = InMemoryLogHandler()
    let configuration: EmulatorConfiguration

    init(
        token: String? = nil, maxBodyBytes: Int = EmulatorConfiguration.defaultMaxBodyBytes,
        now: @escaping @Sendable () -> Date = { Date() }, signingKeys: SigningKeyring = SigningKeyring()
    ) throws {
        store = try EmulatorStore(path: nil, now: now)
        var configuration = EmulatorConfiguration(port: 0, token: token, maxBodyBytes: maxBodyBytes)
        configuration.signingKeys = signingKeys
        self.configuration = configuration
    }

    var logger: Logger {
        let logs = logs
        var logger = Logger(label: "platform-emulator-test") { _ in logs }
        logger.logLevel = .info
        return logger
    }

    func test<Value>(
        _ setup: TestingSetup = .router, onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        _ body: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let app = buildEmulatorApplication(
            configuration: configuration, store: store, logger: logger, faults: faults, onListening: onListening
        )
        return try await app.test(setup, body)
    }
}

// MARK: The alarm loop

/// `POST /v1/operator/alarms/{eventId}/{action}`, with `body` as JSON when given.
@discardableResult
func operatorAct(
    _ client: some TestClientProtocol, _ action: AlarmAction, _ eventID: String, _ body: OperatorAction? = nil
) async throws -> TestResponse {
    try await client.execute(
        uri: "/v1/operator/alarms/\(eventID)/\(action.rawValue)", method: .post, headers: body == nil ? [:] : jsonHeaders,
        body: try body.map { try jsonBuffer($0) }
    )
}

/// `GET /v1/operator/alarms` with `query`, expecting 200.
func alarmList(_ client: some TestClientProtocol, query: String = "") async throws -> [AlarmView] {
    let response = try await client.execute(uri: "/v1/operator/alarms" + query, method: .get)
    #expect(response.status == .ok)
    return try decode([AlarmView].self, response)
}

/// `GET /v1/stations/{station}/commands` with `query`.
func getCommands(
    _ client: some TestClientProtocol, station: String = "station-1", query: String, headers: HTTPFields = [:]
) async throws -> TestResponse {
    try await client.execute(uri: PlatformAPI.commandsPath(stationID: station) + query, method: .get, headers: headers)
}

/// `GET /v1/stations/{station}/commands` with `query`, expecting 200.
func commandPage(_ client: some TestClientProtocol, station: String = "station-1", query: String) async throws -> CommandPage {
    let response = try await getCommands(client, station: station, query: query)
    #expect(response.status == .ok)
    return try decode(CommandPage.self, response)
}

/// `GET /v1/stations` with `query`, expecting 200.
func stationList(_ client: some TestClientProtocol, query: String = "") async throws -> [StationView] {
    let response = try await client.execute(uri: "/v1/stations" + query, method: .get)
    #expect(response.status == .ok)
    return try decode([StationView].self, response)
}

/// A valid heartbeat.
func sampleHeartbeat(latched: [String] = []) -> Heartbeat {
    Heartbeat(
        sentAt: "2027-01-15T08:00:00.000Z", agentVersion: "1.4.0", bootId: "b0a7c6e2", queued: ["alarm": 0, "normal": 12],
        oldestQueuedAt: "2027-01-15T07:59:58.250Z",
        devices: [
            DeviceHeartbeat(name: "reader-1", state: "online"),
            DeviceHeartbeat(name: "alarm-box", state: "offline", detail: "no heartbeat for 12 s"),
        ],
        latchedAlarms: latched
    )
}

/// `POST /v1/stations/{station}/heartbeat`.
@discardableResult
func postHeartbeat(
    _ client: some TestClientProtocol, _ heartbeat: Heartbeat, station: String = "station-1", headers: HTTPFields = jsonHeaders
) async throws -> TestResponse {
    try await client.execute(
        uri: PlatformAPI.heartbeatPath(stationID: station), method: .post, headers: headers, body: try jsonBuffer(heartbeat)
    )
}
