import DeviceProtocols
import EventModel
import Foundation
import SecretFile

/// A station's configuration, as read from its TOML file by ``ConfigLoader`` and checked
/// against the schema described in `docs/configuration.md`. Defaults are filled in, relative
/// paths are made absolute against the configuration file's directory, and times are
/// `Duration`s.
///
/// Its `description` renders the effective configuration as TOML, with the platform token
/// redacted: it is safe to log.
public struct StationConfiguration: Sendable, Hashable {
    /// `[station]`: who this station is and where it keeps its state.
    public var station: Station
    /// `[platform]`: where events are forwarded.
    public var platform: Platform
    /// `[store]`: the local event store.
    public var store: Store
    /// `[log]`: logging.
    public var log: Log
    /// `[[device]]`: the devices to read, in file order.
    public var devices: [Device]
    /// `[sia]`: alarms also go to an alarm receiving centre over SIA DC-09 (optional).
    public var sia: Sia?
    /// `[metrics]`: the Prometheus endpoint (optional; on loopback by default).
    public var metrics = Metrics()
    /// `[privacy]`: card numbers as pseudonyms (the default) or raw.
    public var privacy = Privacy()
    /// The configuration file, as it was named to the loader.
    public var file: String

    public init(station: Station, platform: Platform, store: Store = Store(), log: Log = Log(), devices: [Device] = [], file: String) {
        self.station = station
        self.platform = platform
        self.store = store
        self.log = log
        self.devices = devices
        self.file = file
    }

    /// `[station]`.
    public struct Station: Sendable, Hashable {
        /// `id`: the station's identifier on the platform, 1 to 64 of `A-Z a-z 0-9 . _ -`.
        public var id: String
        /// `name`: a human-readable name.
        public var name: String?
        /// `state_dir`: where the agent keeps its database and state; always absolute.
        public var stateDirectory: String
        /// `[station.location]`: where the station sits in the grid; all parts optional.
        public var location: GridLocation

        public init(id: String, name: String? = nil, stateDirectory: String = "/var/lib/station-agent", location: GridLocation = GridLocation()) {
            self.id = id
            self.name = name
            self.stateDirectory = stateDirectory
            self.location = location
        }
    }

    /// `[platform]`. Its `description` never prints the token.
    public struct Platform: Sendable, Hashable, CustomStringConvertible {
        /// `url`: the platform's API base URL (`http` or `https`, with a host, maybe a path
        /// prefix; no query or fragment).
        public var url: URL
        /// `token` or `token_file`: how to authenticate, if at all.
        public var credential: Credential?
        /// `ca_file`: PEM trust roots to use instead of the system's; absolute.
        public var caFile: String?
        /// `timeout_ms`: the timeout of one request.
        public var timeout: Duration
        /// `batch_size`: the most events sent in one request.
        public var batchSize: Int
        /// `retry_initial_ms`: the first delay after a failed request.
        public var retryInitial: Duration
        /// `retry_max_ms`: the longest delay between retries.
        public var retryMax: Duration
        /// `heartbeat_seconds`: how often the agent tells the platform it is alive.
        public var heartbeatInterval: Duration
        /// `signing_key_file`: the station's HMAC key (hex, mode 0600); every request is signed with it.
        public var signingKeyFile: FileReference?
        /// `client_certificate_file` + `client_key_file`: mutual TLS.
        public var clientCertificate: ClientCertificate?

        public init(
            url: URL, credential: Credential? = nil, caFile: String? = nil, timeout: Duration = .milliseconds(5000),
            batchSize: Int = 200, retryInitial: Duration = .milliseconds(500), retryMax: Duration = .milliseconds(30000),
            heartbeatInterval: Duration = .seconds(30)
        ) {
            self.heartbeatInterval = heartbeatInterval
            self.url = url
            self.credential = credential
            self.caFile = caFile
            self.timeout = timeout
            self.batchSize = batchSize
            self.retryInitial = retryInitial
            self.retryMax = retryMax
        }

        public var description: String {
            ConfigurationRenderer.platformSection(self).joined(separator: "\n")
        }
    }

