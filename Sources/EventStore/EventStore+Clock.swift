import EventModel
import Foundation
import GRDB

/// What the store did about a wall-clock jump.
public struct ClockCorrection: Sendable, Hashable {
    /// Undelivered events of this boot stamped before the jump, whose `occurred_at` was re-derived
    /// from their monotonic time and the new offset (their first time kept).
    public var corrected: Int
    /// Events of this boot stamped before the jump that the platform already has with the old
    /// time: the `clock_jump` event tells it how to correct them.
    public var alreadyDelivered: Int
    /// The `clock_jump` event stored in the same commit.
    public var report: StoredEvent
}

extension EventStore {
    enum ClockMetaKey {
        /// `<boot id> <offset ms>`: the wall-over-monotonic offset last seen in that boot.
        static let reference = "clock_reference"
    }

    /// The wall-over-monotonic offset last recorded for the boot the agent runs in, if any
    /// (kept across agent restarts, so a jump while the agent was down is still seen).
    public func clockReferenceOffset() async throws -> Int64? {
        // Without a boot id a reference from an earlier boot cannot be told apart: keep none.
        guard let bootID, let text = try await meta.value(ClockMetaKey.reference) else { return nil }
        let parts = text.split(separator: " ")
        guard parts.count == 2, String(parts[0]) == bootID, let offset = Int64(parts[1]) else { return nil }
        return offset
    }

    /// Records the current wall-over-monotonic offset for this boot.
    public func setClockReferenceOffset(_ offsetMs: Int64) async throws {
        guard let bootID else { return }
        try await meta.set(ClockMetaKey.reference, "\(bootID) \(offsetMs)")
    }

    /// The detail of a `clock_jump` event: every number the platform needs to correct events of
    /// this boot it already has (`occurredAt - monotonicNanos/1e6` near `old_offset_ms`, no
    /// `clockCorrected`: add `delta_ms`).
    public static func clockJumpDetail(_ jump: ClockJump, bootID: String?, corrected: Int, alreadyDelivered: Int) -> String {
        "boot=\(bootID ?? "unknown") \(jump) corrected=\(corrected) delivered_uncorrected=\(alreadyDelivered)"
    }

    /// Applies a wall-clock jump in one commit: undelivered events of this boot stamped before
    /// it get `occurred_at` = monotonic time + new offset (the first time kept as
    /// `original_occurred_at_ms`); delivered ones are counted; a `clock_jump` event (normal
    /// lane) reports it; the boot's clock reference becomes the new offset.
    ///
    /// Which events were "stamped before" is decided per event by ``ClockJump/stampedBefore``:
    /// its own offset is nearer the old one than the new one. So an event stamped between the
    /// jump and its detection keeps its (already right) time, and a second jump corrects again.
    @discardableResult
    public func applyClockJump(_ jump: ClockJump, occurredAt: Date = Date(), monotonicNanos: UInt64 = MonotonicTime.nowNanos()) async throws
        -> ClockCorrection
    {
        let bootID = self.bootID
        let synchronized = clockSynchronized
        let station = stationID
        let result = try await live.write { db -> ClockCorrection in
            let own = "(occurred_at_ms - monotonic_ns / 1000000)"
            let before = "boot_id IS ? AND monotonic_ns <= ? AND abs(\(own) - ?) < abs(\(own) - ?)"
            let arguments: StatementArguments = [bootID, Int64(bitPattern: jump.seenAtMonotonicNanos), jump.oldOffsetMs, jump.newOffsetMs]
            let alreadyDelivered = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM events WHERE delivered_at_ms IS NOT NULL AND \(before)", arguments: arguments) ?? 0
            try db.execute(
                sql: """
                    UPDATE events SET original_occurred_at_ms = coalesce(original_occurred_at_ms, occurred_at_ms),
                      occurred_at_ms = monotonic_ns / 1000000 + ?
                    WHERE delivered_at_ms IS NULL AND \(before)
                    """,
                arguments: [jump.newOffsetMs] + arguments)
            let corrected = db.changesCount
            let event = NewEvent(
                kind: .clockJump, device: "agent",
                detail: EventStore.clockJumpDetail(jump, bootID: bootID, corrected: corrected, alreadyDelivered: alreadyDelivered),
                occurredAt: occurredAt, monotonicNanos: monotonicNanos)
            let report = try EventStore.insert([event], bootID: bootID, clockSynchronized: synchronized, stationID: station, db: db)[0]
            try db.execute(
                sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [ClockMetaKey.reference, "\(bootID ?? "-") \(jump.newOffsetMs)"])
            return ClockCorrection(corrected: corrected, alreadyDelivered: alreadyDelivered, report: report)
        }
        doorbell.ring(.normal)
        return result
    }
}
