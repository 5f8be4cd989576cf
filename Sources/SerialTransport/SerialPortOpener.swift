import Logging

/// Opens a serial port with the implementation that can handle the device.
///
/// The rule, applied to the path after `realpath(3)`:
/// - a pseudo-terminal (a path under `/dev/pts/`, or a character device with a Unix98 pty slave
///   major number, 136...143) opens with ``TermiosSerialPort``: libserialport 0.1.1 cannot open
///   ptys (`sp_get_port_by_name` looks in `/sys/class/tty`, `sp_open` fails on `TIOCMGET`);
/// - any other character device (`/dev/ttyUSB0`, `/dev/ttyACM0`, `/dev/ttyS0`) opens with
///   ``LibSerialPortPort``;
/// - anything else fails with ``SerialError/Code/notASerialDevice``.
///
/// ```swift
/// let port = try SerialPortOpener.open(path: "/dev/serial/by-id/usb-FTDI_FT232R_A10K4B2C-if00-port0",
///                                      settings: .default9600_8N1)
/// ```
public enum SerialPortOpener {
    /// Which implementation the opener picks.
    public enum Driver: String, Sendable, Hashable {
        /// ``TermiosSerialPort``.
        case termios
        /// ``LibSerialPortPort``.
        case libserialport
    }

    /// Resolves `path` and tells which implementation ``open(path:settings:)`` would use.
    /// - Throws: ``SerialError/Code/notFound`` or ``SerialError/Code/notASerialDevice``.
    public static func driver(for path: String) throws(SerialError) -> Driver {
        let resolved = try DevicePath.resolve(path)
        switch try DevicePath.kind(ofResolved: resolved) {
        case .pseudoTerminal:
            return .termios
        case .characterDevice:
            return .libserialport
        case .notCharacterDevice:
            throw SerialError(
                code: .notASerialDevice, path: path, operation: "open",
                message: resolved == path
                    ? "the path is not a character device"
                    : "the path resolves to \(resolved), which is not a character device",
                hint: "Configure a serial device such as /dev/ttyUSB0 or a /dev/serial/by-id/ name.")
        }
    }

    /// Opens `path` (symlinks resolved) with the implementation the rule above picks.
    public static func open(path: String, settings: SerialSettings) throws(SerialError) -> any SerialPort {
        try open(path: path, settings: settings, logger: Logger(label: "station.serial"))
    }

    /// Opens `path` with a logger and a write timeout.
    public static func open(
        path: String, settings: SerialSettings, writeTimeout: Duration = .seconds(2), logger: Logger
    ) throws(SerialError) -> any SerialPort {
        try settings.validate(path: path)
        switch try driver(for: path) {
        case .termios:
            return try TermiosSerialPort(path: path, settings: settings, writeTimeout: writeTimeout, logger: logger)
        case .libserialport:
            return try LibSerialPortPort(path: path, settings: settings, writeTimeout: writeTimeout, logger: logger)
        }
    }
}
