#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// poll()-driven reads and writes on a non-blocking descriptor, shared by the termios and the
/// libserialport ports. The actual read/write call is passed in, so libserialport's
/// `sp_nonblocking_read` and plain `read(2)` get the same hang-up detection.
enum DescriptorIO {
    /// Result of one non-blocking read call.
    enum ReadAttempt {
        case bytes(Int)
        case wouldBlock
        case endOfFile
    }

    /// Waits up to `timeout` for data, then reads what is there.
    ///
    /// Hang-up rules (USB unplug, pty master closed): POLLHUP or POLLERR without POLLIN, a read
    /// returning 0 after poll said readable (end of file), or EIO, all throw `.hangup`.
    /// Buffered data is still delivered first when POLLIN is set together with POLLHUP.
    static func read(
        fd: Int32, path: String, gate: PortGate, into buffer: UnsafeMutableRawBufferPointer, timeout: Duration,
        attempt: (UnsafeMutableRawBufferPointer) throws(SerialError) -> ReadAttempt
    ) throws(SerialError) -> Int {
        guard buffer.count > 0 else { return 0 }
        return try gate.use(path: path, operation: "read") { () throws(SerialError) -> Int in
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: timeout)
            while true {
                if gate.isClosing { throw SerialError.closed(path: path, operation: "read") }
                let remaining = clock.now.duration(to: deadline).clampedMilliseconds
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, min(remaining, PortGate.sliceMilliseconds))
                if ready < 0 {
                    let error = errno
                    if error == EINTR { continue }
                    throw SerialError.posix(error, path: path, operation: "poll")
                }
                if ready == 0 {
                    if clock.now >= deadline { return 0 }
                    continue
                }
                let events = Int32(descriptor.revents)
                if events & Int32(POLLNVAL) != 0 {
                    throw SerialError.closed(path: path, operation: "poll")
                }
                if events & Int32(POLLIN) != 0 {
                    switch try attempt(buffer) {
                    case .bytes(let count):
                        return count
                    case .wouldBlock:
                        if clock.now >= deadline { return 0 }
                        continue
                    case .endOfFile:
                        throw SerialError.hangup(
                            path: path, operation: "read",
                            detail: "end of file after poll reported data: the device is gone")
                    }
                }
                if events & Int32(POLLHUP | POLLERR) != 0 {
                    let which = events & Int32(POLLHUP) != 0 ? "POLLHUP" : "POLLERR"
                    throw SerialError.hangup(
                        path: path, operation: "poll", detail: "poll reported \(which): the device is gone")
                }
            }
        }
    }

    /// Writes every byte, waiting for POLLOUT when the driver's buffer is full; throws `.timeout`
    /// when `timeout` passes with bytes still unwritten.
    ///
    /// - Parameter attempt: one non-blocking write; returns the count written (0 = would block).
    static func write(
        fd: Int32, path: String, gate: PortGate, bytes: [UInt8], timeout: Duration,
        attempt: (UnsafeRawBufferPointer) throws(SerialError) -> Int
    ) throws(SerialError) {
        guard !bytes.isEmpty else { return }
        try gate.use(path: path, operation: "write") { () throws(SerialError) in
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: timeout)
            var offset = 0
            while offset < bytes.count {
                if gate.isClosing { throw SerialError.closed(path: path, operation: "write") }
                let outcome = bytes.withUnsafeBytes { raw in
                    Result { () throws(SerialError) -> Int in
                        try attempt(UnsafeRawBufferPointer(rebasing: raw[offset...]))
                    }
                }
                let written = try outcome.get()
                if written > 0 {
                    offset += written
                    continue
                }
                let remaining = clock.now.duration(to: deadline).clampedMilliseconds
                if remaining == 0 {
                    throw SerialError(
                        code: .timeout, path: path, operation: "write",
                        message: "wrote \(offset) of \(bytes.count) bytes before the timeout of \(timeout)",
                        hint: "The device does not take data: check flow control settings and the cable.")
                }
                var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&descriptor, 1, min(remaining, PortGate.sliceMilliseconds))
                if ready < 0 {
                    let error = errno
                    if error == EINTR { continue }
                    throw SerialError.posix(error, path: path, operation: "poll")
                }
                let events = Int32(descriptor.revents)
                if ready > 0, events & Int32(POLLOUT) == 0, events & Int32(POLLHUP | POLLERR) != 0 {
                    throw SerialError.hangup(
                        path: path, operation: "write", detail: "poll reported a hang-up while writing")
                }
            }
        }
    }

    /// One `read(2)` on a non-blocking descriptor.
    static func posixRead(
        fd: Int32, path: String, into buffer: UnsafeMutableRawBufferPointer
    ) throws(SerialError) -> ReadAttempt {
        while true {
            let count = systemRead(fd, buffer.baseAddress, buffer.count)
            if count > 0 { return .bytes(count) }
            if count == 0 { return .endOfFile }
            let error = errno
            switch error {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: throw SerialError.posix(error, path: path, operation: "read")
            }
        }
    }

    /// One `write(2)` on a non-blocking descriptor; 0 means "would block".
    static func posixWrite(fd: Int32, path: String, bytes: UnsafeRawBufferPointer) throws(SerialError) -> Int {
        while true {
            let count = systemWrite(fd, bytes.baseAddress, bytes.count)
            if count >= 0 { return count }
            let error = errno
            switch error {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default: throw SerialError.posix(error, path: path, operation: "write")
            }
        }
    }
}

// `DescriptorIO.read`/`write` shadow the C functions inside the enum; these reach them.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// `close(2)`, reachable from types that have a `close()` method of their own.
func closeDescriptor(_ fd: Int32) -> Int32 {
    close(fd)
}
