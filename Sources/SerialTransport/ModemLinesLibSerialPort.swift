import CLibSerialPort
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The modem-control lines of a hardware RS-232 port (USB adapter, on-board UART), through
/// libserialport: `sp_set_dtr`/`sp_set_rts` drive the contact's source, `sp_get_signals` reads
/// CTS/DSR/DCD/RI.
///
/// Opening: `realpath` (libserialport 0.1.1 rejects symlinks such as `/dev/serial/by-id/...`),
/// `sp_get_port_by_name`, `sp_open`, an exclusive `flock` so no second agent or terminal program
/// shares the button, and `sp_set_flowcontrol(NONE)` so the kernel does not drive RTS or watch
/// CTS itself. `sp_open` also sets `CLOCAL`: a falling DCD does not hang up the port. No data
/// is read or written; the line speed is irrelevant.
///
/// Every `sp_return` is checked. After the open, a failure whose cause means the device is gone
/// (`EIO`, `ENODEV`, `ENXIO`, `ENOENT`, or the device node vanished) is
/// ``SerialError/Code/hangup``: reopen later.
///
/// - Important: pseudo-terminals have no modem-control lines (`TIOCMGET` answers `ENOTTY`) and
///   libserialport 0.1.1 cannot open them at all; such a path fails with
///   ``SerialError/Code/unsupported``. Use ``FileModemLines`` (`sim:` ports) for simulation.
public final class LibSerialPortModemLines: ModemLineSource {
    public let name: String
    /// The path after symlink resolution, e.g. `/dev/ttyUSB1`.
    public let resolvedPath: String

    private struct State {
        var closed = false
    }

    private let port: PortPointer
    /// Serialises libserialport calls (sp_set_dtr is a tcgetattr/tcsetattr/ioctl sequence) and close.
    private let state = Mutex(State())
    private let logger: Logger

    /// Opens the hardware port at `path` for its modem-control lines.
    /// - Parameters:
    ///   - path: device path as configured; symlinks are resolved.
    ///   - logger: receives open/close events with `serial.path` metadata.
    /// - Throws: ``SerialError``: ``SerialError/Code/notFound`` naming `path` when it does not exist,
    ///   ``SerialError/Code/unsupported`` for a pseudo-terminal, ``SerialError/Code/busy`` when another
    ///   process holds the port, ``SerialError/Code/permissionDenied`` outside the `dialout` group.
    public init(path: String, logger: Logger) throws(SerialError) {
        let resolved = try DevicePath.resolve(path)

        var found: OpaquePointer?
        let lookup = sp_get_port_by_name(resolved, &found)
        guard lookup == SP_OK, let portPointer = found else {
            let kind = try? DevicePath.kind(ofResolved: resolved)
            let base = LibSerialPortPort.error(lookup, path: path, operation: "sp_get_port_by_name \(resolved)")
            switch kind {
            case .pseudoTerminal:
                throw SerialError(
                    code: .unsupported, path: path, operation: base.operation, errno: base.errno,
                    libserialportReturn: base.libserialportReturn,
                    message: "\(resolved) is a pseudo-terminal: it has no modem-control lines (TIOCMGET answers "
                        + "ENOTTY) and libserialport 0.1.1 cannot open pseudo-terminals (\(base.message))",
                    hint: "Wire the button to a real RS-232 port, or for the simulator configure "
                        + "port = \"sim:/path/to/button.lines\" (FileModemLines).")
            case .notCharacterDevice:
                throw SerialError(
                    code: .notASerialDevice, path: path, operation: base.operation, errno: base.errno,
                    libserialportReturn: base.libserialportReturn,
                    message: "\(resolved) is not a serial device (\(base.message))",
                    hint: "Configure the RS-232 port the button is wired to, e.g. /dev/ttyUSB1, or a sim: file.")
            case .characterDevice, nil:
                throw SerialError(
                    code: .notFound, path: path, operation: base.operation, errno: base.errno,
                    libserialportReturn: base.libserialportReturn,
                    message: "libserialport does not know \(resolved): it lists /sys/class/tty (\(base.message))",
                    hint: "Is the adapter plugged in? `station-agent ports` lists the serial ports present.")
            }
        }

        let descriptor = try LibSerialPortPort.openExclusive(portPointer, path: path, resolved: resolved, logger: logger)
        func fail(_ error: SerialError) -> SerialError {
            LibSerialPortPort.release(portPointer, path: path, logger: logger)
            return error
        }
        let flow = sp_set_flowcontrol(portPointer, SP_FLOWCONTROL_NONE)
        guard flow == SP_OK else {
            throw fail(LibSerialPortPort.error(flow, path: path, operation: "sp_set_flowcontrol(NONE)"))
        }

        self.name = path
        self.resolvedPath = resolved
        self.port = PortPointer(raw: portPointer)
        self.logger = logger
        logger.debug(
            "opened modem lines",
            metadata: ["serial.path": "\(path)", "serial.resolved": "\(resolved)", "serial.driver": "libserialport"])
    }

