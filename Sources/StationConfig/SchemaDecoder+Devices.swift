import DeviceProtocols
import EventModel
import Foundation

/// `[[device]]`: one section per device, its kind's own keys, its port, and an `osdp-bus`'s `[[device.reader]]`s.
extension SchemaDecoder {
    mutating func decodeDevices(_ root: TOMLTable) -> [StationConfiguration.Device]? {
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

    mutating func decodeDevice(
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
        let reopenInitial = integer(s, "reopen_initial_ms", in: 10...60_000, default: 200)
        let reopenMax = orderedMaximum(s, initialKey: "reopen_initial_ms", initial: reopenInitial, absoluteMinimum: 10, key: "reopen_max_ms", upper: 600_000, default: 5000)
        var options: StationConfiguration.Device.Kind?
        switch kind {
        case .cardReader?:
            let dedup = integer(s, "dedup_window_ms", in: 0...60_000, default: 2000)
            if let profile, let dedup {
                options = .cardReader(.init(profile: profile, baud: baud.map(Int.init), dedupWindow: .milliseconds(dedup)))
            }
        case .alarmBox?:
            if let seconds = integer(s, "supervision_seconds", in: 2...3600, default: 30) {
                options = .alarmBox(.init(supervision: .seconds(seconds)))
            }
        case .alarmButton?:
            options = decodeAlarmButton(s).map { .alarmButton($0) }
        case .osdpBus?:
            options = decodeOSDPBus(s, busPurpose: purpose, baud: baud, names: &names).map { .osdpBus($0) }
        case nil:
            break
        }
        guard let name, let options, baudValid, let purpose, let port, let reopenInitial, let reopenMax else { return nil }
        return StationConfiguration.Device(
            name: name, purpose: purpose, port: port, reopenInitial: .milliseconds(reopenInitial),
            reopenMax: .milliseconds(reopenMax), kind: options)
    }

    /// The settings of an `alarm-button`.
    mutating func decodeAlarmButton(_ s: Section) -> StationConfiguration.AlarmButtonOptions? {
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
        guard let input = value(input, "cts"), let drive = value(drive, "dtr"), let wiring = value(wiring, "normally-open"),
            let debounce, let minimumPress, let poll
        else { return nil }
        return .init(
            input: input, drive: drive, normallyClosed: wiring == "normally-closed", debounce: .milliseconds(debounce),
            minimumPress: .milliseconds(minimumPress), pollInterval: .milliseconds(poll))
    }

    /// The settings of an `osdp-bus`: its readers and its turnaround gap.
    mutating func decodeOSDPBus(
        _ s: Section, busPurpose: String?, baud: Int64?, names: inout [String: (index: Int, line: Int)]
    ) -> StationConfiguration.OSDPBusOptions? {
        let readers = decodeOSDPReaders(s, busPurpose: busPurpose, names: &names)
        var turnaround: Duration?
        var valid = true
        switch integer(s, "turnaround_gap_ms") {
        case .absent: break
        case .invalid: valid = false
        case .present(let value, let line):
            if (0...500).contains(value) { turnaround = .milliseconds(value) } else {
                issue(line, s.key("turnaround_gap_ms"), "expected an integer from 0 to 500; got \(value)")
                valid = false
            }
        }
        guard let readers, valid else { return nil }
        return .init(readers: readers, baud: baud.map(Int.init), turnaroundGap: turnaround)
    }

    /// `[[device.reader]]` of an `osdp-bus`: at least one; addresses and names unique.
    mutating func decodeOSDPReaders(
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

    mutating func boolean(_ s: Section, _ key: String, default fallback: Bool) -> Bool? {
        guard let entry = s.table[key] else { return fallback }
        guard case .boolean(let value) = entry.value else {
            issue(entry.position.line, s.key(key), "expected true or false, got \(entry.value.typeDescription)")
            return nil
        }
        return value
    }

    /// Keys that belong to another kind of device are errors, not silently ignored.
    mutating func checkKindKeys(_ s: Section, kind: StationConfiguration.DeviceKind) {
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
    mutating func decodePort(
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
    mutating func claim(
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
    mutating func usbID(_ s: Section, _ key: String, partner: String) -> (value: UInt16, line: Int)? {
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
}
