import DeviceProtocols
import EventModel
import Foundation

/// Reads a parsed TOML document as a station configuration, collecting every problem.
///
/// Each `decode…` function records issues and returns nil (or a fallback) for what it could not
/// read; `decode(_:)` throws all issues at the end if there are any, so a fallback never
/// escapes.
struct SchemaDecoder {
    let file: String
    /// The configuration file's directory (absolute): relative paths resolve against it.
    let baseDirectory: String
    private(set) var issues: [ConfigIssue] = []

    init(file: String, baseDirectory: String) {
        self.file = file
        self.baseDirectory = baseDirectory
    }

    // MARK: Limits and defaults (the reference is docs/configuration.md)

    static let defaultStateDirectory = "/var/lib/station-agent"
    static let bauds: [Int64] = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
    static let knownPurposes = ["check-in", "attendance", "service-request", "volunteer", "patrol"]

    /// The keys of each table, in the order messages list them.
    static let stationKeys = ["id", "name", "state_dir"]
    static let locationKeys = ["district", "street", "community", "grid", "micro_grid"]
    static let platformKeys = [
        "url", "token", "token_file", "ca_file", "timeout_ms", "batch_size", "retry_initial_ms", "retry_max_ms", "heartbeat_seconds",
        "signing_key_file", "client_certificate_file", "client_key_file",
    ]
    static let privacyKeys = ["card_ids", "district_key_file"]
    static let storeKeys = ["retention_hours", "max_mb", "alarm_reserve_mb"]
    static let siaKeys = [
        "receiver", "account", "receiver_number", "prefix", "format", "key_file", "retry_seconds", "response_timeout_seconds",
        "link_test_seconds",
    ]
    static let logKeys = ["level"]
    static let metricsKeys = ["listen"]
    static let deviceKeys = [
        "name", "kind", "profile", "purpose", "port", "usb_vendor", "usb_product", "usb_serial", "baud",
        "dedup_window_ms", "reopen_initial_ms", "reopen_max_ms",
    ] + alarmBoxKeys + alarmButtonKeys + osdpBusKeys
    /// Keys that only one kind of device takes.
    static let cardReaderKeys = ["profile", "baud", "dedup_window_ms"]
    static let alarmBoxKeys = ["supervision_seconds"]
    static let alarmButtonKeys = ["input", "drive", "wiring", "debounce_ms", "minimum_press_ms", "poll_ms"]
    static let osdpBusKeys = ["turnaround_gap_ms"]
    static let osdpReaderKeys = ["address", "name", "purpose", "secure", "key_file", "install", "alarm_input"]
    static let osdpBauds: [Int64] = [9600, 19_200, 38_400, 57_600, 115_200]

    // MARK: Document

    mutating func decode(_ root: TOMLTable) throws(ConfigError) -> StationConfiguration {
        let rootSection = Section(table: root, path: "", display: "the top level", present: true)
        checkUnknown(rootSection, keys: [], tables: [
            ("station", "[station]"), ("platform", "[platform]"), ("store", "[store]"), ("log", "[log]"), ("device", "[[device]]"),
            ("sia", "[sia]"), ("metrics", "[metrics]"), ("privacy", "[privacy]"),
        ])
        let station = decodeStation(section(root, "station"))
        let platform = decodePlatform(section(root, "platform"))
        let store = decodeStore(section(root, "store"))
        let log = decodeLog(section(root, "log"))
        let devices = decodeDevices(root)
        let privacy = decodePrivacy(section(root, "privacy"))
        var sia: StationConfiguration.Sia?
        if root["sia"] != nil {
            sia = decodeSia(section(root, "sia"))
        }
        let metrics = decodeMetrics(section(root, "metrics"))
        guard issues.isEmpty, let metrics, let station, let platform, let store, let log, let devices, let privacy, root["sia"] == nil || sia != nil else {
            let ordered = issues.enumerated().sorted { a, b in
                (a.element.line ?? Int.max, a.offset) < (b.element.line ?? Int.max, b.offset)
            }
            throw ConfigError(issues: ordered.map(\.element))
        }
        var configuration = StationConfiguration(station: station, platform: platform, store: store, log: log, devices: devices, file: file)
        configuration.sia = sia
        configuration.metrics = metrics
        configuration.privacy = privacy
        return configuration
    }

