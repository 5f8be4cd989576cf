import CSerialShim
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A serial port opened with plain POSIX termios: the implementation for pseudo-terminals
/// (`/dev/pts/N`, the simulator's devices, socat links), which libserialport 0.1.1 cannot open.
/// It works on real ttys too.
///
/// Opening: `realpath`, `open(O_RDWR|O_NOCTTY|O_NONBLOCK|O_CLOEXEC)`, an exclusive `flock` (a
/// second open of the same device fails with ``SerialError/Code/busy``), then raw mode with the
/// requested speed and framing (`cfmakeraw`, `cfsetispeed`/`cfsetospeed`, `CLOCAL|CREAD`,
/// `VMIN=1`/`VTIME=0`, `tcsetattr`), read back with `tcgetattr`. Every return code is checked.
///
/// Pseudo-terminals keep the speed but force 8 data bits and no parity; that difference is
/// logged and accepted. On a real tty any difference is a ``SerialError/Code/configuration`` error.
public final class TermiosSerialPort: SerialPort {
    public let name: String
    /// The path after symlink resolution, e.g. `/dev/pts/3`.
    public let resolvedPath: String
    /// The settings that were requested.
    public let settings: SerialSettings
    /// The settings the driver reports after configuration.
    public let effectiveSettings: SerialSettings
    /// True when the device is a pseudo-terminal.
    public let isPseudoTerminal: Bool

    private let fd: Int32
    private let gate: PortGate
    private let writeTimeout: Duration
    private let logger: Logger

