import DeviceProtocols
import EventModel
import Foundation

/// What `station-agent setup` found and was told, and the commented station.toml it writes.
///
/// Pure: ``render()`` is text, and the validators say what is wrong with an answer in the words
/// `check-config` uses, so the wizard can ask again instead of writing a file the agent refuses.
public struct StationSetup: Sendable, Hashable {
    /// A device the wizard found, with what it saw as a comment.
    public struct Device: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            case cardReader(profile: ReaderProfile)
            case alarmBox
            /// `input` (cts, dsr, dcd, ri) powered by `drive` (dtr, rts).
            case alarmButton(input: String, drive: String, normallyClosed: Bool)
            case osdpBus(baud: Int, readers: [OSDPReader])
        }

        public struct OSDPReader: Sendable, Hashable {
            public var address: Int
            public var name: String
            public var purpose: String
            /// What the reader said it is (`vendor 0A0B0C model 1, serial 1234`), if anything.
            public var identity: String?

            public init(address: Int, name: String, purpose: String, identity: String? = nil) {
                self.address = address
                self.name = name
                self.purpose = purpose
                self.identity = identity
            }
        }

        public var name: String
        public var purpose: String
        public var kind: Kind
        public var port: PortSpec
        /// One line saying what was heard and where (`/dev/ttyUSB0, CH340 ...: card 1A002F4B6C`).
        public var found: String

        public init(name: String, purpose: String, kind: Kind, port: PortSpec, found: String) {
            self.name = name
            self.purpose = purpose
            self.kind = kind
            self.port = port
            self.found = found
        }
    }

    public var stationID: String
    public var location: GridLocation
    public var platformURL: String
    /// The bearer token's file; nil for a platform that needs none.
    public var tokenFile: String?
    /// The district key for card pseudonyms; nil sends card numbers as read (`card_ids = "raw"`).
    public var districtKeyFile: String?
    public var stateDirectory: String
    public var devices: [Device]

    public init(
        stationID: String, location: GridLocation = GridLocation(), platformURL: String, tokenFile: String? = nil,
        districtKeyFile: String? = nil, stateDirectory: String = "/var/lib/station-agent", devices: [Device] = []
    ) {
        self.stationID = stationID
        self.location = location
        self.platformURL = platformURL
        self.tokenFile = tokenFile
        self.districtKeyFile = districtKeyFile
        self.stateDirectory = stateDirectory
        self.devices = devices
    }

    // MARK: Answers

    /// What is wrong with `text` as `[station] id`, or nil when it is fine.
    public static func problem(stationID text: String) -> String? {
        SchemaDecoder.matches(text, length: 1...64, allowed: SchemaDecoder.isStationIDScalar)
            ? nil : "expected 1 to 64 characters of A-Z a-z 0-9 . _ -; got \(SchemaDecoder.quoted(text))"
    }

    /// What is wrong with `text` as `[platform] url`, or nil when it is fine.
    public static func problem(platformURL text: String) -> String? {
        switch SchemaDecoder.platformURL(text) {
        case .success: nil
        case .failure(let problem): problem.message
        }
    }

    /// What is wrong with `text` as a device's `purpose`, or nil when it is fine.
    public static func problem(purpose text: String) -> String? {
        SchemaDecoder.matches(text, length: 1...32, allowed: SchemaDecoder.isNameScalar)
            ? nil
            : "expected 1 to 32 characters of a-z 0-9 _ - (such as \(SchemaDecoder.knownPurposes.joined(separator: ", "))); got \(SchemaDecoder.quoted(text))"
    }

    /// The purposes the platform knows, for the prompt.
    public static var knownPurposes: [String] { SchemaDecoder.knownPurposes }

    // MARK: The file

    /// The commented station.toml.
    public func render(generatedAt date: Date, path: String = "/etc/station-agent/station.toml", by command: String = "station-agent setup") -> String {
        let q = TOMLWriter.quoted
        var lines = [
            "# \(path) for station \(stationID), written by `\(command)`",
            "# on \(Self.dateText(date)). Every key is described in /usr/share/doc/station-agent/configuration.md",
            "# (docs/configuration.md in the source). After editing it by hand:",
            "#   station-agent check-config \(path) && systemctl restart station-agent && station-agent doctor",
            "",
            "[station]",
            "# The station's identifier on the platform.",
            "id = \(q(stationID))",
            "# The event queue: every event is kept here until the platform has it.",
            "state_dir = \(q(stateDirectory))",
        ]
        let parts: [(String, String?)] = [
            ("district", location.district), ("street", location.street), ("community", location.community),
            ("grid", location.grid), ("micro_grid", location.microGrid),
        ]
        if parts.contains(where: { $0.1 != nil }) {
            lines += ["", "# Where the station sits in the grid; the platform shows it with every event.", "[station.location]"]
            for case (let key, let value?) in parts { lines.append("\(key) = \(q(value))") }
        }
        lines += ["", "[platform]", "# The district platform's API.", "url = \(q(platformURL))"]
        if let tokenFile {
            lines += ["# The bearer token: a file readable by the agent's user only (mode 0600).", "token_file = \(q(tokenFile))"]
        } else {
            lines += ["# No token: the platform asked for none. When it does, put it in a file of mode 0600:", "# token_file = \"/etc/station-agent/token\""]
        }
        lines += ["", "[privacy]"]
        if let districtKeyFile {
            lines += [
                "# Card numbers are replaced by pseudonyms under the district's key before they are stored or sent.",
                "card_ids = \"pseudonym\"", "district_key_file = \(q(districtKeyFile))",
            ]
        } else {
            lines += ["# Card numbers are stored and sent as read (the technician chose so at setup).", "card_ids = \"raw\""]
        }
        lines += ["", "[log]", "level = \"info\""]
        if devices.isEmpty {
            lines += ["", "# No device was found at setup. Add one [[device]] per reader, alarm box or button:", "# see docs/station.example.toml."]
        }
        for device in devices {
            lines.append("")
            lines.append(Self.render(device))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One `[[device]]` block (and its `[[device.reader]]`s), with what was found as a comment.
    public static func render(_ device: Device) -> String {
        let q = TOMLWriter.quoted
        var lines = ["# Found: \(device.found)", "[[device]]", "name = \(q(device.name))"]
        switch device.kind {
        case .cardReader(let profile):
            lines += ["kind = \"card-reader\"", "profile = \(q(profile.rawValue))"]
        case .alarmBox:
            lines += ["kind = \"alarm-box\""]
        case .alarmButton:
            lines += ["kind = \"alarm-button\""]
        case .osdpBus:
            lines += ["kind = \"osdp-bus\""]
        }
        lines.append("purpose = \(q(device.purpose))")
        switch device.port {
        case .path(let path):
            lines.append("port = \(q(path))")
        case .usb(let vendor, let product, let serial):
            lines += ["# The adapter by its USB identity: found wherever it is plugged in.", "usb_vendor = \(q(PortSpec.hex4(vendor)))", "usb_product = \(q(PortSpec.hex4(product)))"]
            if let serial {
                lines.append("usb_serial = \(q(serial))")
            } else {
                lines.append("# This adapter has no serial number: a second one of the same kind needs `port = \"/dev/serial/by-path/...\"` instead.")
            }
        }
        switch device.kind {
        case .cardReader, .alarmBox:
            break
        case .alarmButton(let input, let drive, let normallyClosed):
            lines += [
                "# The contact is powered from \(drive.uppercased()) and read on \(input.uppercased()).",
                "input = \(q(input))", "drive = \(q(drive))",
                normallyClosed ? "# Normally closed: a cut cable raises an alarm too." : "# Normally open: the line is asserted while the button is pressed.",
                "wiring = \(q(normallyClosed ? "normally-closed" : "normally-open"))",
            ]
        case .osdpBus(let baud, let readers):
            lines.append("baud = \(baud)")
            for reader in readers {
                lines.append("")
                if let identity = reader.identity { lines.append("# \(identity)") }
                lines += [
                    "[[device.reader]]", "address = \(reader.address)", "name = \(q(reader.name))", "purpose = \(q(reader.purpose))",
                    "# For the secure channel, give the reader's key (hex, mode 0600): secure = true, key_file = \"...\"",
                ]
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func dateText(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: date)
    }
}
