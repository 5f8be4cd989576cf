import CSerialShim
import Logging
import SerialTransport
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pseudo-terminal pair standing in for a serial device: the agent opens ``slavePath``
/// (`/dev/pts/N`) as if it were `/dev/ttyUSB0`; the simulator writes the device's bytes to the
/// master and reads what the agent sends back.
///
/// - The slave is put into RAW mode at once (`cfmakeraw`): otherwise the line discipline echoes,
///   turns CR into LF and holds bytes until a newline.
/// - The pty keeps its own slave descriptor open, so bytes written while the agent is not
///   connected wait in the slave's input queue (about 4 KiB) instead of being lost, and the
///   agent closing its side does not hang up the master.
/// - ``hangUp()`` closes the master: the agent's open slave then sees POLLHUP, end of file and
///   EIO, exactly as when a USB adapter is pulled out.
public final class PseudoTerminal: Sendable {
    /// The slave device the agent opens, e.g. `/dev/pts/3`.
    public let slavePath: String

    /// Longest single poll() while reading, so hangUp() waits at most this long for a reader.
    private static let sliceMilliseconds: Int32 = 20

    private let writerFD: Mutex<Int32>
    private let readerFD: Mutex<Int32>
    private let keeperFD: Mutex<Int32>
    private let logger: Logger

    /// Creates the pair (`posix_openpt`, `grantpt`, `unlockpt`, `ptsname_r`), opens and raw-configures
    /// the slave, and makes the master non-blocking.
    /// - Throws: ``SerialError`` naming the failing call.
    public init(logger: Logger = Logger(label: "station.sim.pty")) throws(SerialError) {
        var master: Int32 = -1
        var pathBuffer = [CChar](repeating: 0, count: 128)
        let created = pathBuffer.withUnsafeMutableBufferPointer {
            cserial_open_pty(&master, $0.baseAddress, $0.count)
        }
        guard created == 0, master >= 0 else {
            throw SerialError.posix(created, path: "/dev/ptmx", operation: "posix_openpt/grantpt/unlockpt/ptsname_r")
        }
        let path = String(decoding: pathBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)

        func fail(_ error: SerialError, closing descriptors: Int32...) -> SerialError {
            for descriptor in descriptors where descriptor >= 0 {
                _ = closeFD(descriptor)
            }
            return error
        }

        let flags = fcntl(master, F_GETFL)
        guard flags >= 0 else {
            throw fail(SerialError.posix(errno, path: path, operation: "fcntl(F_GETFL) on pty master"), closing: master)
        }
        guard fcntl(master, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw fail(SerialError.posix(errno, path: path, operation: "fcntl(F_SETFL) on pty master"), closing: master)
        }

        let keeper = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard keeper >= 0 else {
            throw fail(SerialError.posix(errno, path: path, operation: "open pty slave"), closing: master)
        }
        let raw = cserial_make_raw(keeper)
        guard raw == 0 else {
            throw fail(SerialError.posix(raw, path: path, operation: "cfmakeraw/tcsetattr on pty slave"),
                       closing: master, keeper)
        }

        let reader = dup(master)
        guard reader >= 0 else {
            throw fail(SerialError.posix(errno, path: path, operation: "dup pty master"), closing: master, keeper)
        }
        guard fcntl(reader, F_SETFD, FD_CLOEXEC) == 0 else {
            throw fail(SerialError.posix(errno, path: path, operation: "fcntl(F_SETFD) on pty master"),
                       closing: master, keeper, reader)
        }

        self.slavePath = path
        self.writerFD = Mutex(master)
        self.readerFD = Mutex(reader)
        self.keeperFD = Mutex(keeper)
        self.logger = logger
        logger.debug("created pseudo-terminal", metadata: ["sim.pty": "\(path)"])
    }

    deinit {
        hangUp()
    }

    /// True after ``hangUp()``.
    public var isHungUp: Bool { writerFD.withLock { $0 < 0 } }

