import CSerialShim

/// Parity bit of a serial line.
public enum SerialParity: String, Sendable, Hashable, CaseIterable {
    case none
    case odd
    case even

    /// The letter used in the usual "8N1" notation.
    public var letter: Character {
        switch self {
        case .none: "N"
        case .odd: "O"
        case .even: "E"
        }
    }
}

/// Flow control of a serial line.
public enum SerialFlowControl: String, Sendable, Hashable, CaseIterable {
    /// No flow control (what card readers use).
    case none
    /// Hardware flow control on the RTS/CTS lines.
    case rtsCts
    /// Software flow control with XON/XOFF bytes (0x11/0x13); unusable for binary protocols.
    case xonXoff
}

/// Line settings of a serial port: speed and framing.
///
/// ```swift
/// let settings = SerialSettings(baud: 115_200)               // 115200 8N1, no flow control
/// let legacy = SerialSettings.default9600_7E1                 // 9600 7E1
/// try settings.validate(path: "/dev/ttyUSB0")
/// ```
public struct SerialSettings: Sendable, Hashable, CustomStringConvertible {
    /// Bits per second, e.g. 9600. Must be a rate termios knows (see ``SerialSettings/supportedBaudRates``).
    public var baud: Int
    /// Data bits per character, 5...8.
    public var dataBits: Int
    /// Parity bit.
    public var parity: SerialParity
    /// Stop bits, 1 or 2.
    public var stopBits: Int
    /// Flow control.
    public var flowControl: SerialFlowControl

    /// Creates line settings; the defaults are 8N1 without flow control.
    public init(
        baud: Int,
        dataBits: Int = 8,
        parity: SerialParity = .none,
        stopBits: Int = 1,
        flowControl: SerialFlowControl = .none
    ) {
        self.baud = baud
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
    }

    /// 9600 baud, 8 data bits, no parity, 1 stop bit: Wiegand-to-RS232 and most 125 kHz readers.
    public static let default9600_8N1 = SerialSettings(baud: 9600)
    /// 19200 8N1.
    public static let default19200_8N1 = SerialSettings(baud: 19_200)
    /// 38400 8N1.
    public static let default38400_8N1 = SerialSettings(baud: 38_400)
    /// 57600 8N1.
    public static let default57600_8N1 = SerialSettings(baud: 57_600)
    /// 115200 8N1: USB CDC readers and OSDP at high speed.
    public static let default115200_8N1 = SerialSettings(baud: 115_200)
    /// 9600 7E1: some older magnetic-stripe and barcode readers.
    public static let default9600_7E1 = SerialSettings(baud: 9600, dataBits: 7, parity: .even)

    /// Baud rates the termios layer can set on this system.
    public static let supportedBaudRates: [Int] = [
        50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19_200, 38_400, 57_600,
        115_200, 230_400, 460_800, 500_000, 576_000, 921_600, 1_000_000, 1_152_000, 1_500_000,
        2_000_000, 2_500_000, 3_000_000, 3_500_000, 4_000_000,
    ].filter { cserial_is_supported_baud(Int32(clamping: $0)) != 0 }

    /// The usual short notation, e.g. `9600 8N1` or `115200 8N1 rts/cts`.
    public var description: String {
        var text = "\(baud) \(dataBits)\(parity.letter)\(stopBits)"
        switch flowControl {
        case .none: break
        case .rtsCts: text += " rts/cts"
        case .xonXoff: text += " xon/xoff"
        }
        return text
    }

    /// Checks that every field is in range before a port is touched.
    /// - Parameter path: the device path named in the error.
    /// - Throws: ``SerialError`` with code ``SerialError/Code/configuration``.
    public func validate(path: String) throws(SerialError) {
        guard baud > 0, baud <= Int(Int32.max), cserial_is_supported_baud(Int32(baud)) != 0 else {
            throw SerialError(
                code: .configuration, path: path, operation: "validate settings",
                message: "baud rate \(baud) is not supported by termios on this system",
                hint: "use one of \(Self.supportedBaudRates.map(String.init).joined(separator: ", "))"
            )
        }
        guard (5...8).contains(dataBits) else {
            throw SerialError(
                code: .configuration, path: path, operation: "validate settings",
                message: "data bits must be 5, 6, 7 or 8, got \(dataBits)",
                hint: "most readers use 8 data bits (8N1)"
            )
        }
        guard stopBits == 1 || stopBits == 2 else {
            throw SerialError(
                code: .configuration, path: path, operation: "validate settings",
                message: "stop bits must be 1 or 2, got \(stopBits)",
                hint: "most readers use 1 stop bit (8N1)"
            )
        }
    }

    var shimSettings: cserial_line_settings {
        let parityCode: Int32 =
            switch parity {
            case .none: CSERIAL_PARITY_NONE
            case .odd: CSERIAL_PARITY_ODD
            case .even: CSERIAL_PARITY_EVEN
            }
        let flowCode: Int32 =
            switch flowControl {
            case .none: CSERIAL_FLOW_NONE
            case .rtsCts: CSERIAL_FLOW_RTSCTS
            case .xonXoff: CSERIAL_FLOW_XONXOFF
            }
        return cserial_line_settings(
            baud: Int32(clamping: baud), data_bits: Int32(clamping: dataBits), parity: parityCode,
            stop_bits: Int32(clamping: stopBits), flow: flowCode)
    }
}
