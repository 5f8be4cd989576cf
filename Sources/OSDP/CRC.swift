/// The two message-check algorithms of OSDP (SIA OSDP 2.2, section 5.9 and Annex E).
public enum OSDPCheck: Sendable, Hashable, CaseIterable {
    /// CRC-16 (polynomial 0x1021, initial value 0x1D0F, no reflection, no final XOR), sent
    /// least-significant byte first. The control byte's bit 2 is set.
    case crc16
    /// The 8-bit checksum: the two's complement of the sum of all bytes. Control bit 2 clear.
    case checksum

    /// The number of check bytes at the end of a frame: 2 for ``crc16``, 1 for ``checksum``.
    public var byteCount: Int { self == .crc16 ? 2 : 1 }

    /// The check bytes for `bytes` (from the start-of-message byte up to the check itself),
    /// in wire order.
    public func bytes(for bytes: some Sequence<UInt8>) -> [UInt8] {
        switch self {
        case .crc16:
            let crc = OSDPCRC16.compute(bytes)
            return [UInt8(truncatingIfNeeded: crc), UInt8(truncatingIfNeeded: crc >> 8)]
        case .checksum:
            return [OSDPChecksum.compute(bytes)]
        }
    }
}

/// CRC-16 as OSDP uses it: polynomial 0x1021, initial value 0x1D0F (CRC-16/AUG-CCITT).
///
/// ```swift
/// OSDPCRC16.compute([0x53, 0x00, 0x09, 0x00, 0x04, 0x61, 0x00]) // 0x66C0, sent as C0 66
/// ```
public enum OSDPCRC16 {
    /// The generator polynomial.
    public static let polynomial: UInt16 = 0x1021
    /// The register's initial value.
    public static let initialValue: UInt16 = 0x1D0F

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ polynomial : crc << 1
        }
        return crc
    }

    /// The CRC of `bytes`.
    public static func compute(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc = initialValue
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }
}

/// The 8-bit OSDP checksum: the two's complement of the modulo-256 sum of the bytes, so that the
/// bytes plus the checksum add up to zero.
public enum OSDPChecksum {
    /// The checksum of `bytes`.
    public static func compute(_ bytes: some Sequence<UInt8>) -> UInt8 {
        var sum: UInt8 = 0
        for byte in bytes { sum &+= byte }
        return 0 &- sum
    }
}
