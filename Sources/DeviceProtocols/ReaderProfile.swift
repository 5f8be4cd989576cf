/// The wire protocol of a serial card reader, as named by `profile = "..."` in the station configuration.
///
/// | profile        | reader                                   | bytes for one card                                   |
/// |----------------|------------------------------------------|------------------------------------------------------|
/// | `rdm6300`      | RDM6300/RDM630 EM4100 125 kHz            | `02`, 10 hex data chars, 2 hex checksum chars, `03`  |
/// | `em18`         | EM-18 EM4100 125 kHz                     | 10 hex data chars, 2 hex checksum chars (no framing) |
/// | `text-hex`     | readers printing a hex UID per line      | 4...20 hex digits (even count), then CR LF           |
/// | `text-decimal` | Wiegand-to-serial converters and similar | 1...20 decimal digits, then CR LF                    |
///
/// The EM4100 checksum is the XOR of the five data bytes. Every profile runs at 9600 8N1.
///
/// ```swift
/// let profile = ReaderProfile(rawValue: "rdm6300")!
/// var decoder = profile.makeDecoder()
/// let frame = try profile.encode(uid: "1A002F4B6C")   // 02 31 41 30 30 32 46 34 42 36 43 31 32 03
/// let cards = decoder.feed(frame)                      // [DecodedCard(uid: "1A002F4B6C", format: .em4100)]
/// ```
public enum ReaderProfile: String, CaseIterable, Sendable, Hashable {
    /// RDM6300 (and RDM630, ID-12 style) EM4100 reader: `STX`, 12 ASCII hex characters, `ETX`.
    case rdm6300 = "rdm6300"
    /// EM-18 EM4100 reader: 12 ASCII hex characters with no start or end byte.
    case em18 = "em18"
    /// A reader that prints the card UID as a line of hexadecimal digits.
    case textHex = "text-hex"
    /// A reader or converter that prints the card number as a line of decimal digits.
    case textDecimal = "text-decimal"

    /// The serial line settings of this reader type: 9600 8N1 for every profile.
    public var line: LineSettings {
        switch self {
        case .rdm6300, .em18, .textHex, .textDecimal: .standard9600
        }
    }

    /// A name for people: logs, the status page, the simulator.
    public var displayName: String {
        switch self {
        case .rdm6300: "RDM6300 (EM4100 125 kHz, STX/ETX framed)"
        case .em18: "EM-18 (EM4100 125 kHz, unframed)"
        case .textHex: "Text line, hexadecimal UID"
        case .textDecimal: "Text line, decimal card number (Wiegand-to-serial)"
        }
    }

    /// The format of the UIDs that this profile's decoder produces.
    public var cardFormat: CardFormat {
        switch self {
        case .rdm6300, .em18: .em4100
        case .textHex: .hex
        case .textDecimal: .decimal
        }
    }

    /// A fresh decoder for a byte stream from a reader of this profile.
    public func makeDecoder() -> CardFrameDecoder {
        CardFrameDecoder(profile: self)
    }

    /// The UID as this profile's decoder reports it: hex upper-cased, decimal unchanged.
    ///
    /// Use it to compare configured or scenario UIDs with decoded ones.
    /// - Throws: ``CardEncodingError`` if `uid` is not a valid UID for this profile.
    public func normalizedUID(_ uid: String) throws(CardEncodingError) -> String {
        ASCII.string(try validatedUID(uid))
    }

    /// The bytes a real reader of this profile sends when the card `uid` is presented once.
    ///
    /// - `rdm6300`: `02`, the 10 upper-case hex characters, the 2 checksum characters, `03` (14 bytes).
    /// - `em18`: the 10 hex characters and the 2 checksum characters (12 bytes).
    /// - `text-hex`: the upper-cased hex UID, then `\r\n`.
    /// - `text-decimal`: the digits as given (leading zeros kept), then `\r\n`.
    ///
    /// The result always decodes to exactly one card with the normalised UID through ``makeDecoder()``.
    /// - Parameter uid: 10 hex digits for `rdm6300`/`em18`, an even number (4...20) of hex digits
    ///   for `text-hex`, 1...20 decimal digits for `text-decimal`. Hex digits may be lower-case.
    /// - Throws: ``CardEncodingError`` if `uid` does not fit the profile.
    public func encode(uid: String) throws(CardEncodingError) -> [UInt8] {
        let normalized = try validatedUID(uid)
        switch self {
        case .rdm6300:
            return [ASCII.stx] + EM4100Code.code(forValidatedUID: normalized) + [ASCII.etx]
        case .em18:
            return EM4100Code.code(forValidatedUID: normalized)
        case .textHex, .textDecimal:
            return normalized + [ASCII.cr, ASCII.lf]
        }
    }

    /// The normalised bytes of `uid`, or an error that says what this profile expects.
    func validatedUID(_ uid: String) throws(CardEncodingError) -> [UInt8] {
        let bytes = Array(uid.utf8)
        switch self {
        case .rdm6300, .em18:
            guard bytes.count == EM4100Code.dataCharacters, bytes.allSatisfy(ASCII.isHexDigit) else {
                throw CardEncodingError(
                    profile: self, uid: uid,
                    reason: "an EM4100 UID is exactly 10 hex digits (0-9, A-F), e.g. \"1A002F4B6C\"; "
                        + "got \(bytes.count) characters"
                )
            }
            return bytes.map(ASCII.upperHex)
        case .textHex:
            guard CardFrameDecoder.hexUIDLengths.contains(bytes.count), bytes.count % 2 == 0,
                  bytes.allSatisfy(ASCII.isHexDigit)
            else {
                throw CardEncodingError(
                    profile: self, uid: uid,
                    reason: "a hex UID is an even number of hex digits (0-9, A-F) between 4 and 20, "
                        + "e.g. \"04A2B3C4\"; got \(bytes.count) characters"
                )
            }
            return bytes.map(ASCII.upperHex)
        case .textDecimal:
            guard CardFrameDecoder.decimalUIDLengths.contains(bytes.count),
                  bytes.allSatisfy(ASCII.isDecimalDigit)
            else {
                throw CardEncodingError(
                    profile: self, uid: uid,
                    reason: "a decimal card number is 1 to 20 digits (0-9), e.g. \"0012345678\"; "
                        + "got \(bytes.count) characters"
                )
            }
            return bytes
        }
    }
}

/// A card UID that cannot be sent or compared under a reader profile.
///
/// The description names the profile, the UID and what the profile expects, e.g.
/// `card UID "12AB" does not fit reader profile "rdm6300": an EM4100 UID is exactly 10 hex digits ...`.
public struct CardEncodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The profile the UID was checked against.
    public let profile: ReaderProfile
    /// The UID as given.
    public let uid: String
    /// What the profile expects, in words.
    public let reason: String

    /// Creates an error.
    public init(profile: ReaderProfile, uid: String, reason: String) {
        self.profile = profile
        self.uid = uid
        self.reason = reason
    }

    public var description: String {
        let shown = uid.count > 40 ? String(uid.prefix(40)) + "..." : uid
        return "card UID \"\(shown)\" does not fit reader profile \"\(profile.rawValue)\": \(reason); "
            + "fix the UID (in the scenario or configuration) or choose the profile that matches the reader"
    }
}
