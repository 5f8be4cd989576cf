import DeviceProtocols
import Foundation
import OSDP
import SIADC09
import SerialTransport
import StationConfig
import Uplink

extension AgentSettings {
    /// Turns a validated configuration into the agent's settings: reads the token file (refusing
    /// one that every user can read), and combines each reader's profile with its `baud` override.
    public init(_ configuration: StationConfiguration) throws(ConfigError) {
        let dc09 = try configuration.sia.map { sia throws(ConfigError) in try Self.dc09Settings(sia, file: configuration.file) }
        let token = try configuration.platform.credential?.bearerToken()
        let platform = configuration.platform
        self.init(
            stationID: configuration.station.id,
            location: configuration.station.location,
            stateDirectory: configuration.station.stateDirectory,
            platformURL: platform.url.absoluteString,
            token: token,
            caFile: platform.caFile,
            requestTimeout: platform.timeout,
            batchSize: platform.batchSize,
            retry: RetryPolicy(initial: platform.retryInitial, maximum: platform.retryMax),
            retention: configuration.store.retention,
            readers: configuration.devices.compactMap { device in
                guard case .cardReader(let reader) = device.kind else { return nil }
                return Self.cardReader(device, reader)
            },
            alarmBoxes: configuration.devices.compactMap { device in
                guard case .alarmBox(let box) = device.kind else { return nil }
                return AlarmBoxConfiguration(
                    name: device.name, purpose: device.purpose, port: device.port, supervision: box.supervision,
                    reopen: RetryPolicy(initial: device.reopenInitial, maximum: device.reopenMax))
            },
            alarmButtons: configuration.devices.compactMap { device in
                guard case .alarmButton(let button) = device.kind else { return nil }
                return Self.alarmButton(device, button)
            },
            heartbeatInterval: platform.heartbeatInterval
        )
        self.dc09 = dc09
        osdpBuses = []
        for device in configuration.devices {
            guard case .osdpBus(let bus) = device.kind else { continue }
            osdpBuses.append(try Self.osdpBus(device, bus, file: configuration.file))
        }
        security = try SecuritySettings(configuration)
        storeBudgetBytes = configuration.store.maxBytes
        alarmReserveBytes = configuration.store.alarmReserveBytes
        metricsListen = configuration.metrics.listen
        logLevel = configuration.log.level
    }
}

extension AgentSettings {
    /// A `card-reader`: its profile's line settings, with `baud` overriding the profile's speed.
    static func cardReader(_ device: StationConfiguration.Device, _ reader: StationConfiguration.CardReaderOptions) -> CardReaderDevice {
        let line = reader.profile.line
        let settings = SerialSettings(
            baud: reader.baud ?? line.baud, dataBits: line.dataBits, parity: SerialParity(line.parity), stopBits: line.stopBits)
        return CardReaderDevice(
            name: device.name, purpose: device.purpose, profile: reader.profile, port: device.port, settings: settings,
            dedupWindow: reader.dedupWindow, reopen: RetryPolicy(initial: device.reopenInitial, maximum: device.reopenMax))
    }

    /// An `alarm-button`; nil for what the schema already refuses (a USB identity, an unknown line).
    static func alarmButton(
        _ device: StationConfiguration.Device, _ button: StationConfiguration.AlarmButtonOptions
    ) -> AlarmButtonConfiguration? {
        guard case .path(let path) = device.port, let input = ModemLine(rawValue: button.input),
            let drive = ModemOutput(rawValue: button.drive)
        else { return nil }
        return AlarmButtonConfiguration(
            name: device.name, purpose: device.purpose, path: path, input: input, drive: drive,
            normallyClosed: button.normallyClosed, debounce: button.debounce, minimumPress: button.minimumPress,
            pollInterval: button.pollInterval, reopen: RetryPolicy(initial: device.reopenInitial, maximum: device.reopenMax))
    }

    /// The DC-09 transmitter for `[sia]`: reads the key file (``KeyFile``: refusing one others can read).
    public static func dc09Settings(_ sia: StationConfiguration.Sia, file: String) throws(ConfigError) -> DC09Settings {
        func fail(_ key: String, _ message: String) -> ConfigError {
            ConfigError(issues: [ConfigIssue(file: file, key: "sia.\(key)", message: message)])
        }
        var key: DC09Key?
        if let keyFile = sia.keyFile {
            let text = try KeyFile.readText(
                StationConfiguration.FileReference(keyFile), configurationFile: file, key: "sia.key_file",
                purpose: "the key encrypts alarms")
            do {
                key = try DC09Key(hex: text.trimmingCharacters(in: .whitespacesAndNewlines))
            } catch {
                throw fail("key_file", "\(keyFile): \(error.message)")
            }
        }
        do {
            let configuration = try DC09TransmitterConfiguration(
                account: DC09Account(sia.account), receiver: sia.receiverNumber.map { number throws(DC09Error) in try DC09ReceiverNumber(number) },
                prefix: DC09LinePrefix(sia.prefix), format: sia.format == "ADM-CID" ? .admCID : .siaDCS, key: key,
                responseTimeout: sia.responseTimeout, retryInterval: sia.retryInterval, linkTestInterval: sia.linkTestInterval)
            return DC09Settings(host: sia.host, port: sia.port, configuration: configuration)
        } catch {
            throw fail("account", error.message)
        }
    }
}

extension AgentSettings {
    /// An `osdp-bus` device with its readers; loads each secure reader's key (refusing a key
    /// file others can read).
    static func osdpBus(
        _ device: StationConfiguration.Device, _ bus: StationConfiguration.OSDPBusOptions, file: String
    ) throws(ConfigError) -> OSDPBusConfiguration {
        var readers: [OSDPBusConfiguration.Reader] = []
        for (index, reader) in bus.readers.enumerated() {
            var mode = OSDPSecureChannelMode.disabled
            if let keyFile = reader.keyFile {
                do {
                    mode = .required(key: try OSDPSecureChannelKey.load(fromFile: keyFile), allowInstall: reader.install)
                } catch {
                    throw ConfigError(issues: [
                        ConfigIssue(file: file, key: "device.\(device.name).reader[\(index)].key_file", message: "\(error)")
                    ])
                }
            }
            readers.append(.init(
                address: UInt8(reader.address), name: reader.name, purpose: reader.purpose, secureChannel: mode,
                alarmInput: reader.alarmInput))
        }
        return OSDPBusConfiguration(
            name: device.name, port: device.port, baud: bus.baud ?? 9600, turnaroundGap: bus.turnaroundGap,
            readers: readers, reopen: RetryPolicy(initial: device.reopenInitial, maximum: device.reopenMax))
    }
}

extension SerialParity {
    init(_ parity: LineSettings.Parity) {
        switch parity {
        case .none: self = .none
        case .odd: self = .odd
        case .even: self = .even
        }
    }
}