    /// How the agent authenticates to the platform. Prints without the token.
    public enum Credential: Sendable, Hashable, CustomStringConvertible {
        /// `token = "..."`: a bearer token written in the configuration.
        case token(Secret)
        /// `token_file = "path"`: a file holding the bearer token (absolute path). The loader
        /// records the path only; ``bearerToken()`` reads it.
        case tokenFile(String)

        public var description: String {
            switch self {
            case .token: "token (redacted)"
            case .tokenFile(let path): "token file \(path)"
            }
        }
    }

    /// A secret string that never prints: `description`, `debugDescription` and its mirror
    /// (`dump`) all show `<redacted>`. Read it with ``value``.
    public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        /// The secret itself. Do not log it.
        public let value: String

        public init(_ value: String) {
            self.value = value
        }

        public var description: String { "<redacted>" }
        public var debugDescription: String { "<redacted>" }
        public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
    }

    /// `[sia]`: an alarm receiving centre that takes SIA DC-09 over TCP.
    public struct Sia: Sendable, Hashable {
        /// `receiver`: `host:port`.
        public var host: String
        public var port: Int
        /// `account`: the account number the centre knows this station by (3 to 16 hex digits).
        public var account: String
        /// `receiver_number`: the `R` field (hex), if the centre wants one.
        public var receiverNumber: String?
        /// `prefix`: the `L` field (hex), default `0`.
        public var prefix: String
        /// `format`: `SIA-DCS` or `ADM-CID`.
        public var format: String
        /// `key_file`: AES key (hex, 128/192/256-bit) for encrypted messages, mode 0600.
        public var keyFile: String?
        /// `retry_seconds`: 5 to 60.
        public var retryInterval: Duration
        /// `response_timeout_seconds`: 1 to 60.
        public var responseTimeout: Duration
        /// `link_test_seconds`: `NULL` supervision messages when idle (0: off).
        public var linkTestInterval: Duration?

        public init(
            host: String, port: Int, account: String, receiverNumber: String? = nil, prefix: String = "0", format: String = "SIA-DCS",
            keyFile: String? = nil, retryInterval: Duration = .seconds(10), responseTimeout: Duration = .seconds(10),
            linkTestInterval: Duration? = .seconds(60)
        ) {
            self.host = host
            self.port = port
            self.account = account
            self.receiverNumber = receiverNumber
            self.prefix = prefix
            self.format = format
            self.keyFile = keyFile
            self.retryInterval = retryInterval
            self.responseTimeout = responseTimeout
            self.linkTestInterval = linkTestInterval
        }
    }

    /// `[store]`.
    public struct Store: Sendable, Hashable {
        /// `retention_hours`: how long delivered events are kept before they are deleted.
        public var retention: Duration
        /// `max_mb`: the size budget of the queue on disk, in MiB (0 = no budget). When it is
        /// reached, delivered events go first, then the oldest undelivered card taps; alarms
        /// are never evicted.
        public var maxBytes: Int64
        /// `alarm_reserve_mb`: space kept free for alarms, in MiB, inside the budget and on the disk.
        public var alarmReserveBytes: Int64

        public init(retention: Duration = .seconds(168 * 3600), maxBytes: Int64 = 0, alarmReserveBytes: Int64 = 8 << 20) {
            self.retention = retention
            self.maxBytes = maxBytes
            self.alarmReserveBytes = alarmReserveBytes
        }
    }

    /// `[log]`.
    public struct Log: Sendable, Hashable {
        /// `level`: the lowest level logged.
        public var level: LogLevel

        public init(level: LogLevel = .info) {
            self.level = level
        }
    }

    /// A log level. The raw values are those of swift-log's `Logger.Level`, so
    /// `Logger.Level(rawValue: level.rawValue)` converts.
    public enum LogLevel: String, Sendable, Hashable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// The kinds of device this version knows.
    public enum DeviceKind: String, Sendable, Hashable, CaseIterable {
        /// A reader that prints card identifiers on a serial line.
        case cardReader = "card-reader"
        /// A serial one-key alarm box (`Hardware/alarm-box/protocol.md`).
        case alarmBox = "alarm-box"
        /// A dry-contact one-key alarm button on an RS-232 port's modem lines.
        case alarmButton = "alarm-button"
        /// An RS-485 bus of OSDP card readers (`Hardware/osdp/`), with its `[[device.reader]]`s.
        case osdpBus = "osdp-bus"
    }

    /// One OSDP reader on an `osdp-bus` (`[[device.reader]]`).
    public struct OSDPReader: Sendable, Hashable {
        /// `address`: 0 to 126, as set on the reader.
        public var address: Int
        /// `name`: unique among all devices and readers; events carry it.
        public var name: String
        /// `purpose`: what a tap on this reader means (default: the bus's purpose).
        public var purpose: String
        /// `key_file` when `secure = true`: the reader's AES-128 key (32 hex digits, mode 0600).
        public var keyFile: String?
        /// `install`: move a factory-fresh reader from the default key to its own key.
        public var install: Bool
        /// `alarm_input`: the reader input wired to a one-key alarm button, if any.
        public var alarmInput: Int?

        public init(address: Int, name: String, purpose: String, keyFile: String? = nil, install: Bool = false, alarmInput: Int? = nil) {
            self.address = address
            self.name = name
            self.purpose = purpose
            self.keyFile = keyFile
            self.install = install
            self.alarmInput = alarmInput
        }
    }

    /// Settings of an `alarm-box` device.
    public struct AlarmBoxOptions: Sendable, Hashable {
        /// `supervision_seconds`: no frame from the box for this long is a device fault.
        public var supervision: Duration

        public init(supervision: Duration = .seconds(30)) {
            self.supervision = supervision
        }
    }

    /// Settings of an `alarm-button` device.
    public struct AlarmButtonOptions: Sendable, Hashable {
        /// `input`: the modem line the contact closes into: `cts`, `dsr`, `dcd` or `ri`.
        public var input: String
        /// `drive`: the output that powers the contact: `dtr` or `rts`.
        public var drive: String
        /// `wiring`: `normally-open` or `normally-closed`.
        public var normallyClosed: Bool
        /// `debounce_ms`.
        public var debounce: Duration
        /// `minimum_press_ms`: shorter presses are ignored (false triggers).
        public var minimumPress: Duration
        /// `poll_ms`: how often the lines are sampled.
        public var pollInterval: Duration

        public init(
            input: String = "cts", drive: String = "dtr", normallyClosed: Bool = false, debounce: Duration = .milliseconds(30),
            minimumPress: Duration = .milliseconds(300), pollInterval: Duration = .milliseconds(10)
        ) {
            self.input = input
            self.drive = drive
            self.normallyClosed = normallyClosed
            self.debounce = debounce
            self.minimumPress = minimumPress
            self.pollInterval = pollInterval
        }
    }

    /// `[[device]]`: one device to read. What every kind has is here; what only one kind has
    /// is in its ``Kind`` case, so a card reader without a profile or a button with an OSDP
    /// reader list cannot be written down.
    public struct Device: Sendable, Hashable {
        /// `name`: unique among the devices; 1 to 32 of `a-z 0-9 _ -`. Events carry it.
        public var name: String
        /// `purpose`: what a tap or a press on this device means to the platform (`check-in`,
        /// `attendance`, `service-request`, `volunteer`, `patrol`, or another word of
        /// `a-z 0-9 _ -`).
        public var purpose: String
        /// `port`, or `usb_vendor` + `usb_product` (+ `usb_serial`): how to find the device.
        public var port: PortSpec
        /// `reopen_initial_ms`: the first delay before reopening a device that went away.
        public var reopenInitial: Duration
        /// `reopen_max_ms`: the longest delay between reopening attempts.
        public var reopenMax: Duration
        /// `kind`, with the settings only that kind takes.
        public var kind: Kind

        /// `kind`, with its own settings.
        public enum Kind: Sendable, Hashable {
            case cardReader(CardReaderOptions)
            case alarmBox(AlarmBoxOptions)
            case alarmButton(AlarmButtonOptions)
            case osdpBus(OSDPBusOptions)

            /// The `kind` value in the file.
            public var name: DeviceKind {
                switch self {
                case .cardReader: .cardReader
                case .alarmBox: .alarmBox
                case .alarmButton: .alarmButton
                case .osdpBus: .osdpBus
                }
            }
        }

        public init(
            name: String, purpose: String, port: PortSpec, reopenInitial: Duration = .milliseconds(200),
            reopenMax: Duration = .milliseconds(5000), kind: Kind
        ) {
            self.name = name
            self.purpose = purpose
            self.port = port
            self.reopenInitial = reopenInitial
            self.reopenMax = reopenMax
            self.kind = kind
        }

        /// The names this device and, on an OSDP bus, its readers put on events.
        public var eventSourceNames: [String] {
            if case .osdpBus(let bus) = kind { return [name] + bus.readers.map(\.name) }
            return [name]
        }

        /// Whether it reads cards (whose numbers `[privacy]` governs).
        public var readsCards: Bool {
            switch kind {
            case .cardReader, .osdpBus: true
            case .alarmBox, .alarmButton: false
            }
        }
    }

    /// Settings of a `card-reader` device.
    public struct CardReaderOptions: Sendable, Hashable {
        /// `profile`: the reader's wire format.
        public var profile: ReaderProfile
        /// `baud`: overrides the profile's line speed when set.
        public var baud: Int?
        /// `dedup_window_ms`: the same card read again within this window is one tap.
        public var dedupWindow: Duration

        public init(profile: ReaderProfile, baud: Int? = nil, dedupWindow: Duration = .milliseconds(2000)) {
            self.profile = profile
            self.baud = baud
            self.dedupWindow = dedupWindow
        }
    }

    /// Settings of an `osdp-bus` device.
    public struct OSDPBusOptions: Sendable, Hashable {
        /// `[[device.reader]]`: at least one.
        public var readers: [OSDPReader]
        /// `baud`: the bus speed (default 9600).
        public var baud: Int?
        /// `turnaround_gap_ms` (nil: the spec's two character times).
        public var turnaroundGap: Duration?

        public init(readers: [OSDPReader], baud: Int? = nil, turnaroundGap: Duration? = nil) {
            self.readers = readers
            self.baud = baud
            self.turnaroundGap = turnaroundGap
        }
    }
}