    /// Writes `bytes` to the master: the agent reads them from the slave.
    /// - Parameter timeout: how long to wait when the slave's input queue is full (the agent is
    ///   not reading).
    /// - Throws: ``SerialError/Code/closed`` after ``hangUp()``, ``SerialError/Code/timeout``.
    public func write(_ bytes: [UInt8], timeout: Duration = .seconds(1)) throws(SerialError) {
        let path = slavePath
        try writerFD.withLock { (fd: inout Int32) throws(SerialError) in
            guard fd >= 0 else {
                throw SerialError(
                    code: .closed, path: path, operation: "write to pty master",
                    message: "the pseudo-terminal was hung up (device unplugged)",
                    hint: "Create a new pseudo-terminal (VirtualSerialDevice.replug()).")
            }
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: timeout)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { raw in
                    writeFD(fd, raw.baseAddress! + offset, raw.count - offset)
                }
                if written > 0 {
                    offset += written
                    continue
                }
                let error = written < 0 ? errno : EAGAIN
                if error == EINTR { continue }
                guard error == EAGAIN || error == EWOULDBLOCK else {
                    throw SerialError.posix(error, path: path, operation: "write to pty master")
                }
                let remaining = clock.now.duration(to: deadline)
                if remaining <= .zero {
                    throw SerialError(
                        code: .timeout, path: path, operation: "write to pty master",
                        message: "wrote \(offset) of \(bytes.count) bytes; the slave's input queue stayed full",
                        hint: "The agent is not reading this device; check that it opened \(path).")
                }
                var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&descriptor, 1, min(milliseconds(remaining), 50)) < 0, errno != EINTR {
                    throw SerialError.posix(errno, path: path, operation: "poll pty master")
                }
            }
        }
    }

    /// Reads what the agent wrote to the slave, waiting at most `timeout`; empty on timeout.
    /// - Throws: ``SerialError/Code/closed`` after ``hangUp()``.
    public func read(maxCount: Int = 4096, timeout: Duration) throws(SerialError) -> [UInt8] {
        precondition(maxCount > 0, "maxCount must be positive")
        let path = slavePath
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var buffer = [UInt8](repeating: 0, count: maxCount)
        while true {
            let step = readerFD.withLock { (fd: inout Int32) -> Result<Int?, SerialError> in
                guard fd >= 0 else {
                    return .failure(
                        SerialError(
                            code: .closed, path: path, operation: "read from pty master",
                            message: "the pseudo-terminal was hung up (device unplugged)",
                            hint: "Create a new pseudo-terminal (VirtualSerialDevice.replug())."))
                }
                let remaining = clock.now.duration(to: deadline)
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, min(milliseconds(remaining), Self.sliceMilliseconds))
                if ready < 0 {
                    return errno == EINTR ? .success(nil) : .failure(.posix(errno, path: path, operation: "poll pty master"))
                }
                if ready == 0 || descriptor.revents & Int16(POLLIN) == 0 { return .success(nil) }
                let count = buffer.withUnsafeMutableBytes { readFD(fd, $0.baseAddress, $0.count) }
                if count > 0 { return .success(count) }
                if count < 0, errno == EAGAIN || errno == EINTR { return .success(nil) }
                return .failure(
                    SerialError(
                        code: .hangup, path: path, operation: "read from pty master",
                        message: "no slave is open on the pseudo-terminal any more",
                        hint: "Create a new pseudo-terminal (VirtualSerialDevice.replug())."))
            }
            switch step {
            case .failure(let error):
                throw error
            case .success(let count?):
                return Array(buffer[0..<count])
            case .success(nil):
                if clock.now >= deadline { return [] }
            }
        }
    }

    /// Closes the master (and this object's own slave descriptor): the agent's open side sees
    /// POLLHUP, end of file and EIO, like an unplugged USB adapter. Idempotent.
    ///
    /// Bytes written just before the hang-up and not yet read by the agent are discarded by the
    /// kernel, as on real hardware.
    public func hangUp() {
        let path = slavePath
        var failures: [String] = []
        let closedWriter = writerFD.withLock { fd -> Bool in
            guard fd >= 0 else { return false }
            if closeFD(fd) != 0 { failures.append("master: errno \(errno)") }
            fd = -1
            return true
        }
        readerFD.withLock { fd in
            guard fd >= 0 else { return }
            if closeFD(fd) != 0 { failures.append("master duplicate: errno \(errno)") }
            fd = -1
        }
        keeperFD.withLock { fd in
            guard fd >= 0 else { return }
            if closeFD(fd) != 0 { failures.append("slave: errno \(errno)") }
            fd = -1
        }
        if !failures.isEmpty {
            logger.warning(
                "closing the pseudo-terminal reported errors",
                metadata: ["sim.pty": "\(path)", "sim.errors": "\(failures.joined(separator: ", "))"])
        }
        if closedWriter {
            logger.debug("hung up pseudo-terminal", metadata: ["sim.pty": "\(path)"])
        }
    }
}

// The class's own read/write/close names shadow the C functions; these reach them.
private func readFD(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func writeFD(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

private func closeFD(_ fd: Int32) -> Int32 {
    close(fd)
}

/// Whole milliseconds of `duration`, rounded up, clamped to `0...Int32.max`.
func milliseconds(_ duration: Duration) -> Int32 {
    let (seconds, attoseconds) = duration.components
    if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
    if seconds >= Int64(Int32.max / 1000) { return Int32.max }
    return Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
}
