import DeviceProtocols
import Foundation
import SerialTransport
import StationConfig
import Uplink

extension AgentSettings {
    /// Turns a validated configuration into the agent's settings: reads the token file (refusing
    /// one that every user can read), and combines each reader's profile with its `baud` override.
    public init(_ configuration: StationConfiguration) throws(ConfigError) {
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
                guard device.kind == .cardReader, let profile = device.profile else { return nil }
                let line = profile.line
                let settings = SerialSettings(
                    baud: device.baud ?? line.baud, dataBits: line.dataBits, parity: SerialParity(line.parity),
                    stopBits: line.stopBits)
                return CardReaderDevice(
                    name: device.name, purpose: device.purpose, profile: profile, port: device.port,
                    settings: settings, dedupWindow: device.dedupWindow,
                    reopen: RetryPolicy(initial: device.reopenInitial, maximum: device.reopenMax))
            },
            alarmBoxes: configuration.devices.compactMap { device in
                guard device.kind == .alarmBox, let options = device.alarmBox else { return nil }
                return AlarmBoxConfiguration(
                    name: device.name, purpose: device.purpose, port: device.port, supervision: options.supervision,
                    reopen: RetryPolicy(initial: device.reopenInitial, maximum: device.reopenMax))
            },
            alarmButtons: configuration.devices.compactMap { device in
                guard device.kind == .alarmButton, let options = device.alarmButton, case .path(let path) = device.port,
                    let input = ModemLine(rawValue: options.input), let drive = ModemOutput(rawValue: options.drive)
                else { return nil }
                return AlarmButtonConfiguration(
                    name: device.name, purpose: device.purpose, path: path, input: input, drive: drive,
                    normallyClosed: options.normallyClosed, debounce: options.debounce, minimumPress: options.minimumPress,
                    pollInterval: options.pollInterval, reopen: RetryPolicy(initial: device.reopenInitial, maximum: device.reopenMax))
            },
            heartbeatInterval: platform.heartbeatInterval
        )
        storeBudgetBytes = configuration.store.maxBytes
        alarmReserveBytes = configuration.store.alarmReserveBytes
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
