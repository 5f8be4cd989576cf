/// The security block of a frame (control bit 3): its type (`SCS_11`...`SCS_18`) and data.
public struct OSDPSecurityBlock: Sendable, Hashable {
    /// The security block types of SIA OSDP 2.2, Annex D.
    public enum BlockType: UInt8, Sendable, Hashable, CaseIterable {
        /// CP → PD `osdp_CHLNG`; data: key selector (0 = SCBK-D, 1 = SCBK).
        case challenge = 0x11
        /// PD → CP `osdp_CCRYPT`; data: key selector.
        case clientCryptogram = 0x12
        /// CP → PD `osdp_SCRYPT`; data: key selector.
        case serverCryptogram = 0x13
        /// PD → CP `osdp_RMAC_I`; data: 1 = server cryptogram accepted, anything else rejected.
        case initialRMAC = 0x14
        /// CP → PD, secure session, MAC only (command without data).
        case commandMAC = 0x15
        /// PD → CP, secure session, MAC only (reply without data).
        case replyMAC = 0x16
        /// CP → PD, secure session, MAC and encrypted data.
        case commandMACEncrypted = 0x17
        /// PD → CP, secure session, MAC and encrypted data.
        case replyMACEncrypted = 0x18

        /// True for the four session types, whose frames carry a 4-byte MAC before the check.
        public var carriesMAC: Bool { rawValue >= 0x15 }
        /// True for the two types whose data (after the code byte) is AES-CBC encrypted.
        public var isEncrypted: Bool { self == .commandMACEncrypted || self == .replyMACEncrypted }
    }

    /// The raw type byte (kept raw so that frames with unknown types can still be decoded and NAKed).
    public var type: UInt8
    /// The block's data after the length and type bytes (the key selector or status byte, or empty).
    public var data: [UInt8]

    /// Creates a security block.
    public init(type: UInt8, data: [UInt8] = []) {
        self.type = type
        self.data = data
    }

    /// Creates a security block of a known type.
    public init(_ type: BlockType, data: [UInt8] = []) {
        self.init(type: type.rawValue, data: data)
    }

    /// The known type, nil for a type byte outside `0x11...0x18`.
    public var blockType: BlockType? { BlockType(rawValue: type) }

    /// The length byte as sent: 2 + the data length.
    public var lengthByte: UInt8 { UInt8(truncatingIfNeeded: 2 + data.count) }
}

/// One OSDP frame (SIA OSDP 2.2, section 5.9): what travels between the start-of-message byte and
/// the check, decoded into fields.
///
/// ```
/// [FF] 53 ADDR LEN_LSB LEN_MSB CTRL [SCB_LEN SCB_TYPE SCB_DATA...] CODE DATA... [MAC0..3] CHECK
/// ```
/// - `ADDR`: 0...0x7E a PD, 0x7F broadcast; replies set bit 7.
/// - `LEN`: the whole frame from `53` up to and including the check, without the `FF` mark.
/// - `CTRL`: bits 0-1 sequence number, bit 2 CRC-16 (else checksum), bit 3 security block present.
/// - `MAC`: the first 4 bytes of the 16-byte MAC, present for security block types 0x15...0x18.
///
/// ``data`` holds the bytes as they are on the wire: for encrypted frames the ciphertext, which
/// ``OSDPSecureSession`` turns back into plain text.
public struct OSDPPacket: Sendable, Hashable {
    /// The start-of-message byte.
    public static let startOfMessage: UInt8 = 0x53
    /// The mark byte sent before a frame to drive the line to marking state.
    public static let mark: UInt8 = 0xFF
    /// The broadcast address.
    public static let broadcastAddress: UInt8 = 0x7F
    /// The largest frame length OSDP allows (section 5.6: 1440 bytes).
    public static let maximumLength = 1440
    /// The bytes before the security block or code: SOM, address, 2 length bytes, control.
    public static let headerLength = 5

