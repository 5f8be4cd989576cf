import EventModel
import Foundation
import GRDB
import PlatformAPI

// Station supervision: the last heartbeat of each station, and which stations went silent.

extension EmulatorStore {
    /// Default of `silentAfterSeconds`: three missed heartbeats at the agent's default 30 s.
    public static let defaultSilentAfterSeconds = 90

    /// Keeps `heartbeat` as the station's latest, received now (by the store's clock).
    /// - Throws: ``EmulatorRequestError`` when the heartbeat does not match the API document.
    public func recordHeartbeat(_ heartbeat: Heartbeat, stationID: String) async throws {
        try RequestValidation.validate(heartbeat)
        let receivedAt = Timestamp.format(now())
        let body = try Self.heartbeatJSON(heartbeat)
        try await writer.write { db in
            try Self.storeHeartbeat(body, stationID: stationID, receivedAt: receivedAt, in: db)
        }
    }

    /// The blocking form of ``recordHeartbeat(_:stationID:)``.
    public func recordHeartbeat(_ heartbeat: Heartbeat, stationID: String) throws {
        try RequestValidation.validate(heartbeat)
        let receivedAt = Timestamp.format(now())
        let body = try Self.heartbeatJSON(heartbeat)
        try writer.write { db in
            try Self.storeHeartbeat(body, stationID: stationID, receivedAt: receivedAt, in: db)
        }
    }

    /// Every station the emulator has heard of (by an event or a heartbeat), by id. A station is
    /// `silent` when its last heartbeat is more than `silentAfterSeconds` old by the store's
    /// clock, or when it never sent one.
    /// - Throws: ``EmulatorRequestError`` when `silentAfterSeconds` is below 1.
    public func stations(silentAfterSeconds: Int = defaultSilentAfterSeconds) async throws -> [StationView] {
        try Self.checkSilence(silentAfterSeconds)
        let now = now()
        return try await writer.read { db in try Self.stations(silentAfterSeconds: silentAfterSeconds, now: now, in: db) }
    }

    /// The blocking form of ``stations(silentAfterSeconds:)``.
    public func stations(silentAfterSeconds: Int = defaultSilentAfterSeconds) throws -> [StationView] {
        try Self.checkSilence(silentAfterSeconds)
        let now = now()
        return try writer.read { db in try Self.stations(silentAfterSeconds: silentAfterSeconds, now: now, in: db) }
    }

    private static func checkSilence(_ seconds: Int) throws(EmulatorRequestError) {
        if seconds < 1 {
            throw .badRequest("silentAfterSeconds: \(seconds) is below 1; pass the seconds without a heartbeat after which a station counts as silent")
        }
    }

    private static func heartbeatJSON(_ heartbeat: Heartbeat) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(heartbeat), as: UTF8.self)
    }

    private static func storeHeartbeat(_ body: String, stationID: String, receivedAt: String, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO station_heartbeat (station_id, received_at, heartbeat) VALUES (?, ?, ?)
                ON CONFLICT (station_id) DO UPDATE SET received_at = excluded.received_at, heartbeat = excluded.heartbeat
                """,
            arguments: [stationID, receivedAt, body]
        )
    }

    private static func stations(silentAfterSeconds: Int, now: Date, in db: Database) throws -> [StationView] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT ids.station_id, h.received_at, h.heartbeat
                FROM (SELECT DISTINCT station_id FROM received_event UNION SELECT station_id FROM station_heartbeat) AS ids
                LEFT JOIN station_heartbeat AS h ON h.station_id = ids.station_id
                ORDER BY ids.station_id
                """
        )
        let decoder = JSONDecoder()
        return try rows.map { row in
            let stationID: String = row["station_id"]
            let receivedAt: String? = row["received_at"]
            let body: String? = row["heartbeat"]
            let heartbeat: Heartbeat?
            do {
                heartbeat = try body.map { try decoder.decode(Heartbeat.self, from: Data($0.utf8)) }
            } catch {
                throw EmulatorStoreError(
                    "station_heartbeat row of \(stationID) does not decode as a Heartbeat: \(error); "
                        + "the emulator database was changed by hand or by a newer version"
                )
            }
            let silent: Bool
            if let receivedAt, let last = Timestamp.parse(receivedAt) {
                silent = now.timeIntervalSince(last) > Double(silentAfterSeconds)
            } else {
                silent = true
            }
            return StationView(stationID: stationID, lastHeartbeatAt: receivedAt, silent: silent, heartbeat: heartbeat)
        }
    }
}
