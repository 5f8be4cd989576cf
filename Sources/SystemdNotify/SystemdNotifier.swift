import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One assignment of the sd_notify protocol (see `sd_notify(3)`).
public enum NotifyState: Sendable, Hashable {
    /// `READY=1`: start-up is finished; a `Type=notify` unit becomes active.
    case ready
    /// `RELOADING=1`: the service is reloading its configuration (send ``ready`` when done).
    case reloading
    /// `STOPPING=1`: the service is shutting down.
    case stopping
    /// `STATUS=...`: one line shown by `systemctl status`. Line breaks are replaced by spaces.
    case status(String)
    /// `WATCHDOG=1`: the keep-alive ping for `WatchdogSec=`.
    case watchdog
    /// `WATCHDOG=trigger`: asks systemd to act as if the watchdog had expired.
    case watchdogTrigger
    /// `ERRNO=...`: the reason for a failure, as an errno value.
    case errno(Int32)
    /// `MAINPID=...`: the main process of the service, when it is not the sender.
    case mainPID(Int32)
    /// `MONOTONIC_USEC=...`: `CLOCK_MONOTONIC` in microseconds; sent with ``reloading`` so that
    /// systemd can tell this reload from an earlier one.
    case monotonicMicroseconds(UInt64)

    /// The `KEY=value` line this state is sent as.
    public var line: String {
        switch self {
        case .ready: return "READY=1"
        case .reloading: return "RELOADING=1"
        case .stopping: return "STOPPING=1"
        case .status(let text):
            let oneLine = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: " ")
            return "STATUS=" + oneLine
        case .watchdog: return "WATCHDOG=1"
        case .watchdogTrigger: return "WATCHDOG=trigger"
        case .errno(let code): return "ERRNO=\(code)"
        case .mainPID(let pid): return "MAINPID=\(pid)"
        case .monotonicMicroseconds(let value): return "MONOTONIC_USEC=\(value)"
        }
    }
}

/// Why a notification could not be sent.
public struct SystemdNotifyError: Error, Sendable, CustomStringConvertible {
    /// The `NOTIFY_SOCKET` value involved.
    public var socket: String
    /// What failed.
    public var message: String

    public init(socket: String, message: String) {
        self.socket = socket
        self.message = message
    }

    public var description: String { "sd_notify to NOTIFY_SOCKET=\(socket): \(message)" }
}

