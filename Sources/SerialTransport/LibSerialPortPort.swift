import CLibSerialPort
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hardware serial port (USB adapter, CDC-ACM reader, on-board UART) opened with libserialport.
///
/// Opening: `realpath` (libserialport 0.1.1 rejects symlinks such as `/dev/serial/by-id/...`),
/// `sp_get_port_by_name`, `sp_open(SP_MODE_READ_WRITE)`, an exclusive `flock` on the port's fd,
/// then `sp_new_config` + `sp_set_config_baudrate/bits/parity/stopbits/flowcontrol` + `sp_set_config`.
/// Every `sp_return` is checked; errors carry it, `sp_last_error_message` and the device path.
///
/// Reading: libserialport's non-blocking read returns 0 both for "no data" and for an unplugged
/// adapter, so reads `poll()` the fd from `sp_get_port_handle` themselves and report POLLHUP,
/// POLLERR, EIO and end of file as ``SerialError/Code/hangup``.
///
/// libserialport 0.1.1 cannot open pseudo-terminals; ``SerialPortOpener`` sends those to
/// ``TermiosSerialPort``.
public final class LibSerialPortPort: SerialPort {
    public let name: String
    /// The path after symlink resolution, e.g. `/dev/ttyUSB0`.
    public let resolvedPath: String
    /// The settings applied with `sp_set_config`.
    public let settings: SerialSettings

    private let port: PortPointer
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

        var found: OpaquePointer?
        let lookup = sp_get_port_by_name(resolved, &found)
        guard lookup == SP_OK, let portPointer = found else {
            let isPty = (try? DevicePath.kind(ofResolved: resolved)) == .pseudoTerminal
            let base = Self.error(lookup, path: path, operation: "sp_get_port_by_name \(resolved)")
            throw SerialError(
                code: isPty ? .unsupported : .notFound, path: path, operation: base.operation,
                errno: base.errno, libserialportReturn: base.libserialportReturn,
                message: isPty
                    ? "libserialport 0.1.1 cannot open pseudo-terminals (\(base.message))"
                    : "libserialport does not know this device: it lists /sys/class/tty (\(base.message))",
                hint: isPty
                    ? "Open pseudo-terminals with TermiosSerialPort; SerialPortOpener chooses it automatically."
                    : "Is the device plugged in? Check `station-agent ports` for the ports present.")
        }

        let descriptor = try LibSerialPortPort.openExclusive(portPointer, path: path, resolved: resolved, logger: logger)
        func fail(_ error: SerialError) -> SerialError {
            LibSerialPortPort.release(portPointer, path: path, logger: logger)
            return error
        }

        do throws(SerialError) {
            try Self.configure(portPointer, settings: settings, path: path)
        } catch {
            throw fail(error)
        }

