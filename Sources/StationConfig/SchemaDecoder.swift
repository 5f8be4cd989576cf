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

    // MARK: [metrics]

    private mutating func decodeMetrics(_ s: Section?) -> StationConfiguration.Metrics? {
        guard let s else { return nil }
        checkUnknown(s, keys: Self.metricsKeys)
        switch string(s, "listen") {
        case .absent:
            return StationConfiguration.Metrics()
        case .invalid:
            return nil
        case .present(let value, let line):
            if value.isEmpty { return StationConfiguration.Metrics(listen: nil) }
            guard let address = StationConfiguration.ListenAddress(parsing: value) else {
                issue(
                    line, s.key("listen"),
                    "expected HOST:PORT like \"127.0.0.1:9464\" or \"[::1]:9464\" (port 0 to 65535), or \"\" for no endpoint; got \(Self.quoted(value))")
                return nil
            }
            return StationConfiguration.Metrics(listen: address)
        }
    }

    // MARK: [sia]

    private mutating func decodeSia(_ s: Section?) -> StationConfiguration.Sia? {
        guard let s else { return nil }
        checkUnknown(s, keys: Self.siaKeys)
        var host: String?
        var port: Int?
        if case .present(let value, let line) = string(s, "receiver", required: true) {
            let parts = value.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 2, !parts[0].isEmpty, let number = Int(parts[1]), (1...65_535).contains(number) {
                (host, port) = (String(parts[0]), number)
            } else {
                issue(line, s.key("receiver"), "expected HOST:PORT like \"10.20.0.5:12300\"; got \(Self.quoted(value))")
            }
        }
        func hexField(_ key: String, length: ClosedRange<Int>, required: Bool) -> (ok: Bool, value: String?) {
            switch string(s, key, required: required) {
            case .absent: return (!required, nil)
            case .invalid: return (false, nil)
            case .present(let value, let line):
                if Self.matches(value, length: length, allowed: { $0.properties.isASCIIHexDigit }) { return (true, value.uppercased()) }
                issue(line, s.key(key), "expected \(length.lowerBound) to \(length.upperBound) hex digits; got \(Self.quoted(value))")
                return (false, nil)
            }
        }
        let account = hexField("account", length: 3...16, required: true)
        let receiverNumber = hexField("receiver_number", length: 1...6, required: false)
        let prefix = hexField("prefix", length: 1...6, required: false)
        let format = oneOf(s, "format", options: ["SIA-DCS", "ADM-CID"], required: false)
        let keyFile = path(s, "key_file")
        let retry = integer(s, "retry_seconds", in: 5...60, default: 10)
        let timeout = integer(s, "response_timeout_seconds", in: 1...60, default: 10)
        let linkTest = integer(s, "link_test_seconds", in: 0...86_400, default: 60)
        if let linkTest, (1..<10).contains(linkTest), let line = s.table["link_test_seconds"]?.position.line {
            issue(line, s.key("link_test_seconds"), "expected 0 (off) or at least 10 seconds; got \(linkTest)")
            return nil
        }
        var formatValue = "SIA-DCS"
        switch format {
        case .invalid: return nil
        case .present(let value, _): formatValue = value
        case .absent: break
        }
        guard let host, let port, account.ok, let accountValue = account.value, receiverNumber.ok, prefix.ok, let retry, let timeout,
            let linkTest
        else { return nil }
        return StationConfiguration.Sia(
            host: host, port: port, account: accountValue, receiverNumber: receiverNumber.value, prefix: prefix.value ?? "0",
            format: formatValue, keyFile: keyFile, retryInterval: .seconds(retry), responseTimeout: .seconds(timeout),
            linkTestInterval: linkTest == 0 ? nil : .seconds(linkTest))
    }

    // MARK: [station]

    private mutating func decodeStation(_ s: Section?) -> StationConfiguration.Station? {
        guard let s else { return nil }
        checkUnknown(s, keys: Self.stationKeys, tables: [("location", "[station.location]")])
        var id: String?
        if case .present(let value, let line) = string(s, "id", required: true) {
            if Self.matches(value, length: 1...64, allowed: Self.isStationIDScalar) {
                id = value
            } else {
                issue(line, s.key("id"), "expected 1 to 64 characters of A-Z a-z 0-9 . _ -; got \(Self.quoted(value))")
            }
        }
        let name = optionalText(s, "name")
        let stateDirectory = path(s, "state_dir") ?? Self.defaultStateDirectory
        let location = decodeLocation(subsection(s, "location", display: "[station.location]"))
        guard let id else { return nil }
        return StationConfiguration.Station(id: id, name: name, stateDirectory: stateDirectory, location: location)
    }

    private mutating func decodeLocation(_ s: Section?) -> GridLocation {
        guard let s, s.present else { return GridLocation() }
        checkUnknown(s, keys: Self.locationKeys)
        return GridLocation(
            district: optionalText(s, "district"),
            street: optionalText(s, "street"),
            community: optionalText(s, "community"),
            grid: optionalText(s, "grid"),
            microGrid: optionalText(s, "micro_grid")
        )
    }

    // MARK: [platform]

    private mutating func decodePlatform(_ s: Section?) -> StationConfiguration.Platform? {
        guard let s else { return nil }
        checkUnknown(s, keys: Self.platformKeys)
        var url: URL?
        if case .present(let value, let line) = string(s, "url", required: true) {
            switch Self.platformURL(value) {
            case .success(let valid): url = valid
            case .failure(let problem): issue(line, s.key("url"), problem.message)
            }
        }
        var credential: StationConfiguration.Credential?
        let token = optionalText(s, "token")
        let tokenFile = path(s, "token_file")
        if let tokenLine = s.table["token"]?.position.line, let fileEntry = s.table["token_file"] {
            issue(fileEntry.position.line, s.key("token_file"), "`token` (line \(tokenLine)) and `token_file` are two ways to give the token; keep one of them")
        } else if let token {
            credential = .token(StationConfiguration.Secret(token))
        } else if let tokenFile {
            credential = .tokenFile(tokenFile)
        }
        let caFile = path(s, "ca_file")
        let timeout = integer(s, "timeout_ms", in: 100...600_000, default: 5000)
        let batchSize = integer(s, "batch_size", in: 1...1000, default: 200)
        let retryInitial = integer(s, "retry_initial_ms", in: 10...60_000, default: 500)
        let retryMax = orderedMaximum(s, initialKey: "retry_initial_ms", initial: retryInitial, absoluteMinimum: 10, key: "retry_max_ms", upper: 3_600_000, default: 30_000)
        let heartbeat = integer(s, "heartbeat_seconds", in: 1...3600, default: 30)
        let signingKeyFile = fileReference(s, "signing_key_file")
        let clientCertificate = decodeClientCertificate(s)
        var certificate: StationConfiguration.ClientCertificate?
        switch clientCertificate {
        case .invalid: return nil
        case .absent: break
        case .present(let value, _): certificate = value
        }
        guard let url, let timeout, let batchSize, let retryInitial, let retryMax, let heartbeat else { return nil }
        var platform = StationConfiguration.Platform(
            url: url, credential: credential, caFile: caFile, timeout: .milliseconds(timeout), batchSize: Int(batchSize),
            retryInitial: .milliseconds(retryInitial), retryMax: .milliseconds(retryMax), heartbeatInterval: .seconds(heartbeat)
        )
        platform.signingKeyFile = signingKeyFile
        platform.clientCertificate = certificate
        return platform
    }

    /// `client_certificate_file` and `client_key_file`: both or neither.
    private mutating func decodeClientCertificate(_ s: Section) -> Field<StationConfiguration.ClientCertificate> {
        let certificateKey = "client_certificate_file", keyKey = "client_key_file"
        let certificate = fileReference(s, certificateKey)
        let key = fileReference(s, keyKey)
        if let certificate, let key {
            return .present(StationConfiguration.ClientCertificate(certificateFile: certificate, keyFile: key), line: certificate.line ?? 0)
        }
        if let certificate, s.table[keyKey] == nil {
            issue(certificate.line, s.key(certificateKey), "needs `\(keyKey)` too (the certificate's private key, PEM, mode 0600)")
        } else if let key, s.table[certificateKey] == nil {
            issue(key.line, s.key(keyKey), "needs `\(certificateKey)` too (the station's certificate, PEM)")
        }
        return s.table[certificateKey] == nil && s.table[keyKey] == nil ? .absent : .invalid
    }

    /// An optional path with the line that names it.
    private mutating func fileReference(_ s: Section, _ key: String) -> StationConfiguration.FileReference? {
        path(s, key).map { StationConfiguration.FileReference($0, line: s.table[key]?.position.line) }
    }

    // MARK: [privacy]

    private mutating func decodePrivacy(_ s: Section?) -> StationConfiguration.Privacy? {
        guard let s else { return nil }
        guard s.present else { return StationConfiguration.Privacy() }
        checkUnknown(s, keys: Self.privacyKeys)
        var mode = StationConfiguration.CardIDMode.pseudonym
        switch oneOf(s, "card_ids", options: StationConfiguration.CardIDMode.allCases.map(\.rawValue), required: false) {
        case .absent: break
        case .invalid: return nil
        case .present(let value, _): mode = StationConfiguration.CardIDMode(rawValue: value) ?? .pseudonym
        }
        let keyFile = fileReference(s, "district_key_file")
        if s.table["district_key_file"] != nil, keyFile == nil { return nil }
        return StationConfiguration.Privacy(cardIDs: mode, districtKeyFile: keyFile, line: s.table.position?.line)
    }

    struct URLProblem: Error {
        var message: String
    }

    /// Checks a platform URL: `http` or `https`, a host, no credentials, query or fragment.
    static func platformURL(_ text: String) -> Result<URL, URLProblem> {
        let example = "like \"https://platform.example.cn/api\""
        guard !text.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }),
              let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let url = URL(string: text)
        else {
            return .failure(URLProblem(message: "expected an http:// or https:// URL \(example); got \(quoted(text))"))
        }
        guard let host = components.host, !host.isEmpty else {
            return .failure(URLProblem(message: "expected a URL with a host, \(example); got \(quoted(text))"))
        }
        if components.user != nil || components.password != nil {
            return .failure(URLProblem(message: "the URL must not contain a user name or password; put the credential in `token` or `token_file`"))
        }
        if components.query != nil || components.fragment != nil {
            return .failure(URLProblem(message: "expected a URL without a query (?…) or fragment (#…); got \(quoted(text))"))
        }
        return .success(url)
    }

    // MARK: [store] and [log]

    private mutating func decodeStore(_ s: Section?) -> StationConfiguration.Store? {
        guard let s else { return StationConfiguration.Store() }
        checkUnknown(s, keys: Self.storeKeys)
        let hours = integer(s, "retention_hours", in: 0...87_600, default: 168)
        let maxMB = integer(s, "max_mb", in: 0...1_048_576, default: 0)
        let reserveMB = integer(s, "alarm_reserve_mb", in: 1...1024, default: 8)
        guard let hours, let maxMB, let reserveMB else { return nil }
        if maxMB > 0, maxMB < reserveMB * 4, let line = s.table["max_mb"]?.position.line {
            issue(line, s.key("max_mb"), "\(maxMB) MiB leaves too little room: it must be at least 4 × alarm_reserve_mb (\(reserveMB * 4)), or 0 for no budget")
            return nil
        }
        return StationConfiguration.Store(retention: .seconds(hours * 3600), maxBytes: maxMB << 20, alarmReserveBytes: reserveMB << 20)
    }

    private mutating func decodeLog(_ s: Section?) -> StationConfiguration.Log? {
        guard let s else { return StationConfiguration.Log() }
        checkUnknown(s, keys: Self.logKeys)
        let options = StationConfiguration.LogLevel.allCases.map(\.rawValue)
        switch oneOf(s, "level", options: options, required: false) {
        case .absent: return StationConfiguration.Log()
        case .invalid: return nil
        case .present(let value, _): return StationConfiguration.LogLevel(rawValue: value).map { StationConfiguration.Log(level: $0) }
        }
    }

    // MARK: [[device]]

    private mutating func decodeDevices(_ root: TOMLTable) -> [StationConfiguration.Device]? {
        guard let entry = root["device"] else { return [] }
        guard case .array(let items) = entry.value else {
            issue(entry.position.line, "device", "expected an array of tables ([[device]]), got \(entry.value.typeDescription)")
            return nil
        }
        var devices: [StationConfiguration.Device] = []
        var valid = true
        var names: [String: (index: Int, line: Int)] = [:]
        var ports: [PortSpec: (index: Int, line: Int)] = [:]
        for (index, item) in items.enumerated() {
            let path = "device[\(index)]"
            guard case .table(let table) = item else {
                issue(entry.position.line, path, "expected a table, got \(item.typeDescription)")
                valid = false
                continue
            }
            let s = Section(table: table, path: path, display: "[[device]]", present: true)
            guard let device = decodeDevice(s, index: index, names: &names, ports: &ports) else {
                valid = false
                continue
            }
            devices.append(device)
        }
        return valid ? devices : nil
    }

    private mutating func decodeDevice(
        _ s: Section, index: Int, names: inout [String: (index: Int, line: Int)], ports: inout [PortSpec: (index: Int, line: Int)]
    ) -> StationConfiguration.Device? {
        checkUnknown(s, keys: Self.deviceKeys, tables: [("reader", "[[device.reader]]")])
        var name: String?
        if case .present(let value, let line) = string(s, "name", required: true) {
            if !Self.matches(value, length: 1...32, allowed: Self.isNameScalar) {
                issue(line, s.key("name"), "expected 1 to 32 characters of a-z 0-9 _ -; got \(Self.quoted(value))")
            } else if let first = names[value] {
                issue(line, s.key("name"), "duplicate device name \(Self.quoted(value)): device[\(first.index)] (line \(first.line)) has it too; device names must be unique")
            } else {
                names[value] = (index, line)
                name = value
            }
        }
        var kind: StationConfiguration.DeviceKind?
        if case .present(let value, _) = oneOf(s, "kind", options: StationConfiguration.DeviceKind.allCases.map(\.rawValue), required: true) {
            kind = StationConfiguration.DeviceKind(rawValue: value)
        }
        var profile: ReaderProfile?
        if kind == .cardReader || kind == nil {
            if case .present(let value, _) = oneOf(s, "profile", options: ReaderProfile.allCases.map(\.rawValue), required: kind == .cardReader || kind == nil) {
                profile = ReaderProfile(rawValue: value)
            }
        }
        if let kind { checkKindKeys(s, kind: kind) }
        var purpose: String?
        if case .present(let value, let line) = string(s, "purpose", required: true) {
            if Self.matches(value, length: 1...32, allowed: Self.isNameScalar) {
                purpose = value
            } else {
                issue(line, s.key("purpose"), "expected 1 to 32 characters of a-z 0-9 _ - (such as \(Self.knownPurposes.joined(separator: ", "))); got \(Self.quoted(value))")
            }
        }
        var port = decodePort(s, index: index, ports: &ports, allowSimulated: kind == .alarmButton)
        if kind == .alarmButton, case .usb? = port {
            issue(s.table["usb_vendor"]?.position.line, s.key("usb_vendor"), "an alarm-button is named by `port` (a device path, or sim:PATH for the simulator), not by USB identity; use its /dev/serial/by-id/ link")
            port = nil
        }
        var alarmBox: StationConfiguration.AlarmBoxOptions?
        var alarmButton: StationConfiguration.AlarmButtonOptions?
        var optionsValid = true
        switch kind {
        case .alarmBox?:
            if let seconds = integer(s, "supervision_seconds", in: 2...3600, default: 30) {
                alarmBox = .init(supervision: .seconds(seconds))
            } else {
                optionsValid = false
            }
        case .alarmButton?:
            let input = oneOf(s, "input", options: ["cts", "dsr", "dcd", "ri"], required: false)
            let drive = oneOf(s, "drive", options: ["dtr", "rts"], required: false)
            let wiring = oneOf(s, "wiring", options: ["normally-open", "normally-closed"], required: false)
            let debounce = integer(s, "debounce_ms", in: 0...1000, default: 30)
            let minimumPress = integer(s, "minimum_press_ms", in: 0...10_000, default: 300)
            let poll = integer(s, "poll_ms", in: 1...1000, default: 10)
            func value(_ field: Field<String>, _ fallback: String) -> String? {
                switch field {
                case .absent: fallback
                case .invalid: nil
                case .present(let value, _): value
                }
            }
            if let input = value(input, "cts"), let drive = value(drive, "dtr"), let wiring = value(wiring, "normally-open"),
                let debounce, let minimumPress, let poll
            {
                alarmButton = .init(
                    input: input, drive: drive, normallyClosed: wiring == "normally-closed", debounce: .milliseconds(debounce),
                    minimumPress: .milliseconds(minimumPress), pollInterval: .milliseconds(poll))
            } else {
                optionsValid = false
            }
        default:
            break
        }
        var osdpReaders: [StationConfiguration.OSDPReader] = []
        var turnaround: Duration?
        if kind == .osdpBus {
            if let readers = decodeOSDPReaders(s, busPurpose: purpose, names: &names) {
                osdpReaders = readers
            } else {
                optionsValid = false
            }
            switch integer(s, "turnaround_gap_ms") {
            case .absent: break
            case .invalid: optionsValid = false
            case .present(let value, let line):
                if (0...500).contains(value) { turnaround = .milliseconds(value) } else {
                    issue(line, s.key("turnaround_gap_ms"), "expected an integer from 0 to 500; got \(value)")
                    optionsValid = false
                }
            }
        }
        var baud: Int64?
        var baudValid = true
        switch integer(s, "baud") {
        case .absent: break
        case .invalid: baudValid = false
        case .present(let value, let line) where kind == .osdpBus:
            if Self.osdpBauds.contains(value) {
                baud = value
            } else {
                issue(line, s.key("baud"), "expected an OSDP bus speed: one of \(Self.osdpBauds.map(String.init).joined(separator: ", ")); got \(value)")
                baudValid = false
            }
        case .present(let value, let line):
            if Self.bauds.contains(value) {
                baud = value
            } else {
                issue(line, s.key("baud"), "expected one of \(Self.bauds.map(String.init).joined(separator: ", ")); got \(value)")
                baudValid = false
            }
        }
        let dedup = integer(s, "dedup_window_ms", in: 0...60_000, default: 2000)
        let reopenInitial = integer(s, "reopen_initial_ms", in: 10...60_000, default: 200)
        let reopenMax = orderedMaximum(s, initialKey: "reopen_initial_ms", initial: reopenInitial, absoluteMinimum: 10, key: "reopen_max_ms", upper: 600_000, default: 5000)
        guard let name, let kind, kind != .cardReader || profile != nil, let purpose, let port, baudValid, optionsValid,
            let dedup, let reopenInitial, let reopenMax
        else { return nil }
        return StationConfiguration.Device(
            name: name, kind: kind, profile: profile, purpose: purpose, port: port, baud: baud.map(Int.init),
            dedupWindow: .milliseconds(dedup), reopenInitial: .milliseconds(reopenInitial), reopenMax: .milliseconds(reopenMax),
            alarmBox: alarmBox, alarmButton: alarmButton, osdpReaders: osdpReaders, osdpTurnaroundGap: turnaround
        )
    }

    /// `[[device.reader]]` of an `osdp-bus`: at least one; addresses and names unique.
    private mutating func decodeOSDPReaders(
        _ s: Section, busPurpose: String?, names: inout [String: (index: Int, line: Int)]
    ) -> [StationConfiguration.OSDPReader]? {
        guard let entry = s.table["reader"], case .array(let items) = entry.value, !items.isEmpty else {
            issue(s.table.position?.line, s.key("reader"), "an osdp-bus needs at least one [[device.reader]] (address, name)")
            return nil
        }
        var readers: [StationConfiguration.OSDPReader] = []
        var addresses: [Int64: Int] = [:]
        var valid = true
        for (index, item) in items.enumerated() {
            guard case .table(let table) = item else {
                issue(entry.position.line, s.key("reader"), "expected [[device.reader]] tables")
                return nil
            }
            let r = Section(table: table, path: "\(s.path).reader[\(index)]", display: "[[device.reader]]", present: true)
            checkUnknown(r, keys: Self.osdpReaderKeys)
            var address: Int64?
            switch integer(r, "address") {
            case .present(let value, let line):
                if !(0...126).contains(value) {
                    issue(line, r.key("address"), "expected an OSDP address from 0 to 126; got \(value)")
                } else if let first = addresses[value] {
                    issue(line, r.key("address"), "address \(value) is already used by reader[\(first)]; two readers on one address corrupt each other's replies")
                } else {
                    addresses[value] = index
                    address = value
                }
            case .absent:
                issue(table.position?.line, r.key("address"), "required key is missing")
            case .invalid:
                break
            }
            var name: String?
            if case .present(let value, let line) = string(r, "name", required: true) {
                if !Self.matches(value, length: 1...32, allowed: Self.isNameScalar) {
                    issue(line, r.key("name"), "expected 1 to 32 characters of a-z 0-9 _ -; got \(Self.quoted(value))")
                } else if let first = names[value] {
                    issue(line, r.key("name"), "duplicate name \(Self.quoted(value)): device[\(first.index)] (line \(first.line)) has it too")
                } else {
                    names[value] = (-1, line)
                    name = value
                }
            }
            var purpose = busPurpose
            if case .present(let value, let line) = string(r, "purpose") {
                if Self.matches(value, length: 1...32, allowed: Self.isNameScalar) { purpose = value } else {
                    issue(line, r.key("purpose"), "expected 1 to 32 characters of a-z 0-9 _ -; got \(Self.quoted(value))")
                    purpose = nil
                }
            }
            let secure = boolean(r, "secure", default: false)
            let install = boolean(r, "install", default: false)
            let keyFile = path(r, "key_file")
            if secure == true, keyFile == nil, r.table["key_file"] == nil {
                issue(r.table["secure"]?.position.line, r.key("key_file"), "a secure reader needs key_file (32 hex digits, mode 0600)")
                valid = false
            }
            if secure == false, let line = r.table["key_file"]?.position.line {
                issue(line, r.key("key_file"), "key_file is only used with secure = true; set secure = true or remove it")
                valid = false
            }
            var alarmInput: Int?
            switch integer(r, "alarm_input") {
            case .present(let value, let line):
                if (0...255).contains(value) { alarmInput = Int(value) } else {
                    issue(line, r.key("alarm_input"), "expected an input number from 0 to 255; got \(value)")
                    valid = false
                }
            case .invalid: valid = false
            case .absent: break
            }
            guard let address, let name, let purpose, let secure, let install else {
                valid = false
                continue
            }
            readers.append(.init(
                address: Int(address), name: name, purpose: purpose, keyFile: secure ? keyFile : nil, install: install,
                alarmInput: alarmInput))
        }
        return valid ? readers : nil
    }

    private mutating func boolean(_ s: Section, _ key: String, default fallback: Bool) -> Bool? {
        guard let entry = s.table[key] else { return fallback }
        guard case .boolean(let value) = entry.value else {
            issue(entry.position.line, s.key(key), "expected true or false, got \(entry.value.typeDescription)")
            return nil
        }
        return value
    }

    /// Keys that belong to another kind of device are errors, not silently ignored.
    private mutating func checkKindKeys(_ s: Section, kind: StationConfiguration.DeviceKind) {
        let own: [String]
        switch kind {
        case .cardReader: own = Self.cardReaderKeys
        case .alarmBox: own = Self.alarmBoxKeys
        case .alarmButton: own = Self.alarmButtonKeys
        case .osdpBus: own = Self.osdpBusKeys + ["baud", "reader"]
        }
        var foreign: [(String, String)] = []
        let owners: [(keys: [String], kind: String)] = [
            (Self.cardReaderKeys, "card-reader"), (Self.alarmBoxKeys, "alarm-box"), (Self.alarmButtonKeys, "alarm-button"),
            (Self.osdpBusKeys + ["reader"], "osdp-bus"),
        ]
        for owner in owners {
            for key in owner.keys where !foreign.contains(where: { $0.0 == key }) { foreign.append((key, owner.kind)) }
        }
        for (key, owner) in foreign where !own.contains(key) {
            if let entry = s.table[key] {
                issue(entry.position.line, s.key(key), "`\(key)` applies to \(owner) devices only; this device is a \(kind.rawValue): remove it")
            }
        }
    }

    /// `port`, or `usb_vendor` + `usb_product` (+ `usb_serial`): exactly one way.
    private mutating func decodePort(
        _ s: Section, index: Int, ports: inout [PortSpec: (index: Int, line: Int)], allowSimulated: Bool = false
    ) -> PortSpec? {
        let usbEntries = ["usb_vendor", "usb_product", "usb_serial"].compactMap { key in s.table[key].map { (key, $0) } }
        if let portEntry = s.table["port"], let (firstUSB, usbEntry) = usbEntries.first {
            issue(portEntry.position.line, s.key("port"), "`port` and `\(firstUSB)` (line \(usbEntry.position.line)) are two ways to name the device; set either `port` or `usb_vendor` + `usb_product`, not both")
            return nil
        }
        let spec: PortSpec
        let line: Int
        let key: String
        if s.table["port"] != nil {
            guard case .present(let value, let at) = string(s, "port", required: true) else { return nil }
            if allowSimulated, value.hasPrefix("sim:/") {
                spec = .path(value)
                (line, key) = (at, "port")
                return claim(spec, line: line, key: key, s: s, index: index, ports: &ports)
            }
            guard value.hasPrefix("/") else {
                issue(at, s.key("port"), "expected an absolute device path like \"/dev/ttyUSB0\"; got \(Self.quoted(value))")
                return nil
            }
            spec = .path(PathResolver.normalize(value))
            (line, key) = (at, "port")
        } else if !usbEntries.isEmpty {
            let vendor = usbID(s, "usb_vendor", partner: "usb_product")
            let product = usbID(s, "usb_product", partner: "usb_vendor")
            let serial = optionalText(s, "usb_serial")
            let serialValid = s.table["usb_serial"] == nil || serial != nil
            guard let vendor, let product, serialValid else { return nil }
            spec = .usb(vendor: vendor.value, product: product.value, serial: serial)
            (line, key) = (vendor.line, "usb_vendor")
        } else {
            issue(s.table.position?.line, s.path, "no port: set `port` (like \"/dev/ttyUSB0\"), or `usb_vendor` and `usb_product` (like \"1a86\" and \"7523\")")
            return nil
        }
        return claim(spec, line: line, key: key, s: s, index: index, ports: &ports)
    }

    /// Records that device `index` uses `spec`, or reports that another device already does.
    private mutating func claim(
        _ spec: PortSpec, line: Int, key: String, s: Section, index: Int, ports: inout [PortSpec: (index: Int, line: Int)]
    ) -> PortSpec? {
        if let first = ports[spec] {
            let advice: String
            switch spec {
            case .path: advice = "each device needs its own port"
            case .usb(_, _, nil): advice = "add usb_serial to tell identical adapters apart"
            case .usb: advice = "each device needs its own adapter"
            }
            issue(line, s.key(key), "\(spec) is already used by device[\(first.index)] (line \(first.line)); \(advice)")
            return nil
        }
        ports[spec] = (index, line)
        return spec
    }

    /// A USB vendor or product id: a string of 4 hex digits.
    private mutating func usbID(_ s: Section, _ key: String, partner: String) -> (value: UInt16, line: Int)? {
        guard s.table[key] != nil else {
            let message = s.table[partner] != nil
                ? "required key is missing (\(partner) is set; the two name the adapter together)"
                : "required key is missing (usb_serial needs usb_vendor and usb_product)"
            issue(s.table.position?.line, s.key(key), message)
            return nil
        }
        guard case .present(let text, let line) = string(s, key, required: true) else { return nil }
        guard text.count == 4, text.unicodeScalars.allSatisfy(\.properties.isASCIIHexDigit), let value = UInt16(text, radix: 16) else {
            issue(line, s.key(key), "expected 4 hex digits like \"1a86\" (as lsusb prints them); got \(Self.quoted(text))")
            return nil
        }
        return (value, line)
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
    private mutating func section(_ root: TOMLTable, _ name: String) -> Section? {
        subsection(Section(table: root, path: "", display: "", present: true), name, display: "[\(name)]")
    }

    private mutating func subsection(_ parent: Section, _ name: String, display: String) -> Section? {
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
    private mutating func checkUnknown(_ s: Section, keys: [String], tables: [(name: String, display: String)] = []) {
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

    private mutating func entry(_ s: Section, _ key: String, required: Bool) -> TOMLEntry? {
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

    private mutating func string(_ s: Section, _ key: String, required: Bool = false) -> Field<String> {
        guard let entry = entry(s, key, required: required) else { return .absent }
        guard case .string(let value) = entry.value else {
            issue(entry.position.line, s.key(key), "expected a string, got \(entry.value.typeDescription)")
            return .invalid
        }
        return .present(value, line: entry.position.line)
    }

    private mutating func integer(_ s: Section, _ key: String) -> Field<Int64> {
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
    private mutating func integer(_ s: Section, _ key: String, in range: ClosedRange<Int64>, default fallback: Int64) -> Int64? {
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
    private mutating func orderedMaximum(
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
    private mutating func oneOf(_ s: Section, _ key: String, options: [String], required: Bool) -> Field<String> {
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
    private mutating func optionalText(_ s: Section, _ key: String) -> String? {
        guard case .present(let value, let line) = string(s, key) else { return nil }
        guard !value.isEmpty else {
            issue(line, s.key(key), "expected a non-empty string; remove the key to leave it unset")
            return nil
        }
        return value
    }

    /// An optional path, made absolute against the configuration file's directory.
    private mutating func path(_ s: Section, _ key: String) -> String? {
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

    private mutating func issue(_ line: Int?, _ key: String?, _ message: String) {
        issues.append(ConfigIssue(file: file, line: line, key: key, message: message))
    }

    static func quoted(_ text: String) -> String {
        TOMLWriter.quoted(text)
    }

    private static func matches(_ text: String, length: ClosedRange<Int>, allowed: (Unicode.Scalar) -> Bool) -> Bool {
        length.contains(text.unicodeScalars.count) && text.unicodeScalars.allSatisfy(allowed)
    }

    private static func isStationIDScalar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }

    private static func isNameScalar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }
}
