import SerialTransport
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A simulated dry-contact one-key alarm button on an RS-232 modem-control line.
///
/// Pseudo-terminals have no modem lines, so the button writes a small state file
/// (``SerialTransport/ModemLineStateFile``, e.g. `cts=1 dsr=0 dcd=0 ri=0`) that the agent reads
/// with ``SerialTransport/FileModemLines`` when its port is configured as `sim:<path>`
/// (``portPath``). Every change is written with write-to-temp + rename.
///
/// The file holds the **line level**, as the wiring makes it:
/// - normally open: pressed = contact closed = line asserted; at rest the line is low;
/// - normally closed: at rest the contact is closed (line asserted); pressed *or a cut cable*
///   opens it (line low). With normally-open wiring a cut cable looks exactly like a button at
///   rest: the agent cannot tell, as on real hardware.
///
/// With `poweredBy:` set, the file also says which output powers the contact (`source=dtr`): the
/// agent then reads the line asserted only after driving that output high, as on real wiring.
///
/// All methods are thread-safe; changes are applied and written in call order.
///
/// ```swift
/// let button = try VirtualAlarmButton(path: "/tmp/station/button-1.lines")
/// // agent config: port = "sim:/tmp/station/button-1.lines", input = "cts"
/// try button.bounce(times: 6)               // a chattering contact: no alarm
/// try button.press(for: .milliseconds(500)) // a real press
/// ```
public final class VirtualAlarmButton: Sendable {
    /// How the contact is wired.
    public enum Wiring: String, Sendable, Hashable, CaseIterable {
        /// The contact closes when pressed (config `wiring = "normally-open"`).
        case normallyOpen = "normally-open"
        /// The contact opens when pressed (config `wiring = "normally-closed"`): a cut cable alarms too.
        case normallyClosed = "normally-closed"
    }

    /// The state file the agent reads.
    public let statePath: String
    /// The input line the contact is wired to.
    public let line: ModemLine
    /// How the contact is wired.
    public let wiring: Wiring
    /// The output that powers the contact, when the simulation should require it.
    public let poweredBy: ModemOutput?

    private struct State {
        var pressed = false
        var cableCut = false
        var unplugged = false
    }

    private let state = Mutex(State())

    /// Creates the button, released, and writes its state file (creating missing parent directories).
    /// - Parameters:
    ///   - path: the state file, e.g. `/tmp/station/button-1.lines` (a `sim:` prefix is accepted).
    ///   - line: the input the contact is wired to (default CTS).
    ///   - wiring: normally open (default) or normally closed.
    ///   - poweredBy: when set, the line reads asserted only while the agent drives this output high.
    /// - Throws: ``SerialTransport/SerialError`` naming the file when it cannot be written.
    public init(
        path: String, line: ModemLine = .cts, wiring: Wiring = .normallyOpen, poweredBy: ModemOutput? = nil
    ) throws(SerialError) {
        let file = ModemLineStateFile.statePath(forPort: path)
        guard !file.isEmpty else {
            throw SerialError(
                code: .notFound, path: path, operation: "create",
                message: "the alarm button's state file path is empty",
                hint: "Give the button a file path such as /tmp/station/button-1.lines.")
        }
        self.statePath = file
        self.line = line
        self.wiring = wiring
        self.poweredBy = poweredBy
        try Self.createParentDirectories(of: file)
        try state.withLock { (state: inout State) throws(SerialError) in
            try write(state)
        }
    }

    /// The port to configure in the agent: `sim:<statePath>`.
    public var portPath: String { ModemLineOpener.simulatorPrefix + statePath }

    /// The outputs file the agent's ``SerialTransport/FileModemLines`` writes.
    public var outputsPath: String { ModemLineStateFile.outputsPath(forStatePath: statePath) }

    /// True while the button is held.
    public var isPressed: Bool { state.withLock { $0.pressed } }

    /// True after ``cutCable()`` until ``repairCable()``.
    public var isCableCut: Bool { state.withLock { $0.cableCut } }

    /// The line level the file shows now (before the `source` power rule).
    public var lineAsserted: Bool { state.withLock { level(of: $0) } }

    /// Presses the button (and keeps it pressed).
    public func press() throws(SerialError) {
        try update { $0.pressed = true }
    }

