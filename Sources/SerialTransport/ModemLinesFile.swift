import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The simulator's modem-line files: the text format, and atomic writes.
///
/// Pseudo-terminals carry no modem-control lines (`TIOCMGET` answers `ENOTTY`), so a simulated
/// dry-contact button is a small **state file** the simulator writes and ``FileModemLines`` reads:
///
/// ```
/// cts=1 dsr=0 dcd=0 ri=0
/// cts=1 dsr=0 dcd=0 ri=0 source=dtr
/// ```
///
/// - Tokens are separated by spaces; each line key (`cts`, `dsr`, `dcd`, `ri`) appears at most
///   once with the value `0` or `1`; a missing key means `0`.
/// - The optional `source=dtr` (or `source=rts`) says which output powers the contact: then a line
///   reads as asserted only while the reader has driven that output high, as on real wiring,
///   so an agent that forgets to power the contact sees no press (or, normally closed, a
///   permanent one) in simulation too.
///
/// The reader records the outputs it was told to drive in the sibling **outputs file**
/// (`<state file>.outputs`, e.g. `dtr=1 rts=0`), so the simulator and tests can see that DTR or
/// RTS was driven. Both files are replaced with write-to-temp + `rename(2)`: a reader never sees
/// half a line.
public enum ModemLineStateFile {
    /// What a state file says.
    public struct Contents: Sendable, Hashable {
        /// The line levels, as they would be with the contact powered.
        public var signals: ModemSignals
        /// The output that must be high for the lines to read asserted; nil = always powered.
        public var source: ModemOutput?

        /// Creates contents.
        public init(signals: ModemSignals, source: ModemOutput? = nil) {
            self.signals = signals
            self.source = source
        }
    }

    /// Longest state or outputs file accepted, in bytes.
    public static let maximumSize = 256

    /// The state file's path for a configured port: `sim:/tmp/b.lines` -> `/tmp/b.lines`.
    public static func statePath(forPort port: String) -> String {
        port.hasPrefix(ModemLineOpener.simulatorPrefix)
            ? String(port.dropFirst(ModemLineOpener.simulatorPrefix.count)) : port
    }

    /// The outputs file beside a state file: `<statePath>.outputs`.
    public static func outputsPath(forStatePath statePath: String) -> String {
        statePath + ".outputs"
    }

    /// The text of a state file, with its final newline: `cts=1 dsr=0 dcd=0 ri=0\n`.
    public static func encode(_ contents: Contents) -> String {
        var text = contents.signals.description
        if let source = contents.source {
            text += " source=\(source.rawValue)"
        }
        return text + "\n"
    }

    /// The text of an outputs file: `dtr=1 rts=0\n`.
    public static func encodeOutputs(_ outputs: [ModemOutput: Bool]) -> String {
        ModemOutput.allCases.map { "\($0.rawValue)=\(outputs[$0] == true ? 1 : 0)" }.joined(separator: " ") + "\n"
    }

