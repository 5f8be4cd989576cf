/// Byte-level ASCII helpers shared by the decoders and encoders. Internal: no Foundation needed.
enum ASCII {
    static let stx: UInt8 = 0x02
    static let etx: UInt8 = 0x03
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20

    /// The value 0...15 of an ASCII hex digit (either case), or `nil`.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        hexValue(byte) != nil
    }

    static func isDecimalDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// Upper-cases `a`...`f`; every other byte is returned unchanged.
    static func upperHex(_ byte: UInt8) -> UInt8 {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f")) ? byte - 0x20 : byte
    }

    /// The upper-case ASCII hex digit for a nibble 0...15.
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        let n = nibble & 0x0F
        return n < 10 ? UInt8(ascii: "0") + n : UInt8(ascii: "A") + n - 10
    }

    /// Space or tab: trimmed from the ends of text lines.
    static func isBlank(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// Printable ASCII (space to tilde) or tab: what may appear inside a text line.
    static func isLineCharacter(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte <= 0x7E) || byte == tab
    }

    /// `bytes` without leading and trailing spaces and tabs.
    static func trimmedBlanks(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, isBlank(first) { slice.removeFirst() }
        while let last = slice.last, isBlank(last) { slice.removeLast() }
        return slice
    }

    static func string(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

/// The EM4100 ASCII code used by RDM6300 and EM-18 readers: 10 hex characters of data
/// (one version/customer byte and four card-number bytes) followed by 2 hex characters whose
/// value is the XOR of the five data bytes.
enum EM4100Code {
    static let dataCharacters = 10
    static let codeCharacters = 12

    /// The XOR of the five data bytes written as 10 ASCII hex characters.
    /// The caller guarantees that `characters` holds at least 10 hex digits.
    static func checksum(ofDataCharacters characters: some Collection<UInt8>) -> UInt8 {
        var result: UInt8 = 0
        var high: UInt8? = nil
        for character in characters.prefix(dataCharacters) {
            let value = ASCII.hexValue(character) ?? 0
            if let h = high {
                result ^= (h << 4) | value
                high = nil
            } else {
                high = value
            }
        }
        return result
    }

    /// The normalised (upper-case) 10-character UID if `code` is 12 hex characters with a
    /// valid checksum, otherwise `nil`.
    static func checkedUID(_ code: [UInt8]) -> String? {
        guard code.count == codeCharacters,
              let checkHigh = ASCII.hexValue(code[10]),
              let checkLow = ASCII.hexValue(code[11]),
              code.allSatisfy(ASCII.isHexDigit)
        else { return nil }
        guard checksum(ofDataCharacters: code) == (checkHigh << 4) | checkLow else { return nil }
        return ASCII.string(code.prefix(dataCharacters).map(ASCII.upperHex))
    }

    /// The 12 upper-case ASCII characters (data and checksum) for a UID that is already
    /// validated as 10 hex digits.
    static func code(forValidatedUID uid: [UInt8]) -> [UInt8] {
        let data = uid.map(ASCII.upperHex)
        let check = checksum(ofDataCharacters: data)
        return data + [ASCII.hexDigit(check >> 4), ASCII.hexDigit(check)]
    }
}
