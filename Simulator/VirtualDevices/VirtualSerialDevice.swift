import Foundation
import Logging
import SerialTransport
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A simulated serial device with a stable name, like a udev `/dev/serial/by-id/...` link:
/// ``linkPath`` (e.g. `/tmp/station-sim/reader-1`) is a symlink to the current pseudo-terminal
/// slave (`/dev/pts/N`). The agent is configured with ``linkPath`` and resolves it on each open.
///
/// ``unplug()`` hangs the pseudo-terminal up (the agent's open port reports a hang-up) and removes
/// the link (the agent's reopen attempts fail with "not found"); ``replug()`` creates a new
/// pseudo-terminal (usually a different `/dev/pts/N`) and re-points the link, as udev does when
/// an adapter comes back. All methods are thread-safe.
///
/// ```swift
/// let device = try VirtualSerialDevice(linkPath: "/tmp/station-sim/reader-1")
/// try device.send(Array("04A2B3C4\r\n".utf8))
/// device.unplug()
/// try device.replug()
/// ```
public final class VirtualSerialDevice: Sendable {
    /// The stable symlink path the agent opens.
    public let linkPath: String

    private struct State {
        var terminal: PseudoTerminal?
        var plugCount = 0
    }

    private let state: Mutex<State>
    private let logger: Logger

    /// Creates the device plugged in: a new pseudo-terminal and the link to it. An existing
    /// symlink at `linkPath` is replaced; any other existing file is refused.
    /// - Parameter linkPath: absolute path of the link; missing parent directories are created.
    public init(linkPath: String, logger: Logger = Logger(label: "station.sim.serial")) throws(SerialError) {
        self.linkPath = linkPath
        self.logger = logger
        self.state = Mutex(State())
        try replug()
    }

    deinit {
        unplug()
    }

    /// True between ``replug()`` (or creation) and ``unplug()``.
    public var isPluggedIn: Bool { state.withLock { $0.terminal != nil } }

    /// The pseudo-terminal slave the link points at now, nil while unplugged.
    public var currentSlavePath: String? { state.withLock { $0.terminal?.slavePath } }

    /// How many times the device was plugged in (1 after creation).
    public var plugCount: Int { state.withLock { $0.plugCount } }

    /// Sends bytes as the device: the agent reads them from ``linkPath``.
    /// - Throws: ``SerialError/Code/closed`` while unplugged; ``SerialError/Code/timeout`` when
    ///   the agent has not read the last ~4 KiB.
    public func send(_ bytes: [UInt8]) throws(SerialError) {
        try currentTerminal(operation: "send").write(bytes)
    }

    /// Reads what the agent wrote to the device, waiting at most `timeout`; empty on timeout.
    public func receive(maxCount: Int = 4096, timeout: Duration) throws(SerialError) -> [UInt8] {
        try currentTerminal(operation: "receive").read(maxCount: maxCount, timeout: timeout)
    }

    /// Simulates pulling the plug: hangs the pseudo-terminal up and removes the link. Idempotent.
    public func unplug() {
        let terminal = state.withLock { state -> PseudoTerminal? in
            let current = state.terminal
            state.terminal = nil
            return current
        }
        guard let terminal else { return }
        terminal.hangUp()
        if unlink(linkPath) != 0, errno != ENOENT {
            logger.warning(
                "could not remove the device link",
                metadata: ["sim.link": "\(linkPath)", "sim.errno": "\(errno)"])
        }
        logger.info("unplugged virtual device", metadata: ["sim.link": "\(linkPath)", "sim.pty": "\(terminal.slavePath)"])
    }

    /// Simulates plugging the device (back) in: a new pseudo-terminal, and the link atomically
    /// re-pointed to it. When the device is plugged in, the old pseudo-terminal is hung up first.
    public func replug() throws(SerialError) {
        let terminal = try PseudoTerminal(logger: logger)
        let previous: PseudoTerminal?
        do throws(SerialError) {
            previous = try state.withLock { (state) throws(SerialError) -> PseudoTerminal? in
                try Self.pointLink(linkPath, to: terminal.slavePath)
                let old = state.terminal
                state.terminal = terminal
                state.plugCount += 1
                return old
            }
        } catch {
            terminal.hangUp()
            throw error
        }
        previous?.hangUp()
        logger.info("plugged in virtual device", metadata: ["sim.link": "\(linkPath)", "sim.pty": "\(terminal.slavePath)"])
    }

    private func currentTerminal(operation: String) throws(SerialError) -> PseudoTerminal {
        guard let terminal = state.withLock({ $0.terminal }) else {
            throw SerialError(
                code: .closed, path: linkPath, operation: operation,
                message: "the virtual device is unplugged",
                hint: "Call replug() before sending.")
        }
        return terminal
    }

    /// Creates or replaces the symlink `link` -> `target` atomically (symlink to a temporary
    /// name in the same directory, then rename over the link).
    static func pointLink(_ link: String, to target: String) throws(SerialError) {
        guard link.hasPrefix("/") else {
            throw SerialError(
                code: .configuration, path: link, operation: "create device link",
                message: "the link path must be absolute",
                hint: "Use a path such as /tmp/station-sim/reader-1.")
        }
        var info = stat()
        if lstat(link, &info) == 0, (info.st_mode & S_IFMT) != S_IFLNK {
            throw SerialError(
                code: .configuration, path: link, operation: "create device link",
                message: "a file that is not a symlink already exists there; refusing to replace it",
                hint: "Choose a link path in a directory of its own, e.g. /tmp/station-sim/reader-1.")
        }
        let directory = (link as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SerialError(
                code: .io, path: link, operation: "create link directory",
                message: "could not create \(directory): \(error)",
                hint: "Choose a writable directory for the simulator's device links.")
        }
        let temporary = "\(link).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard symlink(target, temporary) == 0 else {
            throw SerialError.posix(errno, path: temporary, operation: "symlink")
        }
        guard rename(temporary, link) == 0 else {
            let error = errno
            _ = unlink(temporary)
            throw SerialError.posix(error, path: link, operation: "rename device link")
        }
    }
}