    /// Releases the button.
    public func release() throws(SerialError) {
        try update { $0.pressed = false }
    }

    /// Presses, holds for `duration` (blocking the calling thread), releases. Call it from a
    /// dedicated thread, or use ``hold(for:)`` from async code.
    public func press(for duration: Duration) throws(SerialError) {
        try press()
        Self.sleep(duration)
        try release()
    }

    /// Presses, holds for `duration` without blocking a thread, releases. When the task is
    /// cancelled during the hold the button is still released before the error is thrown.
    public func hold(for duration: Duration) async throws {
        try press()
        do {
            try await Task.sleep(for: duration)
        } catch {
            try release()
            throw error
        }
        try release()
    }

    /// Contact bounce: toggles the contact `times` times, `interval` apart (blocking the calling
    /// thread), then leaves it as it was before (an odd count adds one final toggle). Each
    /// toggle is one atomic file write.
    /// - Parameters:
    ///   - times: the number of toggles (negative counts as zero).
    ///   - interval: the pause after each toggle; real contacts bounce for 1 to 20 ms.
    public func bounce(times: Int, interval: Duration = .milliseconds(2)) throws(SerialError) {
        let original = isPressed
        for _ in 0..<max(times, 0) {
            try update { $0.pressed.toggle() }
            Self.sleep(interval)
        }
        if isPressed != original {
            try update { $0.pressed = original }
        }
    }

    /// Cuts the cable between the port and the button: the loop opens. With normally-closed wiring
    /// the agent sees an (alarm) press; with normally-open wiring nothing at all.
    public func cutCable() throws(SerialError) {
        try update { $0.cableCut = true }
    }

    /// Repairs the cable cut by ``cutCable()``.
    public func repairCable() throws(SerialError) {
        try update { $0.cableCut = false }
    }

    /// Unplugs the simulated adapter: removes the state file, so the agent's next read fails with
    /// ``SerialTransport/SerialError/Code/hangup`` and a reopen with `notFound`.
    public func unplug() {
        state.withLock { state in
            state.unplugged = true
            _ = unlink(statePath)
        }
    }

    /// Plugs the simulated adapter back in: writes the state file again.
    public func plugIn() throws(SerialError) {
        try update { $0.unplugged = false }
    }

    /// What the agent drove on the outputs, from the outputs file; empty before the agent opened the
    /// port. Tests use it to check that the contact was powered (`[.dtr: true, .rts: false]`).
    /// - Throws: ``SerialTransport/SerialError`` for an unreadable or malformed file.
    public func drivenOutputs() throws(SerialError) -> [ModemOutput: Bool] {
        let text: String
        do {
            text = try ModemLineStateFile.read(path: outputsPath)
        } catch where error.code == .notFound {
            return [:]
        }
        return try ModemLineStateFile.decodeOutputs(text, path: outputsPath)
    }

    // MARK: - Helpers

    private func update(_ change: (inout State) -> Void) throws(SerialError) {
        try state.withLock { (state: inout State) throws(SerialError) in
            var next = state
            change(&next)
            if !next.unplugged {
                try write(next)
            }
            state = next
        }
    }

    /// The line level for a state: contact closed (and cable intact) = asserted.
    private func level(of state: State) -> Bool {
        let closed =
            switch wiring {
            case .normallyOpen: state.pressed
            case .normallyClosed: !state.pressed
            }
        return closed && !state.cableCut
    }

    private func write(_ state: State) throws(SerialError) {
        var signals = ModemSignals.none
        signals[line] = level(of: state)
        try ModemLineStateFile.writeAtomically(
            ModemLineStateFile.encode(.init(signals: signals, source: poweredBy)), to: statePath)
    }

    private static func sleep(_ duration: Duration) {
        guard duration > .zero else { return }
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR {
            request = remaining
        }
    }

    private static func createParentDirectories(of file: String) throws(SerialError) {
        var prefix = ""
        let components = file.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        if file.hasPrefix("/") { prefix = "" } else { prefix = "." }
        for component in components {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0, errno != EEXIST {
                throw SerialError.posix(errno, path: file, operation: "mkdir \(prefix)")
            }
        }
    }
}
