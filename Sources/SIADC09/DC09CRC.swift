/// The CRC that guards a DC-09 frame: CRC-16/ARC (polynomial 0x8005, reflected in and out,
/// initial value 0, no final XOR), computed over the bytes from the opening quote of the id
/// token through the last character before `<CR>`, and sent as four upper-case hex digits.
///
/// Check value: `DC09CRC.compute(Array("123456789".utf8)) == 0xBB3D`.
public enum DC09CRC {
    /// The CRC-16/ARC of `bytes`.
    public static func compute<Bytes: Sequence>(_ bytes: Bytes) -> UInt16 where Bytes.Element == UInt8 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc >> 8) ^ table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)]
        }
        return crc
    }

    /// The four upper-case hex digits a frame carries for `crc`.
    public static func hexDigits(_ crc: UInt16) -> [UInt8] {
        DC09Hex.digits(UInt64(crc), width: 4)
    }

    /// Reflected polynomial 0xA001, one entry per byte value.
    static let table: [UInt16] = (0..<256).map { index in
        var value = UInt16(index)
        for _ in 0..<8 {
            value = (value & 1) != 0 ? (value >> 1) ^ 0xA001 : value >> 1
        }
        return value
    }
}

/// Hex helpers for the ASCII fields of a frame.
enum DC09Hex {
    static let upper: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// `value` as `width` upper-case hex digits (the high digits are cut if it does not fit).
    static func digits(_ value: UInt64, width: Int) -> [UInt8] {
        (0..<width).reversed().map { upper[Int((value >> (UInt64($0) * 4)) & 0xF)] }
    }

    /// The value of one ASCII hex digit (either case), or nil.
    static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    static func isHexDigit(_ byte: UInt8) -> Bool { value(byte) != nil }

    /// The number written by `bytes` in hex, or nil if any byte is not a hex digit.
    static func parse<Bytes: Collection>(_ bytes: Bytes) -> UInt64? where Bytes.Element == UInt8 {
        guard !bytes.isEmpty, bytes.count <= 16 else { return nil }
        var result: UInt64 = 0
        for byte in bytes {
            guard let digit = value(byte) else { return nil }
            result = result << 4 | UInt64(digit)
        }
        return result
    }

    /// Bytes as upper-case hex text, two digits per byte.
    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(upper[Int(byte >> 4)])
            out.append(upper[Int(byte & 0xF)])
        }
        return out
    }

    /// Hex text (either case) as bytes, or nil if the length is odd or a character is not hex.
    static func decode<Text: Collection>(_ text: Text) -> [UInt8]? where Text.Element == UInt8 {
        guard text.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var iterator = text.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = value(high), let l = value(low) else { return nil }
            out.append(h << 4 | l)
        }
        return out
    }
}