    /// Opens the hardware port at `path` for its modem-control lines (default logger).
    public convenience init(path: String) throws(SerialError) {
        try self.init(path: path, logger: Logger(label: "station.serial.modem"))
    }

    deinit {
        close()
    }

    public func setOutput(_ output: ModemOutput, high: Bool) throws(SerialError) {
        let operation: String
        let rc: sp_return
        switch output {
        case .dtr:
            operation = "sp_set_dtr(\(high ? "ON" : "OFF"))"
            rc = try locked(operation) { sp_set_dtr($0, high ? SP_DTR_ON : SP_DTR_OFF) }
        case .rts:
            operation = "sp_set_rts(\(high ? "ON" : "OFF"))"
            rc = try locked(operation) { sp_set_rts($0, high ? SP_RTS_ON : SP_RTS_OFF) }
        }
        guard rc == SP_OK else { throw lineError(rc, operation: operation) }
    }

    public func signals() throws(SerialError) -> ModemSignals {
        var mask = sp_signal(rawValue: 0)
        let rc = try locked("sp_get_signals") { sp_get_signals($0, &mask) }
        guard rc == SP_OK else { throw lineError(rc, operation: "sp_get_signals") }
        return ModemSignals(libserialportMask: mask.rawValue)
    }

    public func close() {
        let release = state.withLock { state -> Bool in
            if state.closed { return false }
            state.closed = true
            let closed = sp_close(port.raw)
            if closed != SP_OK {
                logger.warning(
                    "sp_close failed", metadata: ["serial.path": "\(name)", "serial.sp_return": "\(closed.rawValue)"])
            }
            sp_free_port(port.raw)
            return true
        }
        if release {
            logger.debug("closed modem lines", metadata: ["serial.path": "\(name)"])
        }
    }

    // MARK: - Helpers

    /// Runs one libserialport call on the open port, serialised with other calls and close().
    private func locked(
        _ operation: String, _ body: (OpaquePointer) -> sp_return
    ) throws(SerialError) -> sp_return {
        let port = self.port
        let path = name
        return try state.withLock { (state: inout State) throws(SerialError) -> sp_return in
            guard !state.closed else { throw SerialError.closed(path: path, operation: operation) }
            return body(port.raw)
        }
    }

    /// A failed call on the open port: a vanished device becomes ``SerialError/Code/hangup``.
    private func lineError(_ rc: sp_return, operation: String) -> SerialError {
        let base = LibSerialPortPort.error(rc, path: name, operation: operation)
        let goneErrno = base.errno.map { [EIO, ENODEV, ENXIO, ENOENT, EPIPE].contains($0) } ?? false
        let nodeGone = access(resolvedPath, F_OK) != 0
        guard goneErrno || nodeGone || base.code == .hangup else { return base }
        return SerialError(
            code: .hangup, path: name, operation: operation, errno: base.errno,
            libserialportReturn: base.libserialportReturn,
            message: "the device went away (\(nodeGone ? "\(resolvedPath) no longer exists" : base.message))",
            hint: "The adapter was unplugged or lost power; the agent reopens it when it is back. "
                + "Until then the alarm button cannot be read: this is a device fault.")
    }
}

extension ModemSignals {
    /// Maps an `sp_get_signals` bit mask (`SP_SIG_CTS` 1, `SP_SIG_DSR` 2, `SP_SIG_DCD` 4, `SP_SIG_RI` 8)
    /// to line states; other bits are ignored.
    public init(libserialportMask mask: UInt32) {
        self.init(
            cts: mask & SP_SIG_CTS.rawValue != 0, dsr: mask & SP_SIG_DSR.rawValue != 0,
            dcd: mask & SP_SIG_DCD.rawValue != 0, ri: mask & SP_SIG_RI.rawValue != 0)
    }
}
