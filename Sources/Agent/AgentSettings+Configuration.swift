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
            readers: configuration.devices.map { device in
                let line = device.profile.line
                let settings = SerialSettings(
                    baud: device.baud ?? line.baud, dataBits: line.dataBits, parity: SerialParity(line.parity),
                    stopBits: line.stopBits)
                return CardReaderDevice(
                    name: device.name, purpose: device.purpose, profile: device.profile, port: device.port,
                    settings: settings, dedupWindow: device.dedupWindow,
                    reopen: RetryPolicy(initial: device.reopenInitial, maximum: device.reopenMax))
            }
        )
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