        self.name = path
        self.resolvedPath = resolved
        self.settings = settings
        self.port = PortPointer(raw: portPointer)
        self.fd = descriptor
        self.writeTimeout = writeTimeout
        self.logger = logger
        let closeLogger = logger
        let owned = PortPointer(raw: portPointer)
        self.gate = PortGate {
            let closed = sp_close(owned.raw)
            if closed != SP_OK {
                closeLogger.warning(
                    "sp_close failed",
                    metadata: ["serial.path": "\(path)", "serial.sp_return": "\(closed.rawValue)"])
            }
            sp_free_port(owned.raw)
        }
        logger.debug(
            "opened serial port",
            metadata: ["serial.path": "\(path)", "serial.resolved": "\(resolved)", "serial.settings": "\(settings)",
                       "serial.driver": "libserialport"])
    }

    deinit {
        gate.close()
    }

    /// True after ``close()``.
    public var isClosed: Bool { gate.isClosing }

    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(SerialError) -> Int {
        let port = self.port
        let path = self.name
        return try DescriptorIO.read(fd: fd, path: path, gate: gate, into: buffer, timeout: timeout) {
            (target) throws(SerialError) -> DescriptorIO.ReadAttempt in
            // sp_nonblocking_read maps EAGAIN to 0, and end of file is 0 too: errno tells them apart.
            errno = 0
            let rc = sp_nonblocking_read(port.raw, target.baseAddress, target.count)
            if rc.rawValue > 0 { return .bytes(Int(rc.rawValue)) }
            if rc.rawValue == 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .endOfFile }
            throw Self.error(rc, path: path, operation: "sp_nonblocking_read")
        }
    }

    public func write(_ bytes: [UInt8]) throws(SerialError) {
        let port = self.port
        let path = self.name
        try DescriptorIO.write(fd: fd, path: path, gate: gate, bytes: bytes, timeout: writeTimeout) {
            (chunk) throws(SerialError) -> Int in
            let rc = sp_nonblocking_write(port.raw, chunk.baseAddress, chunk.count)
            if rc.rawValue >= 0 { return Int(rc.rawValue) }
            throw Self.error(rc, path: path, operation: "sp_nonblocking_write")
        }
    }

    public func close() {
        let wasOpen = !gate.isReleased
        gate.close()
        if wasOpen {
            logger.debug("closed serial port", metadata: ["serial.path": "\(name)"])
        }
    }

    // MARK: - Helpers

    private static func configure(_ port: OpaquePointer, settings: SerialSettings, path: String) throws(SerialError) {
        var created: OpaquePointer?
        let new = sp_new_config(&created)
        guard new == SP_OK, let config = created else {
            throw error(new, path: path, operation: "sp_new_config")
        }
        defer { sp_free_config(config) }

        func check(_ rc: sp_return, _ operation: String) throws(SerialError) {
            guard rc == SP_OK else {
                let base = error(rc, path: path, operation: operation)
                throw SerialError(
                    code: rc == SP_ERR_ARG ? .configuration : base.code, path: path, operation: operation,
                    errno: base.errno, libserialportReturn: base.libserialportReturn,
                    message: "\(base.message) (requested \(settings))",
                    hint: rc == SP_ERR_ARG
                        ? "The adapter or libserialport refused the settings; check them against the reader's manual."
                        : base.hint)
            }
        }
        try check(sp_set_config_baudrate(config, Int32(settings.baud)), "sp_set_config_baudrate")
        try check(sp_set_config_bits(config, Int32(settings.dataBits)), "sp_set_config_bits")
        let parity: sp_parity =
            switch settings.parity {
            case .none: SP_PARITY_NONE
            case .odd: SP_PARITY_ODD
            case .even: SP_PARITY_EVEN
            }
        try check(sp_set_config_parity(config, parity), "sp_set_config_parity")
        try check(sp_set_config_stopbits(config, Int32(settings.stopBits)), "sp_set_config_stopbits")
        let flow: sp_flowcontrol =
            switch settings.flowControl {
            case .none: SP_FLOWCONTROL_NONE
            case .rtsCts: SP_FLOWCONTROL_RTSCTS
            case .xonXoff: SP_FLOWCONTROL_XONXOFF
            }
        try check(sp_set_config_flowcontrol(config, flow), "sp_set_config_flowcontrol")
        try check(sp_set_config(port, config), "sp_set_config")
    }

    /// Builds an error from a failed libserialport call. SP_ERR_FAIL carries the OS errno
    /// (`sp_last_error_code`); the message can read "Success" on failure, so the code is kept too.
    static func error(_ rc: sp_return, path: String, operation: String) -> SerialError {
        // Read the OS error first: building the message may call functions that change errno.
        let osError = sp_last_error_code()
        let message = lastErrorMessage()
        switch rc {
        case SP_ERR_FAIL:
            return SerialError.posix(
                osError, path: path, operation: operation, libserialportReturn: rc.rawValue,
                detail: "libserialport: \(message)")
        case SP_ERR_ARG:
            return SerialError(
                code: .configuration, path: path, operation: operation, libserialportReturn: rc.rawValue,
                message: "libserialport rejected an argument: \(message)",
                hint: "Run with LIBSERIALPORT_DEBUG=1 to see libserialport's reason.")
        case SP_ERR_MEM:
            return SerialError(
                code: .io, path: path, operation: operation, libserialportReturn: rc.rawValue,
                message: "libserialport ran out of memory",
                hint: "Check the system's memory use.")
        case SP_ERR_SUPP:
            return SerialError(
                code: .unsupported, path: path, operation: operation, libserialportReturn: rc.rawValue,
                message: "the operation is not supported by this device: \(message)",
                hint: "Choose settings the adapter supports.")
        default:
            return SerialError(
                code: .io, path: path, operation: operation, libserialportReturn: rc.rawValue,
                message: "libserialport failed: \(message)",
                hint: "Run with LIBSERIALPORT_DEBUG=1 to see libserialport's reason.")
        }
    }

    static func lastErrorMessage() -> String {
        guard let raw = sp_last_error_message() else { return "no message" }
        defer { sp_free_error_message(raw) }
        return String(cString: raw)
    }
}

/// A libserialport `sp_port *`. The owning port's gate guarantees it is not freed while in use.
struct PortPointer: @unchecked Sendable {
    let raw: OpaquePointer
}

extension LibSerialPortPort {
    /// Opens a looked-up libserialport port read-write, gets its descriptor and takes an
    /// exclusive `flock` on it (one owner per device). On failure the port is closed and freed
    /// and the error says what to do.
    static func openExclusive(
        _ portPointer: OpaquePointer, path: String, resolved: String, logger: Logger
    ) throws(SerialError) -> Int32 {
        let opened = sp_open(portPointer, SP_MODE_READ_WRITE)
        guard opened == SP_OK else {
            let error = Self.error(opened, path: path, operation: "sp_open \(resolved)")
            sp_free_port(portPointer)
            throw error
        }
        var descriptor: Int32 = -1
        let handle = sp_get_port_handle(portPointer, &descriptor)
        guard handle == SP_OK, descriptor >= 0 else {
            release(portPointer, path: path, logger: logger)
            throw Self.error(handle, path: path, operation: "sp_get_port_handle")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            release(portPointer, path: path, logger: logger)
            throw error == EWOULDBLOCK
                ? SerialError(
                    code: .busy, path: path, operation: "flock",
                    message: "another open file holds the exclusive lock on \(resolved)",
                    hint: "Another process or port object has the device open: stop it (`fuser -v \(resolved)`).")
                : SerialError.posix(error, path: path, operation: "flock")
        }
        return descriptor
    }

    /// Closes and frees a port after a failed open (a close error is only logged).
    static func release(_ portPointer: OpaquePointer, path: String, logger: Logger) {
        let closed = sp_close(portPointer)
        if closed != SP_OK {
            logger.debug(
                "sp_close after a failed open reported an error",
                metadata: ["serial.path": "\(path)", "serial.sp_return": "\(closed.rawValue)"])
        }
        sp_free_port(portPointer)
    }
}
