#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An RS-232 modem-control *input* of a DTE port (what a PC or kiosk board reads).
///
/// DB9 pins: DCD 1, DSR 6, CTS 8, RI 9. A dry-contact button wired from a driven output
/// (``ModemOutput``) through a resistor to one of these reads as `true` while the contact is closed.
public enum ModemLine: String, Sendable, Hashable, CaseIterable {
    /// Clear To Send, DB9 pin 8.
    case cts
    /// Data Set Ready, DB9 pin 6.
    case dsr
    /// Data Carrier Detect, DB9 pin 1.
    case dcd
    /// Ring Indicator, DB9 pin 9.
    case ri

    /// The pin on a DB9 (DE-9) male connector of a PC-style (DTE) port.
    public var db9Pin: Int {
        switch self {
        case .cts: 8
        case .dsr: 6
        case .dcd: 1
        case .ri: 9
        }
    }
}

/// An RS-232 modem-control *output* of a DTE port, used as the source that powers a dry contact.
///
/// DB9 pins: DTR 4, RTS 7. "High" means asserted: about +5 to +12 V on the pin.
public enum ModemOutput: String, Sendable, Hashable, CaseIterable {
    /// Data Terminal Ready, DB9 pin 4.
    case dtr
    /// Request To Send, DB9 pin 7.
    case rts

    /// The pin on a DB9 (DE-9) male connector of a PC-style (DTE) port.
    public var db9Pin: Int {
        switch self {
        case .dtr: 4
        case .rts: 7
        }
    }
}

/// A snapshot of the four modem-control inputs; `true` = asserted (positive voltage on the pin).
public struct ModemSignals: Sendable, Hashable, CustomStringConvertible {
    /// Clear To Send (pin 8).
    public var cts: Bool
    /// Data Set Ready (pin 6).
    public var dsr: Bool
    /// Data Carrier Detect (pin 1).
    public var dcd: Bool
    /// Ring Indicator (pin 9).
    public var ri: Bool

    /// Creates a snapshot; every line defaults to not asserted.
    public init(cts: Bool = false, dsr: Bool = false, dcd: Bool = false, ri: Bool = false) {
        self.cts = cts
        self.dsr = dsr
        self.dcd = dcd
        self.ri = ri
    }

    /// All four lines not asserted.
    public static let none = ModemSignals()

    /// The state of one line: `signals[.cts]`.
    public subscript(line: ModemLine) -> Bool {
        get {
            switch line {
            case .cts: cts
            case .dsr: dsr
            case .dcd: dcd
            case .ri: ri
            }
        }
        set {
            switch line {
            case .cts: cts = newValue
            case .dsr: dsr = newValue
            case .dcd: dcd = newValue
            case .ri: ri = newValue
            }
        }
    }

    /// `cts=1 dsr=0 dcd=0 ri=0`: the same text as the simulator's state file.
    public var description: String {
        ModemLine.allCases.map { "\($0.rawValue)=\(self[$0] ? 1 : 0)" }.joined(separator: " ")
    }
}

/// Something that drives DTR/RTS and reads CTS/DSR/DCD/RI: a real port
/// (``LibSerialPortModemLines``) or the simulator's state file (``FileModemLines``).
///
/// Calls are short (an ioctl or a small file read) and thread-safe; poll ``signals()`` every
/// few milliseconds from a dedicated thread or a timer, and feed the line into a
/// `DeviceProtocols.DryContactDetector`.
public protocol ModemLineSource: AnyObject, Sendable {
    /// The port as configured, e.g. `/dev/ttyUSB1` or `sim:/tmp/station/button-1.lines`.
    var name: String { get }
    /// Drives an output line: `high` asserts it (about +5 to +12 V), powering the contact.
    /// - Throws: ``SerialError``; ``SerialError/Code/hangup`` when the device went away,
    ///   ``SerialError/Code/closed`` after ``close()``.
    func setOutput(_ output: ModemOutput, high: Bool) throws(SerialError)
    /// Reads the four input lines now.
    /// - Throws: ``SerialError``; ``SerialError/Code/hangup`` when the device went away,
    ///   ``SerialError/Code/closed`` after ``close()``.
    func signals() throws(SerialError) -> ModemSignals
    /// Releases the port. Idempotent; later calls throw ``SerialError/Code/closed``.
    func close()
}

/// Opens the modem-line source that can handle a configured port.
///
/// The rule:
/// - a path starting with `sim:` (`sim:/tmp/station/button-1.lines`), or a path that is a regular
///   file, is the simulator's state file: ``FileModemLines``;
/// - anything else (`/dev/ttyUSB1`, `/dev/serial/by-id/...`) is a serial device:
///   ``LibSerialPortModemLines``. A pseudo-terminal fails there with
///   ``SerialError/Code/unsupported``: ptys have no modem-control lines at all.
///
/// ```swift
/// let lines = try ModemLineOpener.open(path: config.port)
/// try lines.setOutput(.dtr, high: true)          // power the contact
/// let pushed = try lines.signals()[.cts]
/// ```
public enum ModemLineOpener {
    /// The prefix that marks a simulated port.
    public static let simulatorPrefix = "sim:"

    /// Opens `path` with the implementation the rule above picks.
    public static func open(path: String) throws(SerialError) -> any ModemLineSource {
        if isSimulated(path) {
            return try FileModemLines(path: path)
        }
        return try LibSerialPortModemLines(path: path)
    }

    /// True when ``open(path:)`` would use ``FileModemLines``: a `sim:` prefix, or an existing
    /// regular file (symlinks followed).
    public static func isSimulated(_ path: String) -> Bool {
        if path.hasPrefix(simulatorPrefix) { return true }
        guard !path.isEmpty else { return false }
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) == S_IFREG
    }
}