    /// Parses a state file's text.
    /// - Parameters:
    ///   - text: the file's content.
    ///   - path: the file, named in errors.
    /// - Throws: ``SerialError`` with code ``SerialError/Code/io`` naming the file and the bad token.
    public static func decode(_ text: String, path: String) throws(SerialError) -> Contents {
        var contents = Contents(signals: .none)
        var seen: Set<String> = []
        // Character.isWhitespace: "\r\n" is one Character, so comparing with "\n" would miss it.
        let tokens = text.split(whereSeparator: \.isWhitespace)
        guard !tokens.isEmpty else {
            throw malformed(path: path, detail: "the file is empty")
        }
        for token in tokens {
            let parts = token.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw malformed(path: path, detail: "\"\(token)\" is not key=value")
            }
            let key = String(parts[0])
            let value = String(parts[1])
            guard seen.insert(key).inserted else {
                throw malformed(path: path, detail: "\"\(key)\" appears twice")
            }
            if let line = ModemLine(rawValue: key) {
                switch value {
                case "0": contents.signals[line] = false
                case "1": contents.signals[line] = true
                default: throw malformed(path: path, detail: "\"\(token)\": a line is 0 or 1")
                }
            } else if key == "source" {
                guard let output = ModemOutput(rawValue: value) else {
                    throw malformed(path: path, detail: "\"\(token)\": the source is dtr or rts")
                }
                contents.source = output
            } else {
                throw malformed(path: path, detail: "unknown key \"\(key)\" (expected cts, dsr, dcd, ri, source)")
            }
        }
        return contents
    }

    /// Parses an outputs file's text (`dtr=1 rts=0`); unknown or malformed tokens are an error.
    public static func decodeOutputs(_ text: String, path: String) throws(SerialError) -> [ModemOutput: Bool] {
        var outputs: [ModemOutput: Bool] = [:]
        for token in text.split(whereSeparator: \.isWhitespace) {
            let parts = token.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let output = ModemOutput(rawValue: String(parts[0])),
                parts[1] == "0" || parts[1] == "1", outputs[output] == nil
            else {
                throw malformed(path: path, detail: "\"\(token)\" is not dtr=0|1 or rts=0|1 (once each)")
            }
            outputs[output] = parts[1] == "1"
        }
        return outputs
    }

    /// Reads a small file (at most ``maximumSize`` bytes).
    /// - Throws: ``SerialError`` from the failing call (`ENOENT` -> ``SerialError/Code/notFound``),
    ///   ``SerialError/Code/io`` for a file that is too large.
    public static func read(path: String) throws(SerialError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw SerialError.posix(errno, path: path, operation: "open")
        }
        defer { _ = systemClose(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: maximumSize + 1)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SerialError.posix(errno, path: path, operation: "read")
            }
            if count == 0 { break }
            bytes += chunk.prefix(count)
            if bytes.count > maximumSize {
                throw malformed(path: path, detail: "the file is longer than \(maximumSize) bytes")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces `path` with `text` atomically: writes a temporary file in the same directory,
    /// then `rename(2)`s it over `path`. A concurrent reader sees the old or the new text, never
    /// a mixture. The temporary file is removed when any step fails.
    /// - Throws: ``SerialError`` naming `path` and the failing call.
    public static func writeAtomically(_ text: String, to path: String) throws(SerialError) {
        let temporary = "\(path).tmp-\(getpid())-\(temporaryCounter.add(1, ordering: .relaxed).newValue)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SerialError.posix(errno, path: path, operation: "open \(temporary)")
        }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes {
                systemWrite(fd, $0.baseAddress! + written, bytes.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                let error = SerialError.posix(errno, path: path, operation: "write \(temporary)")
                _ = systemClose(fd)
                _ = unlink(temporary)
                throw error
            }
            written += count
        }
        guard systemClose(fd) == 0 else {
            let error = SerialError.posix(errno, path: path, operation: "close \(temporary)")
            _ = unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = SerialError.posix(errno, path: path, operation: "rename \(temporary)")
            _ = unlink(temporary)
            throw error
        }
    }

    private static func malformed(path: String, detail: String) -> SerialError {
        SerialError(
            code: .io, path: path, operation: "parse modem-line file",
            message: "malformed simulated modem-line file: \(detail)",
            hint: "The simulator writes \"cts=0 dsr=0 dcd=0 ri=0\" (optionally \" source=dtr\") with "
                + "write-to-temp + rename; do not edit the file in place.")
    }
}

/// Makes temporary file names unique within the process.
private let temporaryCounter = Atomic<UInt64>(0)

// The POSIX calls under names that members called `read`/`close` cannot shadow.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, buffer, count) }
private func systemClose(_ fd: Int32) -> Int32 { close(fd) }

