import CSerialShim

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure on a serial port: what happened, on which device, the OS or libserialport detail,
/// and what to do about it.
///
/// Compare ``code`` to react (``Code/hangup`` means "the device went away, reopen later"):
///
/// ```swift
/// do { n = try port.read(into: buffer, timeout: .milliseconds(100)) }
/// catch where error.code == .hangup { reconnect() }
/// ```
public struct SerialError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. New kinds may be added; switch with a `default`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case notFound, permissionDenied, busy, hangup, configuration, notASerialDevice, io, timeout,
                closed, unsupported, ambiguous
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The device path does not exist (unplugged, wrong name).
        public static let notFound = Code(.notFound)
        /// The process may not open the device (not in the `dialout` group).
        public static let permissionDenied = Code(.permissionDenied)
        /// Another process (or another open in this one) holds the port.
        public static let busy = Code(.busy)
        /// The device went away while open: unplugged USB adapter, killed pty master.
        public static let hangup = Code(.hangup)
        /// The line settings are invalid or the driver refused them.
        public static let configuration = Code(.configuration)
        /// The path exists but is not a terminal (a regular file, a directory, ...).
        public static let notASerialDevice = Code(.notASerialDevice)
        /// Any other input/output failure.
        public static let io = Code(.io)
        /// A write could not complete in time (flow control holding, peer not reading).
        public static let timeout = Code(.timeout)
        /// The port was closed by this process.
        public static let closed = Code(.closed)
        /// The operation is not supported by this device or library.
        public static let unsupported = Code(.unsupported)
        /// A lookup matched more than one device.
        public static let ambiguous = Code(.ambiguous)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// The device path involved, as configured (or as resolved when resolution is the subject).
    public let path: String
    /// The operation that failed, e.g. `open`, `tcsetattr`, `sp_set_config`, `read`.
    public let operation: String
    /// The `errno` value, when an OS call failed.
    public let errno: Int32?
    /// The libserialport `sp_return` code, when a libserialport call failed.
    public let libserialportReturn: Int32?
    /// What happened, in one sentence.
    public let message: String
    /// What to do about it.
    public let hint: String

    /// Creates an error from its parts; prefer ``SerialError/posix(_:path:operation:)`` for OS failures.
    public init(
        code: Code, path: String, operation: String, errno: Int32? = nil, libserialportReturn: Int32? = nil,
        message: String, hint: String
    ) {
        self.code = code
        self.path = path
        self.operation = operation
        self.errno = errno
        self.libserialportReturn = libserialportReturn
        self.message = message
        self.hint = hint
    }

    /// Full text: device, operation, detail codes and advice.
    public var description: String {
        var detail: [String] = []
        if let errno { detail.append("errno \(errno)") }
        if let libserialportReturn { detail.append("sp_return \(libserialportReturn)") }
        let codes = detail.isEmpty ? "" : " (\(detail.joined(separator: ", ")))"
        return "serial port \(path): \(operation): \(message)\(codes) [\(code)]. \(hint)"
    }

    /// Maps an `errno` from an OS call on a serial device to an error with advice.
    /// - Parameters:
    ///   - errorNumber: the `errno` value.
    ///   - path: the device path.
    ///   - operation: the call that failed, e.g. `open`.
    public static func posix(_ errorNumber: Int32, path: String, operation: String) -> SerialError {
        posix(errorNumber, path: path, operation: operation, libserialportReturn: nil, detail: nil)
    }

    /// The errno mapping, with the libserialport return code and message when libserialport failed.
    static func posix(
        _ errorNumber: Int32, path: String, operation: String, libserialportReturn: Int32?, detail: String?
    ) -> SerialError {
        let text = detail ?? systemErrorText(errorNumber)
        let code: Code
        let hint: String
        switch errorNumber {
        case ENOENT, ENODEV, ENXIO:
            code = .notFound
            hint =
                "Is the device plugged in? Check `station-agent ports` for the ports present and "
                + "configure the stable /dev/serial/by-id/ name."
        case EACCES, EPERM:
            code = .permissionDenied
            hint =
                "Add the user running the agent to the dialout group (`sudo usermod -aG dialout USER`, "
                + "then log in again) or install the udev rule from Hardware/serial-transport.md."
        case EBUSY, EWOULDBLOCK:
            code = .busy
            hint =
                "Another process holds the port: stop the other program (`fuser -v \(path)` names it; "
                + "a second agent, a terminal program or ModemManager)."
        case EIO, EPIPE:
            code = .hangup
            hint = "The device was unplugged or lost power; the agent reopens it when it is back."
        case ENOTTY, EISDIR:
            code = .notASerialDevice
            hint = "The path is not a serial device; check the device path in the configuration."
        case EINVAL:
            code = .configuration
            hint = "The driver refused the settings; check baud rate and framing against the reader's manual."
        case ETIMEDOUT:
            code = .timeout
            hint = "The device did not accept data in time; check flow control and the cable."
        case EBADF:
            code = .closed
            hint = "The port was already closed; open it again."
        default:
            code = .io
            hint = "Check the cable and the kernel log (`dmesg`) for USB or driver errors."
        }
        return SerialError(
            code: code, path: path, operation: operation, errno: errorNumber,
            libserialportReturn: libserialportReturn, message: text, hint: hint)
    }

    static func hangup(path: String, operation: String, detail: String) -> SerialError {
        SerialError(
            code: .hangup, path: path, operation: operation,
            message: detail,
            hint: "The device was unplugged or lost power; the agent reopens it when it is back.")
    }

    static func closed(path: String, operation: String) -> SerialError {
        SerialError(
            code: .closed, path: path, operation: operation,
            message: "the port is closed",
            hint: "Open the port again before using it.")
    }
}

/// `strerror` text for an errno value (thread-safe).
func systemErrorText(_ errorNumber: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let rc = buffer.withUnsafeMutableBufferPointer { cserial_error_text(errorNumber, $0.baseAddress, $0.count) }
    guard rc == 0 else { return "error \(errorNumber)" }
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
