import AsyncHTTPClient
import DeviceProtocols
import Foundation
import NIOCore
import NIOHTTP1
import PlatformAPI
import TestSupport
import Testing
import VirtualDevices

/// One sample of the Prometheus text format.
struct MetricSample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A strict reader of the Prometheus text exposition format (version 0.0.4): every line must be
/// a `# HELP`/`# TYPE` comment or a sample `name{label="value",...} number`, and every sample
/// must belong to a family whose `# TYPE` came before it.
enum Exposition {
    struct Problem: Error, CustomStringConvertible {
        var line: Int
        var text: String
        var reason: String
        var description: String { "line \(line): \(reason): \(text)" }
    }

    static let types: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped"]

    static func parse(_ text: String) throws -> (samples: [MetricSample], types: [String: String]) {
        var samples: [MetricSample] = []
        var types: [String: String] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            func fail(_ reason: String) -> Problem { Problem(line: lineNumber, text: String(line), reason: reason) }
            if line.isEmpty {
                // Only the final newline may leave an empty last element.
                guard index == text.split(separator: "\n", omittingEmptySubsequences: false).count - 1 else { throw fail("empty line") }
                continue
            }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                guard parts.count >= 3, parts[0] == "#", parts[1] == "TYPE" || parts[1] == "HELP", isMetricName(parts[2]) else {
                    throw fail("not a # TYPE or # HELP line")
                }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, Self.types.contains(parts[3]) else { throw fail("unknown type") }
                    guard types[parts[2]] == nil else { throw fail("second # TYPE for \(parts[2])") }
                    types[parts[2]] = parts[3]
                }
                continue
            }
            var rest = Substring(line)
            let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
            guard isMetricName(name) else { throw fail("bad metric name") }
            rest = rest.dropFirst(name.count)
            var labels: [String: String] = [:]
            if rest.hasPrefix("{") {
                rest = rest.dropFirst()
                while !rest.hasPrefix("}") {
                    let label = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                    guard !label.isEmpty, !(label.first!.isNumber) else { throw fail("bad label name") }
                    rest = rest.dropFirst(label.count)
                    guard rest.hasPrefix("=\"") else { throw fail("expected =\" after \(label)") }
                    rest = rest.dropFirst(2)
                    var value = ""
                    while let character = rest.first, character != "\"" {
                        if character == "\\" {
                            rest = rest.dropFirst()
                            guard let escaped = rest.first, "\\\"n".contains(escaped) else { throw fail("bad escape") }
                            value.append(escaped == "n" ? "\n" : escaped)
                        } else {
                            value.append(character)
                        }
                        rest = rest.dropFirst()
                    }
                    guard rest.hasPrefix("\"") else { throw fail("unterminated label value") }
                    rest = rest.dropFirst()
                    guard labels[label] == nil else { throw fail("label \(label) twice") }
                    labels[label] = value
                    if rest.hasPrefix(",") { rest = rest.dropFirst() } else if !rest.hasPrefix("}") { throw fail("expected , or }") }
                }
                rest = rest.dropFirst()
            }
            guard rest.hasPrefix(" ") else { throw fail("expected a space before the value") }
            let fields = rest.dropFirst().split(separator: " ")
            guard fields.count == 1 || fields.count == 2, let value = number(fields[0]) else { throw fail("bad value") }
            if fields.count == 2, Int64(fields[1]) == nil { throw fail("bad timestamp") }
            let family = familyName(name, types: types)
            guard types[family] != nil else { throw fail("no # TYPE before the first sample of \(family)") }
            samples.append(MetricSample(name: name, labels: labels, value: value))
        }
        return (samples, types)
    }

    static func isMetricName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || first == ":" || ("a"..."z").contains(first) || ("A"..."Z").contains(first)
        else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || $0 == ":" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    static func number(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }

    /// `x_bucket`, `x_sum`, `x_count` belong to histogram `x`.
    static func familyName(_ name: String, types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }
}

extension [MetricSample] {
    /// The value of the sample named `name` whose labels include `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
    }
}