/// A client of systemd's notification socket, written without libsystemd.
///
/// systemd passes the socket in `NOTIFY_SOCKET` (a file system path, or `@name` for a Linux
/// abstract socket) and the watchdog timeout in `WATCHDOG_USEC` (`WatchdogSec=` in the unit).
/// Outside systemd the variable is absent and every call is a no-op returning `false`.
///
/// ```swift
/// let notifier = SystemdNotifier()
/// try notifier.notify([.ready, .status("reading 2 devices")])
/// // every `notifier.watchdogInterval`, while the agent makes progress (the agent's WatchdogService):
/// try notifier.notify(.watchdog)
/// ```
public struct SystemdNotifier: Sendable {
    /// The `NOTIFY_SOCKET` value, or `nil` when not started by systemd with `Type=notify`.
    public let socket: String?
    /// The full watchdog timeout from `WATCHDOG_USEC`, or `nil` when no watchdog is configured
    /// for this process (absent, zero, unparsable, or `WATCHDOG_PID` names another process).
    public let watchdogTimeout: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    ///
    /// - Parameters:
    ///   - environment: the process environment (injectable for tests).
    ///   - pid: this process's id, compared with `WATCHDOG_PID`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, pid: Int32 = getpid()) {
        let socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        self.socket = socket
        self.watchdogTimeout = Self.watchdogTimeout(
            usec: environment["WATCHDOG_USEC"], watchdogPID: environment["WATCHDOG_PID"], pid: pid)
    }

    /// Whether notifications go anywhere (`NOTIFY_SOCKET` is set).
    public var isEnabled: Bool { socket != nil }

    /// How often to send ``NotifyState/watchdog``: half the watchdog timeout, as `sd_watchdog_enabled(3)`
    /// recommends; `nil` when no watchdog is expected.
    public var watchdogInterval: Duration? { watchdogTimeout.map { $0 / 2 } }

    /// Sends the states as one datagram (lines joined by `\n`).
    ///
    /// - Returns: `true` when sent, `false` when `NOTIFY_SOCKET` is not set.
    /// - Throws: ``SystemdNotifyError`` when the address is unusable or the socket calls fail.
    @discardableResult
    public func notify(_ states: [NotifyState]) throws(SystemdNotifyError) -> Bool {
        guard let socket else { return false }
        guard !states.isEmpty else { return true }
        let message = states.map(\.line).joined(separator: "\n")
        try Self.send(Array(message.utf8), to: socket)
        return true
    }

    /// Sends one state; see ``notify(_:)-([NotifyState])``.
    @discardableResult
    public func notify(_ state: NotifyState) throws(SystemdNotifyError) -> Bool {
        try notify([state])
    }

    // MARK: - Internals

    static func watchdogTimeout(usec: String?, watchdogPID: String?, pid: Int32) -> Duration? {
        if let watchdogPID {
            guard let expected = Int32(watchdogPID), expected == pid else { return nil }
        }
        guard let usec, let micros = UInt64(usec), micros > 0, micros <= UInt64(Int64.max) else { return nil }
        return .microseconds(Int64(micros))
    }

    /// Builds the `sockaddr_un` for a `NOTIFY_SOCKET` value and calls `body` with it and its length.
    static func withAddress<R>(
        of socket: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) throws(SystemdNotifyError) -> R {
        var bytes: [UInt8]
        let abstract: Bool
        if socket.hasPrefix("@") {
            abstract = true
            bytes = [0] + Array(socket.utf8.dropFirst())
        } else if socket.hasPrefix("/") {
            abstract = false
            bytes = Array(socket.utf8)
        } else {
            throw SystemdNotifyError(
                socket: socket,
                message: "only absolute paths and @abstract names are supported (this looks like another transport, e.g. vsock)")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A path needs room for its terminating NUL; an abstract name does not have one.
        guard bytes.count + (abstract ? 0 : 1) <= capacity, bytes.count > (abstract ? 1 : 0) else {
            throw SystemdNotifyError(
                socket: socket, message: "the socket address is empty or longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            raw.copyBytes(from: bytes)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        let length = socklen_t(pathOffset + bytes.count + (abstract ? 0 : 1))
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    static func send(_ message: [UInt8], to socket: String) throws(SystemdNotifyError) {
        #if os(Linux)
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = SOCK_DGRAM
        #endif
        let descriptor = openDatagramSocket(type)
        guard descriptor >= 0 else {
            throw SystemdNotifyError(socket: socket, message: "socket(AF_UNIX, SOCK_DGRAM) failed: \(errorText(errno))")
        }
        defer { close(descriptor) }
        let result: (sent: Int, error: Int32) = try withAddress(of: socket) { address, length in
            message.withUnsafeBytes { buffer in
                var sent: Int
                repeat {
                    sent = sendto(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), address, length)
                } while sent < 0 && errno == EINTR
                return (sent, sent < 0 ? errno : 0)
            }
        }
        guard result.sent >= 0 else {
            throw SystemdNotifyError(
                socket: socket,
                message: "sendto failed: \(errorText(result.error)) (is systemd's socket still there? check the unit's NotifyAccess=)")
        }
        guard result.sent == message.count else {
            throw SystemdNotifyError(socket: socket, message: "sent \(result.sent) of \(message.count) bytes")
        }
    }

    static func errorText(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }
}

private func openDatagramSocket(_ type: Int32) -> Int32 {
    socket(AF_UNIX, type, 0)
}