    // MARK: Sections

    /// A table of the document being read.
    struct Section {
        var table: TOMLTable
        /// Its dotted path (`platform`, `station.location`, `device[1]`); empty for the root.
        var path: String
        /// How messages name it: `[platform]`, `[[device]]`.
        var display: String
        /// False when the file does not have it (then `table` is empty).
        var present: Bool

        func key(_ name: String) -> String {
            let rendered = TOMLWriter.key(name)
            return path.isEmpty ? rendered : "\(path).\(rendered)"
        }
    }

    /// A top-level table; nil (with an issue) when the key holds something else.
    mutating func section(_ root: TOMLTable, _ name: String) -> Section? {
        subsection(Section(table: root, path: "", display: "", present: true), name, display: "[\(name)]")
    }

    mutating func subsection(_ parent: Section, _ name: String, display: String) -> Section? {
        let path = parent.key(name)
        guard let entry = parent.table[name] else {
            return Section(table: TOMLTable(), path: path, display: display, present: false)
        }
        guard case .table(let table) = entry.value else {
            issue(entry.position.line, path, "expected a table (\(display)), got \(entry.value.typeDescription)")
            return nil
        }
        return Section(table: table, path: path, display: display, present: true)
    }

    /// Reports the keys and tables of `s` that the schema does not know, suggesting near misses.
    mutating func checkUnknown(_ s: Section, keys: [String], tables: [(name: String, display: String)] = []) {
        let candidates = keys + tables.map(\.name)
        for (name, entry) in s.table.orderedEntries where !candidates.contains(name) {
            let isTable: Bool
            switch entry.value {
            case .table: isTable = true
            case .array(let items): isTable = !items.isEmpty && items.allSatisfy { if case .table = $0 { true } else { false } }
            default: isTable = false
            }
            var message = isTable ? "unknown table" : "unknown key"
            if let suggestion = Suggestion.nearest(to: name, in: candidates) {
                let shown = tables.first { $0.name == suggestion }?.display ?? suggestion
                message += "; did you mean `\(shown)`?"
            } else if s.path.isEmpty {
                message += "; a configuration has the tables \(tables.map(\.display).joined(separator: ", "))"
            } else {
                let list = keys.joined(separator: ", ") + tables.map { ", table \($0.display)" }.joined()
                message += "; \(s.display) takes \(list)"
            }
            issue(entry.position.line, s.key(name), message)
        }
    }

    // MARK: Typed keys

    enum Field<Value> {
        case absent
        /// Present but unusable; an issue was recorded.
        case invalid
        case present(Value, line: Int)
    }

    mutating func entry(_ s: Section, _ key: String, required: Bool) -> TOMLEntry? {
        if let entry = s.table[key] { return entry }
        if required {
            if s.present {
                issue(s.table.position?.line, s.key(key), "required key is missing")
            } else {
                issue(nil, s.key(key), "required key is missing; the file has no \(s.display) table")
            }
        }
        return nil
    }

    mutating func string(_ s: Section, _ key: String, required: Bool = false) -> Field<String> {
        guard let entry = entry(s, key, required: required) else { return .absent }
        guard case .string(let value) = entry.value else {
            issue(entry.position.line, s.key(key), "expected a string, got \(entry.value.typeDescription)")
            return .invalid
        }
        return .present(value, line: entry.position.line)
    }