/// The **simulated** modem-line source: reads the line state from a file written by the
/// simulator (`VirtualAlarmButton`), because pseudo-terminals have no modem-control lines.
///
/// - ``init(path:)`` accepts `sim:/tmp/station/button-1.lines` or the plain file path; the state
///   file must exist (``SerialError/Code/notFound`` naming it otherwise). It writes the outputs
///   file with both outputs low, as an unpowered port.
/// - ``signals()`` reads the file on every call. A file that disappears after the open is a
///   simulated unplug: ``SerialError/Code/hangup``, as a pulled USB adapter on real hardware.
/// - ``setOutput(_:high:)`` records DTR/RTS in `<state file>.outputs` (`dtr=1 rts=0`).
///
/// See ``ModemLineStateFile`` for the format.
public final class FileModemLines: ModemLineSource {
    public let name: String
    /// The state file read by ``signals()``.
    public let statePath: String
    /// The outputs file written by ``setOutput(_:high:)``.
    public let outputsPath: String

    private struct State {
        var closed = false
        var outputs: [ModemOutput: Bool] = [.dtr: false, .rts: false]
    }

    private let state = Mutex(State())

    /// Opens the simulated port `path` (`sim:` prefix optional).
    /// - Throws: ``SerialError/Code/notFound`` naming the state file when it does not exist (start the
    ///   simulator's button first), ``SerialError/Code/notASerialDevice`` for a directory,
    ///   ``SerialError/Code/io`` for a malformed file.
    public init(path: String) throws(SerialError) {
        let file = ModemLineStateFile.statePath(forPort: path)
        guard !file.isEmpty else {
            throw SerialError(
                code: .notFound, path: path, operation: "open",
                message: "the simulated port names no state file",
                hint: "Configure the port as sim:/path/to/button.lines, the file the simulator writes.")
        }
        var info = stat()
        guard stat(file, &info) == 0 else {
            let error = errno
            guard error == ENOENT || error == ENOTDIR else {
                throw SerialError.posix(error, path: path, operation: "stat \(file)")
            }
            throw SerialError(
                code: .notFound, path: path, operation: "stat \(file)", errno: error,
                message: "the simulated modem-line state file \(file) does not exist",
                hint: "Start the simulated alarm button first (station-sim creates \(file)), or fix the port path.")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SerialError(
                code: .notASerialDevice, path: path, operation: "stat \(file)",
                message: "\(file) is not a regular file",
                hint: "A sim: port names the state file the simulator writes, e.g. sim:/tmp/station/button-1.lines.")
        }
        _ = try ModemLineStateFile.decode(ModemLineStateFile.read(path: file), path: file)

        self.name = path
        self.statePath = file
        self.outputsPath = ModemLineStateFile.outputsPath(forStatePath: file)
        try ModemLineStateFile.writeAtomically(
            ModemLineStateFile.encodeOutputs([.dtr: false, .rts: false]), to: outputsPath)
    }

    /// The outputs as last set (both low after the open).
    public var outputs: [ModemOutput: Bool] {
        state.withLock { $0.outputs }
    }

    public func setOutput(_ output: ModemOutput, high: Bool) throws(SerialError) {
        let path = name
        let outputsPath = self.outputsPath
        try state.withLock { (state: inout State) throws(SerialError) in
            guard !state.closed else { throw SerialError.closed(path: path, operation: "setOutput \(output.rawValue)") }
            var next = state.outputs
            next[output] = high
            try ModemLineStateFile.writeAtomically(ModemLineStateFile.encodeOutputs(next), to: outputsPath)
            state.outputs = next
        }
    }

    public func signals() throws(SerialError) -> ModemSignals {
        let (closed, outputs) = state.withLock { ($0.closed, $0.outputs) }
        guard !closed else { throw SerialError.closed(path: name, operation: "signals") }
        let text: String
        do {
            text = try ModemLineStateFile.read(path: statePath)
        } catch where error.code == .notFound {
            throw SerialError(
                code: .hangup, path: name, operation: "read \(statePath)", errno: error.errno,
                message: "the simulated device was unplugged: \(statePath) disappeared",
                hint: "The agent reopens the port when the simulator writes the file again.")
        }
        let contents = try ModemLineStateFile.decode(text, path: statePath)
        if let source = contents.source, outputs[source] != true {
            // The contact's loop is unpowered: no current reaches any input.
            return .none
        }
        return contents.signals
    }

    public func close() {
        state.withLock { $0.closed = true }
    }
}
