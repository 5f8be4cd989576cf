import Foundation

/// One measured figure as `latest.json` holds it: the value, its unit, the goal from issue 7,
/// and the physical limit measured beside it in the same run (if any).
struct Figure: Sendable {
    var name: String
    var value: Double
    var unit: String
    var goal: String?
    var limit: Double?
    /// Whether the value meets the goal (nil when the figure has no goal).
    var met: Bool?
}

/// The figures of one run, in the order they were measured.
struct Report: Sendable {
    var figures: [Figure] = []
    var notes: [String] = []

    mutating func add(_ name: String, _ value: Double, _ unit: String, goal: String? = nil, limit: Double? = nil, met: Bool? = nil) {
        figures.removeAll { $0.name == name }
        figures.append(Figure(name: name, value: value, unit: unit, goal: goal, limit: limit, met: met))
    }

    /// The terminal table.
    func table() -> String {
        var lines = [pad("figure", 28) + pad("value", 14) + pad("unit", 10) + pad("limit", 14) + pad("goal", 34) + "met"]
        lines.append(String(repeating: "-", count: 104))
        for figure in figures {
            let met = figure.met.map { $0 ? "yes" : "NO" } ?? "-"
            lines.append(
                pad(figure.name, 28) + pad(format(figure.value), 14) + pad(figure.unit, 10)
                    + pad(figure.limit.map(format) ?? "-", 14) + pad(figure.goal ?? "-", 34) + met)
        }
        return lines.joined(separator: "\n")
    }

    /// `latest.json`: an object keyed by figure name, each `{"value","unit","goal","limit"}`.
    func json() throws -> Data {
        var object: [String: Any] = [:]
        for figure in figures {
            object[figure.name] = [
                "value": rounded(figure.value),
                "unit": figure.unit,
                "goal": figure.goal ?? NSNull(),
                "limit": figure.limit.map(rounded) ?? NSNull(),
            ] as [String: Any]
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    private func rounded(_ value: Double) -> Double {
        if abs(value) >= 100 { return (value * 10).rounded() / 10 }
        return (value * 1000).rounded() / 1000
    }

    private func format(_ value: Double) -> String {
        if abs(value) >= 1000 { return String(format: "%.0f", value) }
        if abs(value) >= 10 { return String(format: "%.1f", value) }
        return String(format: "%.3f", value)
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

/// Latency samples in milliseconds with exact percentiles (nearest rank).
struct Samples: Sendable {
    private(set) var values: [Double] = []

    mutating func record(_ milliseconds: Double) { values.append(milliseconds) }

    var count: Int { values.count }

    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank - 1, 0), sorted.count - 1)]
    }

    var maximum: Double { values.max() ?? .nan }
}

extension Duration {
    /// This duration in seconds, as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    var milliseconds: Double { seconds * 1000 }
}