    mutating func integer(_ s: Section, _ key: String) -> Field<Int64> {
        guard let entry = entry(s, key, required: false) else { return .absent }
        guard case .integer(let value) = entry.value else {
            var message = "expected an integer, got \(entry.value.typeDescription)"
            if case .string(let text) = entry.value, Int64(text) != nil {
                message += "; write \(text) without quotes"
            }
            issue(entry.position.line, s.key(key), message)
            return .invalid
        }
        return .present(value, line: entry.position.line)
    }

    /// An integer in `range`, `default` when absent, nil when invalid.
    mutating func integer(_ s: Section, _ key: String, in range: ClosedRange<Int64>, default fallback: Int64) -> Int64? {
        switch integer(s, key) {
        case .absent:
            return fallback
        case .invalid:
            return nil
        case .present(let value, let line):
            guard range.contains(value) else {
                issue(line, s.key(key), "expected an integer from \(range.lowerBound) to \(range.upperBound); got \(value)")
                return nil
            }
            return value
        }
    }

    /// The upper bound of a backoff: at least its initial value (when that one is valid).
    mutating func orderedMaximum(
        _ s: Section, initialKey: String, initial: Int64?, absoluteMinimum: Int64, key: String, upper: Int64, default fallback: Int64
    ) -> Int64? {
        switch integer(s, key) {
        case .absent:
            if let initial, initial > fallback {
                issue(s.table[initialKey]?.position.line, s.key(initialKey), "expected at most \(key) (\(fallback), its default); got \(initial); set \(key) as well")
                return nil
            }
            return fallback
        case .invalid:
            return nil
        case .present(let value, let line):
            let lower = initial ?? absoluteMinimum
            guard value >= lower, value <= upper else {
                let note = initial == nil ? "" : " (\(initialKey))"
                issue(line, s.key(key), "expected an integer from \(lower)\(note) to \(upper); got \(value)")
                return nil
            }
            return value
        }
    }

    /// One of a fixed list of strings, with a suggestion for near misses.
    mutating func oneOf(_ s: Section, _ key: String, options: [String], required: Bool) -> Field<String> {
        let field = string(s, key, required: required)
        guard case .present(let value, let line) = field else { return field }
        guard options.contains(value) else {
            let expected = options.count == 1 ? Self.quoted(options[0]) : "one of \(options.joined(separator: ", "))"
            var message = "expected \(expected); got \(Self.quoted(value))"
            if options.count > 1, let suggestion = Suggestion.nearest(to: value, in: options) {
                message += "; did you mean \(Self.quoted(suggestion))?"
            }
            issue(line, s.key(key), message)
            return .invalid
        }
        return field
    }

    /// An optional non-empty string; nil when absent or invalid (with an issue).
    mutating func optionalText(_ s: Section, _ key: String) -> String? {
        guard case .present(let value, let line) = string(s, key) else { return nil }
        guard !value.isEmpty else {
            issue(line, s.key(key), "expected a non-empty string; remove the key to leave it unset")
            return nil
        }
        return value
    }

    /// An optional path, made absolute against the configuration file's directory.
    mutating func path(_ s: Section, _ key: String) -> String? {
        guard case .present(let value, let line) = string(s, key) else { return nil }
        guard !value.isEmpty else {
            issue(line, s.key(key), "expected a path, got an empty string")
            return nil
        }
        guard !value.hasPrefix("~") else {
            issue(line, s.key(key), "`~` is not expanded here; write the full path; got \(Self.quoted(value))")
            return nil
        }
        return PathResolver.resolve(value, against: baseDirectory)
    }

    // MARK: Helpers

    mutating func issue(_ line: Int?, _ key: String?, _ message: String) {
        issues.append(ConfigIssue(file: file, line: line, key: key, message: message))
    }

    static func quoted(_ text: String) -> String {
        TOMLWriter.quoted(text)
    }

    static func matches(_ text: String, length: ClosedRange<Int>, allowed: (Unicode.Scalar) -> Bool) -> Bool {
        length.contains(text.unicodeScalars.count) && text.unicodeScalars.allSatisfy(allowed)
    }

    static func isStationIDScalar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }

    static func isNameScalar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }
}
