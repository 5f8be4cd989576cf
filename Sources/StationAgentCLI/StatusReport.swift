import Agent
import EventModel
import EventStore
import Foundation

/// The text `station-agent status` prints.
enum StatusReport {
    static func render(
        _ summary: QueueSummary, station: String, now: Date, drain: DrainCounts? = nil, lastReload: String? = nil,
        faults: [PlatformFault] = [], rejected: [Lane: Int] = [:], otherStations: [String: Int] = [:]
    ) -> String {
        var lines = ["station \(station)"]
        for lane in Lane.allCases {
            let lane = (lane, summary.lanes[lane] ?? LaneSummary(count: 0, oldestStoredAt: nil))
            var line = "  queued \(lane.0.rawValue): \(lane.1.count)"
            if let oldest = lane.1.oldestStoredAt {
                line += " (oldest \(age(now.timeIntervalSince(oldest))) old)"
            }
            lines.append(line)
        }
        if let last = summary.lastDeliveryAt {
            lines.append("  last delivery: \(Timestamp.format(last)) (\(age(now.timeIntervalSince(last))) ago)")
        } else {
            lines.append("  last delivery: never")
        }
        for fault in faults {
            let waiting = summary.lanes[fault.lane]?.count ?? 0
            lines.append(
                "  platform \(fault.summary) since \(Timestamp.format(fault.since)) (\(age(now.timeIntervalSince(fault.since))) ago), "
                    + "\(waiting) \(fault.lane.rawValue) event(s) waiting")
            lines.append("    first failure: \(fault.message.prefix(300))")
        }
        let rejectedTotal = rejected.values.reduce(0, +)
        if rejectedTotal > 0 {
            var line = "  rejected by the platform, kept for an operator: \(rejectedTotal)"
            if let alarms = rejected[.alarm], alarms > 0 { line += " (\(alarms) alarm(s), sent again every 5 min)" }
            lines.append(line + "; `station-agent rejected` lists them, `station-agent requeue` sends them again")
        }
        for (other, count) in otherStations.sorted(by: { $0.key < $1.key }) {
            lines.append(
                "  queued as station \(other) (recorded before the id changed): \(count); they go out as \(other), "
                    + "`station-agent relabel` sends them as \(station) if the platform refuses \(other)")
        }
        if let drain {
            lines += BacklogProgress(
                remaining: summary.lanes[.normal]?.count ?? 0, drained: drain.drained, deliveredLastMinute: drain.deliveredLastMinute,
                deliveredLastTenMinutes: drain.deliveredLastTenMinutes
            ).lines
        }
        lines.append("  events stored so far: \(summary.lastSeq)")
        if let lastReload {
            lines.append("  last configuration reload: \(lastReload)")
        }
        if summary.devices.isEmpty {
            lines.append("  devices: none seen yet")
        }
        for device in summary.devices {
            var line = "  device \(device.name): \(device.state.rawValue) since \(Timestamp.format(device.changedAt))"
            if let detail = device.detail { line += " (\(detail))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    static func age(_ seconds: TimeInterval) -> String {
        let seconds = max(0, Int(seconds))
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3600) h" }
        return "\(seconds / 86_400) days"
    }
}
