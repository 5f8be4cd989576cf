#if canImport(Glibc)
import Glibc
#endif

/// The service manager's side of the notification socket, for a program that starts the agent
/// itself and must know when it is ready, as systemd knows it for a `Type=notify` unit
/// (`station-agent setup`'s test alarm on a machine without the unit): a datagram socket bound
/// to a path, passed to the child as `NOTIFY_SOCKET`.
public final class NotificationListener: @unchecked Sendable {
    // @unchecked: the descriptor is only read by the one task that waits; deinit closes it.
    /// The socket's path: the child's `NOTIFY_SOCKET`.
    public let path: String
    private let descriptor: Int32

    /// Binds a datagram socket at `path` (at most 107 bytes; an old socket file there is removed).
    public init(path: String) throws(SystemdNotifyError) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw SystemdNotifyError(socket: path, message: "the socket path must be 1 to 107 bytes")
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw SystemdNotifyError(socket: path, message: "socket: \(String(cString: strerror(errno)))")
        }
        unlink(path)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw SystemdNotifyError(socket: path, message: "bind: \(reason)")
        }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
        unlink(path)
    }

    /// Waits until a notification says `READY=1`: true then; false when `alive` turns false
    /// (the child exited), the deadline passes or the task is cancelled. Reads in slices of
    /// 100 ms, giving other tasks their turn in between.
    public func waitForReady(until deadline: ContinuousClock.Instant, while alive: () -> Bool) async -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline, !Task.isCancelled, alive() {
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else {
                await Task.yield()
                continue
            }
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard count > 0 else { continue }
            let lines = String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n")
            if lines.contains("READY=1") { return true }
        }
        return false
    }
}