    /// Opens and configures the device at `path`.
    /// - Parameters:
    ///   - path: device path as configured; symlinks are resolved.
    ///   - settings: speed and framing.
    ///   - writeTimeout: longest time ``write(_:)`` waits for the driver to accept bytes.
    ///   - logger: receives open/close events with `serial.path` metadata.
    public init(
        path: String, settings: SerialSettings, writeTimeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "station.serial")
    ) throws(SerialError) {
        try settings.validate(path: path)
        let resolved = try DevicePath.resolve(path)
        let kind = try DevicePath.kind(ofResolved: resolved)
        if kind == .notCharacterDevice {
            throw SerialError(
                code: .notASerialDevice, path: path, operation: "open",
                message: resolved == path
                    ? "the path is not a character device"
                    : "the path resolves to \(resolved), which is not a character device",
                hint: "Configure a serial device such as /dev/ttyUSB0 or a /dev/serial/by-id/ name.")
        }

        var descriptor: Int32
        repeat {
            descriptor = open(resolved, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else {
            throw SerialError.posix(errno, path: path, operation: "open \(resolved)")
        }
        let fd = descriptor
        func fail(_ error: SerialError) -> SerialError {
            if closeDescriptor(fd) != 0 {
                logger.debug("close after a failed open reported an error", metadata: ["serial.path": "\(path)"])
            }
            return error
        }

        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            throw fail(
                error == EWOULDBLOCK
                    ? SerialError(
                        code: .busy, path: path, operation: "flock",
                        message: "another open file holds the exclusive lock on \(resolved)",
                        hint: "Another process or port object has the device open: stop it (`fuser -v \(resolved)`).")
                    : SerialError.posix(error, path: path, operation: "flock"))
        }

        var request = settings.shimSettings
        var readback = cserial_line_readback()
        var step = CSERIAL_STEP_NONE
        let rc = cserial_configure_line(fd, &request, &readback, &step)
        guard rc == 0 else {
            throw fail(Self.configurationError(rc, step: step, path: path, settings: settings))
        }
        let effective = Self.settings(from: readback, fallback: settings)
        guard effective.baud == settings.baud else {
            throw fail(
                SerialError(
                    code: .configuration, path: path, operation: "tcsetattr",
                    message: "the driver kept \(readback.baud) baud instead of \(settings.baud)",
                    hint: "Choose a baud rate the adapter supports."))
        }
        if effective != settings {
            if kind == .pseudoTerminal {
                logger.debug(
                    "pseudo-terminal ignores framing",
                    metadata: ["serial.path": "\(path)", "serial.requested": "\(settings)", "serial.effective": "\(effective)"])
            } else {
                throw fail(
                    SerialError(
                        code: .configuration, path: path, operation: "tcsetattr",
                        message: "the driver kept \(effective) instead of \(settings)",
                        hint: "The adapter does not support this framing; check the reader's manual."))
            }
        }

        self.name = path
        self.resolvedPath = resolved
        self.settings = settings
        self.effectiveSettings = effective
        self.isPseudoTerminal = kind == .pseudoTerminal
        self.fd = fd
        self.writeTimeout = writeTimeout
        self.logger = logger
        let closeLogger = logger
        self.gate = PortGate {
            if closeDescriptor(fd) != 0 {
                closeLogger.warning(
                    "close failed", metadata: ["serial.path": "\(path)", "serial.errno": "\(errno)"])
            }
        }
        logger.debug(
            "opened serial port",
            metadata: ["serial.path": "\(path)", "serial.resolved": "\(resolved)", "serial.settings": "\(settings)",
                       "serial.driver": "termios"])
    }

    deinit {
        gate.close()
    }

    /// True after ``close()``.
    public var isClosed: Bool { gate.isClosing }

    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(SerialError) -> Int {
        let fd = self.fd
        let path = self.name
        return try DescriptorIO.read(fd: fd, path: path, gate: gate, into: buffer, timeout: timeout) {
            (target) throws(SerialError) -> DescriptorIO.ReadAttempt in
            try DescriptorIO.posixRead(fd: fd, path: path, into: target)
        }
    }

    public func write(_ bytes: [UInt8]) throws(SerialError) {
        let fd = self.fd
        let path = self.name
        try DescriptorIO.write(fd: fd, path: path, gate: gate, bytes: bytes, timeout: writeTimeout) {
            (chunk) throws(SerialError) -> Int in
            try DescriptorIO.posixWrite(fd: fd, path: path, bytes: chunk)
        }
    }

    public func close() {
        let wasOpen = !gate.isReleased
        gate.close()
        if wasOpen {
            logger.debug("closed serial port", metadata: ["serial.path": "\(name)"])
        }
    }

    /// Modem-control lines (TIOCMGET). Pseudo-terminals have none: ``SerialError/Code/unsupported``.
    public func modemLines() throws(SerialError) -> Int32 {
        let fd = self.fd
        let path = self.name
        return try gate.use(path: path, operation: "TIOCMGET") { () throws(SerialError) -> Int32 in
            var bits: Int32 = 0
            let rc = cserial_modem_bits(fd, &bits)
            if rc == ENOTTY || rc == EINVAL {
                throw SerialError(
                    code: .unsupported, path: path, operation: "TIOCMGET", errno: rc,
                    message: "the device has no modem-control lines (pseudo-terminals never do)",
                    hint: "Use a simulated signal source for dry-contact inputs on virtual devices.")
            }
            if rc != 0 { throw SerialError.posix(rc, path: path, operation: "TIOCMGET") }
            return bits
        }
    }

    // MARK: - Helpers

    static func settings(from readback: cserial_line_readback, fallback: SerialSettings) -> SerialSettings {
        let parity: SerialParity =
            switch readback.parity {
            case CSERIAL_PARITY_ODD: .odd
            case CSERIAL_PARITY_EVEN: .even
            default: .none
            }
        let flow: SerialFlowControl =
            switch readback.flow {
            case CSERIAL_FLOW_RTSCTS: .rtsCts
            case CSERIAL_FLOW_XONXOFF: .xonXoff
            default: .none
            }
        return SerialSettings(
            baud: Int(readback.baud), dataBits: Int(readback.data_bits), parity: parity,
            stopBits: Int(readback.stop_bits), flowControl: flow)
    }

    static func configurationError(
        _ rc: Int32, step: cserial_step, path: String, settings: SerialSettings
    ) -> SerialError {
        let operation: String =
            switch step {
            case CSERIAL_STEP_TCGETATTR: "tcgetattr"
            case CSERIAL_STEP_BAUD: "baud rate"
            case CSERIAL_STEP_CFSETISPEED: "cfsetispeed"
            case CSERIAL_STEP_CFSETOSPEED: "cfsetospeed"
            case CSERIAL_STEP_FRAMING: "framing"
            case CSERIAL_STEP_TCSETATTR: "tcsetattr"
            case CSERIAL_STEP_READBACK: "tcgetattr (read back)"
            default: "configure line"
            }
        if rc == ENOTTY {
            return SerialError(
                code: .notASerialDevice, path: path, operation: operation, errno: rc,
                message: "the device is not a terminal, so it has no serial line settings",
                hint: "Configure a serial device such as /dev/ttyUSB0 or a /dev/serial/by-id/ name.")
        }
        if rc == EINVAL {
            return SerialError(
                code: .configuration, path: path, operation: operation, errno: rc,
                message: "the driver refused the settings \(settings)",
                hint: "Check baud rate and framing against the reader's manual.")
        }
        return SerialError.posix(rc, path: path, operation: operation)
    }
}
