import Foundation

/// A draining backlog as `station-agent status` shows it: a progress bar, the delivery rate and
/// an estimate of the time left. A pure value: it formats the numbers it is given.
///
/// ```
///   backlog: [#########...................]  30%  7000 of 10000 left
///   draining at 50.0 events/s: about 2 min 20 s left
/// ```
public struct BacklogProgress: Sendable, Hashable {
    /// Undelivered normal-lane events.
    public var remaining: Int
    /// Events of this backlog delivered so far.
    public var drained: Int
    public var deliveredLastMinute: Int
    public var deliveredLastTenMinutes: Int

    /// Below this many queued events there is no backlog to show, only the rate.
    public static let minimumBacklog = 100
    /// The last minute's rate is used when at least this many went in it; else the last ten minutes'.
    public static let minimumSample = 10

    public init(remaining: Int, drained: Int, deliveredLastMinute: Int, deliveredLastTenMinutes: Int) {
        self.remaining = max(0, remaining)
        self.drained = max(0, drained)
        self.deliveredLastMinute = max(0, deliveredLastMinute)
        self.deliveredLastTenMinutes = max(0, deliveredLastTenMinutes)
    }

    public var isBacklog: Bool { remaining >= Self.minimumBacklog }

    /// Events per second now: the last minute's, or the last ten minutes' when the last minute
    /// saw fewer than ``minimumSample``; nil when nothing was delivered in ten minutes.
    public var rate: Double? {
        if deliveredLastMinute >= Self.minimumSample { return Double(deliveredLastMinute) / 60 }
        if deliveredLastTenMinutes > 0 { return Double(deliveredLastTenMinutes) / 600 }
        return nil
    }

    /// The share of the backlog delivered, 0...1.
    public var fraction: Double {
        let total = drained + remaining
        return total == 0 ? 1 : Double(drained) / Double(total)
    }

    /// Seconds until the queue is empty at the current rate (new events not counted).
    public var secondsLeft: Double? {
        rate.map { Double(remaining) / $0 }
    }

    /// `[#####.....]`, `width` cells between the brackets.
    public func bar(width: Int = 30) -> String {
        let filled = min(width, max(0, Int((fraction * Double(width)).rounded(.down))))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    /// The lines `status` prints (indented by two spaces).
    public var lines: [String] {
        var lines: [String] = []
        if let rate {
            lines.append("  delivery rate: \(Self.rateText(rate)) events/s")
        } else {
            lines.append("  delivery rate: none in the last 10 min")
        }
        guard isBacklog else { return lines }
        let percent = Int((fraction * 100).rounded(.down))
        lines.append("  backlog: \(bar()) \(String(percent).leftPadded(to: 3))%  \(remaining) of \(drained + remaining) left")
        if let seconds = secondsLeft {
            lines.append("  draining at \(Self.rateText(rate ?? 0)) events/s: about \(Self.duration(seconds)) left")
        } else {
            lines.append("  not draining: nothing delivered in the last 10 min (is the platform reachable? `station-agent doctor` checks)")
        }
        return lines
    }

    static func rateText(_ rate: Double) -> String {
        String(format: rate >= 100 ? "%.0f" : "%.1f", rate)
    }

    /// `45 s`, `2 min 20 s`, `3 h 05 min`, `2 days 4 h`: rounded up to the unit shown.
    public static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.up))
        if total < 60 { return "\(total) s" }
        if total < 3600 {
            let rounded = (total + 9) / 10 * 10
            return rounded % 60 == 0 ? "\(rounded / 60) min" : "\(rounded / 60) min \(rounded % 60) s"
        }
        let minutes = (total + 59) / 60
        if minutes < 48 * 60 { return "\(minutes / 60) h \(String(format: "%02d", minutes % 60)) min" }
        let hours = (minutes + 59) / 60
        return "\(hours / 24) days \(hours % 24) h"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
