import EventModel
import EventStore
import Foundation
import Uplink

/// How the platform has been failing one delivery lane, and since when: what `status` and
/// `doctor` show ("platform refusing: 404 Not Found since ...").
public struct PlatformFault: Sendable, Hashable {
    public var lane: Lane
    /// A few words after "platform": ``UplinkError/summary``.
    public var summary: String
    /// The first failure's full message: the URL, the status and what the platform said.
    public var message: String
    public var since: Date

    public init(lane: Lane, summary: String, message: String, since: Date) {
        self.lane = lane
        self.summary = summary
        self.message = message
        self.since = since
    }

    /// The `meta` key under which the running agent keeps a lane's fault for `status`.
    public static func metaKey(_ lane: Lane) -> String { "platform_fault.\(lane.rawValue)" }

    /// The `meta` value: milliseconds, summary and message, tab-separated (`""` when none).
    var metaValue: String {
        let clean = { (text: String) in text.replacingOccurrences(of: "\t", with: " ") }
        return "\(Int64((since.timeIntervalSince1970 * 1000).rounded()))\t\(clean(summary))\t\(clean(message))"
    }

    /// A lane's fault as the agent recorded it, or nil when the lane is healthy.
    public static func read(_ lane: Lane, from store: EventStore) async throws -> PlatformFault? {
        guard let value = try await store.meta.value(metaKey(lane)) else { return nil }
        let parts = value.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let ms = Int64(parts[0]) else { return nil }
        return PlatformFault(
            lane: lane, summary: String(parts[1]), message: String(parts[2]), since: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// Every lane's recorded fault, alarm lane first.
    public static func readAll(from store: EventStore) async throws -> [PlatformFault] {
        var faults: [PlatformFault] = []
        for lane in [Lane.alarm, .normal] {
            if let fault = try await read(lane, from: store) { faults.append(fault) }
        }
        return faults
    }
}

/// Whether the platform is failing a lane, as a state machine with no I/O: it answers with an
/// action only when the kind of failure changes, so the forwarder logs one line and writes one
/// `meta` row per change, not one per retry.
public struct PlatformFaultTracker: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// A new fault, or another kind of failure than before: log it and record it.
        case record(PlatformFault)
        /// The platform answers again after `PlatformFault`: log it and clear the record.
        case clear(PlatformFault)
    }

    public let lane: Lane
    public private(set) var current: PlatformFault?

    /// - Parameter recorded: the fault an earlier run of the agent recorded and did not clear;
    ///   the first answer clears it (and `status` keeps its `since` while the platform still fails).
    public init(lane: Lane, recorded: PlatformFault? = nil) {
        self.lane = lane
        self.current = recorded
    }

    /// A request of the lane failed and its events stay queued.
    public mutating func failed(_ error: UplinkError, at now: Date) -> Action? {
        if let current, current.summary == error.summary { return nil }
        let fault = PlatformFault(lane: lane, summary: error.summary, message: error.message, since: now)
        current = fault
        return .record(fault)
    }

    /// The platform gave verdicts for the lane's events.
    public mutating func answered() -> Action? {
        guard let current else { return nil }
        self.current = nil
        return .clear(current)
    }
}

extension EventStore {
    /// Records (or, with nil, clears) a lane's platform fault for `status` and `doctor`.
    public func recordPlatformFault(_ fault: PlatformFault?, lane: Lane) async throws {
        try await meta.set(PlatformFault.metaKey(lane), fault?.metaValue ?? "")
    }
}