/// The agent's `/metrics` endpoint, scraped over HTTP from a running `station-agent run`.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct MetricsEndToEndTests {
    static let metricsOnAnyPort = "[metrics]\nlisten = \"127.0.0.1:0\"\n"

    /// The port the agent logged (`metrics endpoint listening ... metrics.url=http://HOST:PORT/metrics`).
    static func metricsPort(_ agent: ChildProcess) async throws -> Int {
        let line = try await agent.firstLine(containing: "metrics endpoint listening")
        guard let range = line.range(of: #"http://127\.0\.0\.1:(\d+)/metrics"#, options: .regularExpression) else {
            throw HarnessError("no metrics URL in '\(line)'")
        }
        let url = line[range]
        guard let port = Int(url.dropFirst("http://127.0.0.1:".count).dropLast("/metrics".count)) else {
            throw HarnessError("no port in '\(url)'")
        }
        return port
    }

    static func get(_ port: Int, _ path: String, method: HTTPMethod = .GET) async throws -> (HTTPResponseStatus, String, String?) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        let body = try await response.body.collect(upTo: 4 << 20)
        return (response.status, String(buffer: body), response.headers.first(name: "Content-Type"))
    }

    static func scrape(_ port: Int) async throws -> [MetricSample] {
        let (status, body, _) = try await get(port, "/metrics")
        guard status == .ok else { throw HarnessError("GET /metrics answered \(status)") }
        return try Exposition.parse(body).samples
    }

    @Test func deliveredTapsQueueDepthDeviceStateAndLatencyAreScraped() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.metricsOnAnyPort)
        let agent = try station.startAgent()
        let port = try await Self.metricsPort(agent)
        let reader = station.readers["reader-1"]!

        for index in 0..<7 {
            try reader.tap(uid: String(format: "%010llX", 0x4A_0000_0000 + index))
        }
        #expect(await eventually {
            try await StationEndToEndTests.cardTaps(platform.received()).count == 7
        }, "agent log:\n\(agent.log)")

        var samples: [MetricSample] = []
        let counted = await eventually {
            samples = try await Self.scrape(port)
            return samples.value("station_events_total", ["kind": "card_tap", "outcome": "delivered"]) == 7
                && samples.value("station_queue_depth", ["lane": "normal"]) == 0
        }
        #expect(counted, "metrics:\n\(samples)\nagent log:\n\(agent.log)")
        #expect(samples.value("station_events_total", ["kind": "card_tap", "outcome": "stored"]) == 7)
        #expect(samples.value("station_events_total", ["kind": "card_tap", "outcome": "rejected"]) == nil)
        #expect(samples.value("station_events_total", ["kind": "alarm", "outcome": "stored"]) == 0, "every kind has a series from the start")
        #expect(samples.value("station_events_total", ["kind": "agent_started", "outcome": "stored"]) == 1)
        #expect(samples.value("station_queue_depth", ["lane": "alarm"]) == 0)
        #expect(samples.value("station_queue_oldest_age_seconds", ["lane": "normal"]) == 0)
        #expect(samples.value("station_device_online", ["device": "reader-1"]) == 1)
        #expect(samples.value("station_device_reconnects_total", ["device": "reader-1"]) == 0)
        #expect(samples.value("station_card_taps_total", ["device": "reader-1"]) == 7)
        #expect(samples.value("station_events_evicted_total", ["state": "undelivered"]) == 0)
        #expect((samples.value("station_state_dir_free_bytes") ?? 0) > 1_000_000)
        #expect((samples.value("station_store_used_bytes") ?? 0) > 0)
        // Every delivered event's latency is in the histogram: the 7 taps and the agent's own events.
        let latencyCount = samples.value("station_delivery_latency_seconds_count", ["lane": "normal"]) ?? 0
        #expect(latencyCount >= 7)
        #expect(samples.value("station_delivery_latency_seconds_bucket", ["lane": "normal", "le": "+Inf"]) == latencyCount)
        #expect(samples.value("station_delivery_latency_seconds_bucket", ["lane": "normal", "le": "86400.0"]) == latencyCount)

        // The reader goes away and comes back: its state and the reconnect are in the metrics.
        reader.device.unplug()
        #expect(await eventually { try await Self.scrape(port).value("station_device_online", ["device": "reader-1"]) == 0 }, "log:\n\(agent.log)")
        try reader.device.replug()
        #expect(await eventually {
            let now = try await Self.scrape(port)
            return now.value("station_device_online", ["device": "reader-1"]) == 1
                && now.value("station_device_reconnects_total", ["device": "reader-1"]) == 1
        }, "log:\n\(agent.log)")

        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    @Test func theExpositionIsWellFormedAndOtherPathsAreRefused() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.metricsOnAnyPort)
        let agent = try station.startAgent()
        let port = try await Self.metricsPort(agent)
        try station.readers["reader-1"]!.tap(uid: "4B00000001")
        #expect(await eventually { try await StationEndToEndTests.cardTaps(platform.received()).count == 1 }, "log:\n\(agent.log)")

        let (status, body, contentType) = try await Self.get(port, "/metrics")
        #expect(status == .ok)
        #expect(contentType == "text/plain; version=0.0.4; charset=utf-8")
        let (samples, types) = try Exposition.parse(body)
        #expect(samples.count > 20, "\(body)")
        #expect(types["station_events_total"] == "counter")
        #expect(types["station_queue_depth"] == "gauge")
        #expect(types["station_device_online"] == "gauge")
        #expect(types["station_delivery_latency_seconds"] == "histogram")
        #expect(types["station_state_dir_free_bytes"] == "gauge")
        // The parser itself rejects what is not exposition text.
        #expect(throws: Exposition.Problem.self) { try Exposition.parse("# TYPE x counter\nx{a=\"1\" 3\n") }
        #expect(throws: Exposition.Problem.self) { try Exposition.parse("y 3\n") }

        #expect(try await Self.get(port, "/nothing-here").0 == .notFound)
        #expect(try await Self.get(port, "/metrics", method: .POST).0 == .methodNotAllowed)
        #expect(try await Self.get(port, "/").0 == .ok)

        agent.signal(SIGTERM)
        #expect(await agent.waitForExit() == 0, "log:\n\(agent.log)")
        await platform.stop()
    }

    @Test func anEmptyListenAddressServesNothing() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: "[metrics]\nlisten = \"\"\n")
        let agent = try station.startAgent()
        try station.readers["reader-1"]!.tap(uid: "4C00000001")
        #expect(await eventually { try await StationEndToEndTests.cardTaps(platform.received()).count == 1 }, "log:\n\(agent.log)")
        #expect(!agent.log.contains("metrics endpoint"), "\(agent.log)")
        await agent.stop()
        await platform.stop()
    }
}