extension StationConfiguration: CustomStringConvertible {
    /// The effective configuration as TOML, defaults included, with the token redacted.
    public var description: String {
        ConfigurationRenderer.render(self)
    }
}

/// Where to find a device's serial port.
public enum PortSpec: Sendable, Hashable, CustomStringConvertible {
    /// A device path: `/dev/ttyUSB0`, `/dev/serial/by-id/...`.
    case path(String)
    /// A USB serial adapter by identity (vendor and product id, and the serial number when
    /// several identical adapters are plugged in), found wherever it is enumerated.
    case usb(vendor: UInt16, product: UInt16, serial: String?)

    public var description: String {
        switch self {
        case .path(let path):
            return path
        case .usb(let vendor, let product, let serial):
            let ids = "usb \(PortSpec.hex4(vendor)):\(PortSpec.hex4(product))"
            return serial.map { "\(ids) serial \($0)" } ?? ids
        }
    }

    /// Four lower-case hex digits, as `lsusb` prints USB ids.
    static func hex4(_ value: UInt16) -> String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 4 - hex.count) + hex
    }
}

extension StationConfiguration.Credential {
    /// The bearer token: the configured one, or the token file's content with surrounding
    /// whitespace (the final newline, say) removed. The file is read on every call, so a
    /// rotated token is picked up.
    ///
    /// - Throws: a ``ConfigError`` naming the token file when it cannot be read or is empty.
    public func bearerToken() throws(ConfigError) -> String {
        switch self {
        case .token(let secret):
            return secret.value
        case .tokenFile(let path):
            let text: String
            do {
                text = try SecretFile.readText(path)
            } catch {
                throw KeyFile.configError(
                    error, reference: StationConfiguration.FileReference(path), configurationFile: path, key: "platform.token_file",
                    purpose: "the token lets anyone post events as this station")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty, !token.contains(where: \.isNewline) else {
                throw ConfigError(issues: [ConfigIssue(
                    file: path, key: "platform.token_file",
                    message: token.isEmpty
                        ? "the token file is empty; write the platform's bearer token in it"
                        : "the token file has more than one line; write only the bearer token in it"
                )])
            }
            return token
        }
    }
}
