import SerialTransport
import StationConfig

/// Opens a device's serial port. The live provider uses libserialport for hardware and termios
/// for pseudo-terminals; tests provide fakes.
public protocol SerialPortProvider: Sendable {
    func open(_ port: PortSpec, settings: SerialSettings) throws -> any SerialPort
}

/// The real thing: USB identities are looked up in the current port list on every open, so a
/// reader that comes back on another `/dev/ttyUSBn` is found again.
public struct LiveSerialPortProvider: SerialPortProvider {
    public init() {}

    public func open(_ port: PortSpec, settings: SerialSettings) throws -> any SerialPort {
        switch port {
        case .path(let path):
            return try SerialPortOpener.open(path: path, settings: settings)
        case .usb(let vendor, let product, let serial):
            let info = try SerialPortCatalog.find(vendor: vendor, product: product, serial: serial)
            return try SerialPortOpener.open(path: info.path, settings: settings)
        }
    }
}
