import Foundation
import GRDB

extension EventStore {
    /// Each device's last known state: a façade over the store's `devices` table.
    public var deviceStates: DeviceStates { DeviceStates(store: self) }
}

/// Each device's last known state (online, offline, fault), as `station-agent status` shows it,
/// over the event store's database.
public struct DeviceStates: Sendable {
    let store: EventStore

    /// Records a device's current state.
    public func set(_ name: String, state: DeviceState, detail: String?, at date: Date = Date()) async throws {
        try await store.live.write { db in
            try db.execute(
                sql: """
                    INSERT INTO devices(name, state, detail, changed_at_ms) VALUES (?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET state = excluded.state, detail = excluded.detail,
                      changed_at_ms = excluded.changed_at_ms
                    """,
                arguments: [name, state.rawValue, detail, EventStore.milliseconds(date)])
        }
    }

    /// Forgets devices that are no longer configured.
    public func retain(named names: Set<String>) async throws {
        try await store.live.write { db in
            let known = try String.fetchAll(db, sql: "SELECT name FROM devices")
            for name in known where !names.contains(name) {
                try db.execute(sql: "DELETE FROM devices WHERE name = ?", arguments: [name])
            }
        }
    }
}
