/// The serial line settings a card reader talks with.
///
/// All profiles supported today use 9600 baud, 8 data bits, no parity and 1 stop bit
/// (``standard9600``, written "9600 8N1"). The serial transport applies these when it opens the port.
public struct LineSettings: Sendable, Hashable, CustomStringConvertible {
    /// Parity bit setting of a serial line.
    ///
    /// Nested in ``LineSettings`` so that it does not clash with a transport's own parity type.
    public enum Parity: String, Sendable, Hashable, CaseIterable {
        case none
        case odd
        case even

        /// The letter used in the usual "8N1" shorthand: `N`, `O` or `E`.
        public var letter: Character {
            switch self {
            case .none: "N"
            case .odd: "O"
            case .even: "E"
            }
        }
    }

    /// Bits per second, e.g. `9600`.
    public var baud: Int
    /// Data bits per character, usually `8`.
    public var dataBits: Int
    /// Parity bit setting.
    public var parity: Parity
    /// Stop bits per character, `1` or `2`.
    public var stopBits: Int

    /// Creates line settings.
    public init(baud: Int, dataBits: Int, parity: Parity, stopBits: Int) {
        self.baud = baud
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
    }

    /// 9600 baud, 8 data bits, no parity, 1 stop bit.
    public static let standard9600 = LineSettings(baud: 9600, dataBits: 8, parity: .none, stopBits: 1)

    /// The usual shorthand, e.g. `"9600 8N1"`.
    public var description: String {
        "\(baud) \(dataBits)\(parity.letter)\(stopBits)"
    }
}
