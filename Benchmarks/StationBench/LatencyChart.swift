import Foundation

/// The alarm latency distribution, idle and under backlog, as an SVG histogram the benchmark
/// writes itself (no plotting tools needed).
struct LatencyChart {
    let idle: Samples
    let loaded: Samples
    let title: String

    private let width = 760.0
    private let height = 400.0
    private let left = 60.0
    private let right = 20.0
    private let top = 50.0
    private let bottom = 50.0
    private let bins = 50

    func svg() -> String {
        let all = idle.values + loaded.values
        let upper = max(1.0, niceCeiling(all.isEmpty ? 1 : max(idle.percentile(99.9), loaded.percentile(99.9)) * 1.1))
        let binWidth = upper / Double(bins)
        func histogram(_ samples: Samples) -> [Double] {
            var counts = [Double](repeating: 0, count: bins)
            for value in samples.values {
                counts[min(Int(value / binWidth), bins - 1)] += 1
            }
            let total = Double(max(samples.count, 1))
            return counts.map { $0 / total }
        }
        let idleBins = histogram(idle)
        let loadedBins = histogram(loaded)
        let peak = max(idleBins.max() ?? 0, loadedBins.max() ?? 0, 0.01)
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        func x(_ ms: Double) -> Double { left + ms / upper * plotWidth }
        func y(_ fraction: Double) -> Double { top + plotHeight - fraction / peak * plotHeight }

        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="20" font-size="14" font-weight="bold">Alarm latency, press to platform (\(escape(title)))</text>

            """
        // axes and ticks
        out += line(left, top + plotHeight, left + plotWidth, top + plotHeight, "black")
        out += line(left, top, left, top + plotHeight, "black")
        for tick in 0...5 {
            let ms = upper * Double(tick) / 5
            out += "<text x=\"\(f(x(ms)))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\">\(f(ms))</text>\n"
            let fraction = peak * Double(tick) / 5
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y(fraction) + 4))\" text-anchor=\"end\">\(Int((fraction * 100).rounded()))%</text>\n"
        }
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">milliseconds (bins of \(f(binWidth)) ms)</text>\n"
        // bars
        for (series, color, offset) in [(idleBins, "#1f77b4", 0.0), (loadedBins, "#d62728", 0.5)] {
            let barWidth = plotWidth / Double(bins) / 2
            for (index, fraction) in series.enumerated() where fraction > 0 {
                let x0 = left + Double(index) * plotWidth / Double(bins) + offset * plotWidth / Double(bins)
                out += "<rect x=\"\(f(x0))\" y=\"\(f(y(fraction)))\" width=\"\(f(barWidth))\" height=\"\(f(top + plotHeight - y(fraction)))\" fill=\"\(color)\" opacity=\"0.8\"/>\n"
            }
        }
        // p99 markers and legend
        for (samples, color, label, row) in [(idle, "#1f77b4", "idle", 0.0), (loaded, "#d62728", "backlog draining", 1.0)] where samples.count > 0 {
            let p99 = samples.percentile(99)
            out += line(x(min(p99, upper)), top, x(min(p99, upper)), top + plotHeight, color, dashed: true)
            out += "<rect x=\"\(f(width - 290))\" y=\"\(f(top + row * 18))\" width=\"12\" height=\"12\" fill=\"\(color)\"/>\n"
            out += "<text x=\"\(f(width - 272))\" y=\"\(f(top + row * 18 + 10))\">\(label): n=\(samples.count) p50=\(f(samples.percentile(50))) p99=\(f(p99)) max=\(f(samples.maximum)) ms</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ color: String, dashed: Bool = false) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(color)\"\(dashed ? " stroke-dasharray=\"4 3\"" : "")/>\n"
    }

    private func f(_ value: Double) -> String { String(format: "%.2f", value) }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }

    private func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2.0, 2.5, 5.0, 10.0] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }
}