    /// The PD address, 0...0x7F (without the reply bit).
    public var address: UInt8
    /// True for a PD's reply (address bit 7 set on the wire).
    public var isReply: Bool
    /// The sequence number, 0...3.
    public var sequence: UInt8
    /// CRC-16 or checksum.
    public var check: OSDPCheck
    /// The security block, when control bit 3 is set.
    public var securityBlock: OSDPSecurityBlock?
    /// The command or reply code.
    public var code: UInt8
    /// The data after the code, as on the wire (ciphertext for encrypted frames).
    public var data: [UInt8]
    /// The 4 MAC bytes of a secure-session frame, nil otherwise.
    public var mac: [UInt8]?

    /// Creates a frame.
    public init(
        address: UInt8, isReply: Bool, sequence: UInt8, check: OSDPCheck = .crc16,
        securityBlock: OSDPSecurityBlock? = nil, code: UInt8, data: [UInt8] = [], mac: [UInt8]? = nil
    ) {
        self.address = address & 0x7F
        self.isReply = isReply
        self.sequence = sequence & 0x03
        self.check = check
        self.securityBlock = securityBlock
        self.code = code
        self.data = data
        self.mac = mac
    }

    /// The control byte.
    public var controlByte: UInt8 {
        var control = sequence & 0x03
        if check == .crc16 { control |= 0x04 }
        if securityBlock != nil { control |= 0x08 }
        return control
    }

    /// The length field: the whole frame from SOM through the check (mark byte excluded).
    public var length: Int {
        Self.headerLength + (securityBlock.map { 2 + $0.data.count } ?? 0) + 1 + data.count
            + (mac == nil ? 0 : 4) + check.byteCount
    }

    /// The bytes the MAC is computed over: SOM through the last data byte, with the length
    /// field already counting the 4 MAC bytes and the check (SIA OSDP 2.2, Annex D.4).
    public var macInput: [UInt8] {
        var copy = self
        if copy.mac == nil { copy.mac = [0, 0, 0, 0] }
        return copy.bytesBeforeMAC()
    }

    /// SOM through the last data byte, with the length field as it will be sent.
    private func bytesBeforeMAC() -> [UInt8] {
        let total = length
        var bytes: [UInt8] = [
            Self.startOfMessage,
            isReply ? address | 0x80 : address,
            UInt8(truncatingIfNeeded: total), UInt8(truncatingIfNeeded: total >> 8),
            controlByte,
        ]
        if let block = securityBlock {
            bytes.append(block.lengthByte)
            bytes.append(block.type)
            bytes += block.data
        }
        bytes.append(code)
        bytes += data
        return bytes
    }

    /// The frame as sent: optional `FF` mark, header, security block, code, data, MAC, check.
    /// - Parameter mark: prepend the `FF` mark byte (SIA OSDP 2.2, section 5.7); default true.
    public func encoded(mark: Bool = true) -> [UInt8] {
        var bytes = bytesBeforeMAC()
        if let mac { bytes += mac.prefix(4) }
        bytes += check.bytes(for: bytes)
        return mark ? [Self.mark] + bytes : bytes
    }
}

extension OSDPPacket: CustomStringConvertible {
    /// A short summary without data bytes (data may carry card numbers or key material).
    public var description: String {
        let kind = isReply ? "reply" : "command"
        let name = isReply ? OSDPReplyCode(rawValue: code)?.name : OSDPCommandCode(rawValue: code)?.name
        let block = securityBlock.map { String(format2: $0.type) } ?? "none"
        return "OSDP \(kind) \(name ?? "0x" + String(format2: code)) addr=\(address) seq=\(sequence) "
            + "check=\(check) scb=\(block) data=\(data.count) bytes"
    }
}

extension String {
    /// Two upper-case hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789ABCDEF")
        self.init([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}

extension Array where Element == UInt8 {
    /// Upper-case hex without separators.
    var osdpHex: String { map { String(format2: $0) }.joined() }
}
