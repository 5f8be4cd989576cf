import GRDB

extension EventStore {
    /// Small persistent values: a façade over the store's `meta` table.
    public var meta: MetaTable { MetaTable(store: self) }
}

/// Small persistent values kept with the events (the downlink cursor, the DC-09 lane's place,
/// a lane's platform fault, the last salvage), over the event store's database.
public struct MetaTable: Sendable {
    let store: EventStore

    /// The value under `key`, or nil when none was set.
    public func value(_ key: String) async throws -> String? {
        try await store.live.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key])
        }
    }

    public func set(_ key: String, _ value: String) async throws {
        try await store.live.write { db in
            try db.execute(
                sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [key, value])
        }
    }
}
