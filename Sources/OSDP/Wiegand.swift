/// The Wiegand formats this library decodes.
public enum WiegandFormat: String, Sendable, Hashable, CaseIterable {
    /// 26 bits (HID H10301): even parity, 8-bit facility code, 16-bit card number, odd parity.
    case wiegand26 = "wiegand-26"
    /// 34 bits (HID H10306 layout): even parity, 16-bit facility code, 16-bit card number, odd parity.
    case wiegand34 = "wiegand-34"

    /// The total number of bits.
    public var bitCount: Int { self == .wiegand26 ? 26 : 34 }
    /// The number of facility code bits.
    public var facilityBits: Int { self == .wiegand26 ? 8 : 16 }
    /// The number of card number bits.
    public var cardBits: Int { 16 }
    /// The largest facility code.
    public var maximumFacilityCode: UInt32 { (1 << UInt32(facilityBits)) - 1 }
    /// The largest card number.
    public var maximumCardNumber: UInt32 { (1 << UInt32(cardBits)) - 1 }

    /// The format with `bitCount` bits, if any.
    public init?(bitCount: Int) {
        switch bitCount {
        case 26: self = .wiegand26
        case 34: self = .wiegand34
        default: return nil
        }
    }
}

/// A card decoded from Wiegand bits.
public struct WiegandCard: Sendable, Hashable, CustomStringConvertible {
    /// The format the bits were decoded as.
    public var format: WiegandFormat
    /// The facility (site) code.
    public var facilityCode: UInt32
    /// The card number within the facility.
    public var cardNumber: UInt32

    /// Creates a card.
    public init(format: WiegandFormat, facilityCode: UInt32, cardNumber: UInt32) {
        self.format = format
        self.facilityCode = facilityCode
        self.cardNumber = cardNumber
    }

    /// `FC:card`, e.g. `123:4567`, as printed on many cards.
    public var description: String { "\(facilityCode):\(cardNumber)" }
}

/// The result of decoding Wiegand bits.
public enum WiegandDecoding: Sendable, Hashable {
    /// A card with valid parity.
    case card(WiegandCard)
    /// The length fits a format but a parity bit is wrong (a misread, or another 26/34-bit layout).
    case parityError(WiegandFormat)
    /// The bit count is not 26 or 34; only the raw bits are available.
    case unsupportedLength(Int)

    /// The card, when decoding succeeded.
    public var card: WiegandCard? {
        if case .card(let card) = self { return card }
        return nil
    }
}

/// An encoding request outside the format's range.
public struct WiegandEncodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What does not fit.
    public var message: String

    /// Names the problem.
    public var description: String { message }
}

/// Wiegand 26/34 decoding and encoding.
///
/// Both formats put an even parity bit first, over the first half of the data bits, and an odd
/// parity bit last, over the second half (26 bits: halves of 12 bits; 34 bits: halves of 16).
public enum Wiegand {
    /// Decodes `bits` (first bit first) as Wiegand 26 or 34 depending on their count.
    public static func decode(bits: [Bool]) -> WiegandDecoding {
        guard let format = WiegandFormat(bitCount: bits.count) else { return .unsupportedLength(bits.count) }
        let dataBits = bits.count - 2
        let half = dataBits / 2
        let firstHalf = bits[1...half]
        let secondHalf = bits[(half + 1)...(dataBits)]
        let evenOK = (firstHalf.filter { $0 }.count + (bits[0] ? 1 : 0)) % 2 == 0
        let oddOK = (secondHalf.filter { $0 }.count + (bits[bits.count - 1] ? 1 : 0)) % 2 == 1
        guard evenOK, oddOK else { return .parityError(format) }
        let facility = value(of: bits[1...format.facilityBits])
        let card = value(of: bits[(format.facilityBits + 1)...dataBits])
        return .card(WiegandCard(format: format, facilityCode: facility, cardNumber: card))
    }

    /// The bits of a card in `format`, parity included, first bit first.
    /// - Throws: ``WiegandEncodingError`` when the facility code or card number is too large.
    public static func encode(_ card: WiegandCard) throws(WiegandEncodingError) -> [Bool] {
        let format = card.format
        guard card.facilityCode <= format.maximumFacilityCode else {
            throw WiegandEncodingError(
                message: "facility code \(card.facilityCode) does not fit \(format.rawValue) (at most \(format.maximumFacilityCode))")
        }
        guard card.cardNumber <= format.maximumCardNumber else {
            throw WiegandEncodingError(
                message: "card number \(card.cardNumber) does not fit \(format.rawValue) (at most \(format.maximumCardNumber))")
        }
        let data = bitsOf(card.facilityCode, count: format.facilityBits) + bitsOf(card.cardNumber, count: format.cardBits)
        let half = data.count / 2
        let even = data[0..<half].filter { $0 }.count % 2 == 1
        let odd = data[half...].filter { $0 }.count % 2 == 0
        return [even] + data + [odd]
    }

    private static func value(of bits: ArraySlice<Bool>) -> UInt32 {
        bits.reduce(0) { ($0 << 1) | ($1 ? 1 : 0) }
    }

    private static func bitsOf(_ value: UInt32, count: Int) -> [Bool] {
        (0..<count).map { value & (1 << UInt32(count - 1 - $0)) != 0 }
    }
}
