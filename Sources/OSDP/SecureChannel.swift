import Crypto
import _CryptoExtras

/// A secure channel failure: a MAC or cryptogram that does not verify, bad padding, a wrong length.
public enum OSDPSecureChannelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 4 MAC bytes of a frame do not match the MAC computed over it.
    case badMAC
    /// The PD's client cryptogram does not match: the PD uses another key than the CP.
    case clientCryptogramMismatch
    /// The CP's server cryptogram does not match (seen by a PD).
    case serverCryptogramMismatch
    /// The initial R-MAC does not match.
    case initialRMACMismatch
    /// Decrypted data does not end with the 0x80 marker and zero padding.
    case badPadding
    /// A field has the wrong length.
    case badLength(String)
    /// The frame is not a secure session frame of the expected direction.
    case unexpectedSecurityBlock(UInt8?)
    /// The AES primitive failed.
    case cryptoFailure(String)

    /// What went wrong, without key material.
    public var description: String {
        switch self {
        case .badMAC: "MAC does not verify"
        case .clientCryptogramMismatch: "client cryptogram does not verify (the reader holds another key)"
        case .serverCryptogramMismatch: "server cryptogram does not verify"
        case .initialRMACMismatch: "initial R-MAC does not verify"
        case .badPadding: "decrypted data has bad padding"
        case .badLength(let what): "bad length: \(what)"
        case .unexpectedSecurityBlock(let type):
            "unexpected security block \(type.map { "0x" + String(format2: $0) } ?? "none")"
        case .cryptoFailure(let message): "AES failed: \(message)"
        }
    }
}

/// AES-128 single-block operations (swift-crypto's `AES.permute`), and CBC built on them.
enum AES128 {
    static func encryptBlock(_ block: [UInt8], key: [UInt8]) throws(OSDPSecureChannelError) -> [UInt8] {
        var output = block
        do {
            try AES.permute(&output, key: SymmetricKey(data: key))
        } catch {
            throw .cryptoFailure("\(error)")
        }
        return output
    }

    static func decryptBlock(_ block: [UInt8], key: [UInt8]) throws(OSDPSecureChannelError) -> [UInt8] {
        var output = block
        do {
            try AES.inversePermute(&output, key: SymmetricKey(data: key))
        } catch {
            throw .cryptoFailure("\(error)")
        }
        return output
    }

    /// CBC encryption of whole blocks (no padding added here).
    static func cbcEncrypt(_ data: [UInt8], key: [UInt8], iv: [UInt8]) throws(OSDPSecureChannelError) -> [UInt8] {
        guard data.count % 16 == 0, iv.count == 16 else { throw .badLength("CBC input must be whole 16-byte blocks") }
        var previous = iv
        var output: [UInt8] = []
        output.reserveCapacity(data.count)
        for start in stride(from: 0, to: data.count, by: 16) {
            let block = (0..<16).map { data[start + $0] ^ previous[$0] }
            previous = try encryptBlock(block, key: key)
            output += previous
        }
        return output
    }

    /// CBC decryption of whole blocks.
    static func cbcDecrypt(_ data: [UInt8], key: [UInt8], iv: [UInt8]) throws(OSDPSecureChannelError) -> [UInt8] {
        guard data.count % 16 == 0, iv.count == 16 else { throw .badLength("encrypted data must be whole 16-byte blocks") }
        var previous = iv
        var output: [UInt8] = []
        output.reserveCapacity(data.count)
        for start in stride(from: 0, to: data.count, by: 16) {
            let block = Array(data[start..<(start + 16)])
            let plain = try decryptBlock(block, key: key)
            output += (0..<16).map { plain[$0] ^ previous[$0] }
            previous = block
        }
        return output
    }
}

/// The three session keys derived from the SCBK and the CP's random number (SIA OSDP 2.2 Annex D.2):
/// `S-ENC = AES(SCBK, 01 82 RND.A[0..5] 00..)`, `S-MAC1 = AES(SCBK, 01 01 RND.A[0..5] 00..)`,
/// `S-MAC2 = AES(SCBK, 01 02 RND.A[0..5] 00..)`. Redacted in descriptions.
public struct OSDPSessionKeys: Sendable, CustomStringConvertible, CustomReflectable {
    let encryption: [UInt8]
    let mac1: [UInt8]
    let mac2: [UInt8]

    /// Derives the session keys.
    /// - Parameters:
    ///   - baseKey: the SCBK (or SCBK-D in install mode).
    ///   - cpRandom: RND.A, the 8 random bytes of `osdp_CHLNG`.
    public init(baseKey: OSDPSecureChannelKey, cpRandom: [UInt8]) throws(OSDPSecureChannelError) {
        guard cpRandom.count == 8 else { throw .badLength("RND.A must be 8 bytes, got \(cpRandom.count)") }
        func derive(_ first: UInt8, _ second: UInt8) throws(OSDPSecureChannelError) -> [UInt8] {
            let block = [first, second] + cpRandom.prefix(6) + [UInt8](repeating: 0, count: 8)
            return try baseKey.withUnsafeKeyBytes { key throws(OSDPSecureChannelError) in
                try AES128.encryptBlock(block, key: key)
            }
        }
        encryption = try derive(0x01, 0x82)
        mac1 = try derive(0x01, 0x01)
        mac2 = try derive(0x01, 0x02)
    }

    /// Calls `body` with S-ENC, S-MAC1 and S-MAC2 (for test vectors; keep them out of logs).
    public func withUnsafeKeyBytes<Result, Failure: Error>(
        _ body: (_ encryption: [UInt8], _ mac1: [UInt8], _ mac2: [UInt8]) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(encryption, mac1, mac2)
    }

    /// Always `OSDPSessionKeys(redacted)`.
    public var description: String { "OSDPSessionKeys(redacted)" }
    /// No children.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// The client cryptogram the PD sends in `osdp_CCRYPT`: `AES(S-ENC, RND.A || RND.B)`.
    public func clientCryptogram(cpRandom: [UInt8], pdRandom: [UInt8]) throws(OSDPSecureChannelError) -> [UInt8] {
        guard cpRandom.count == 8, pdRandom.count == 8 else { throw .badLength("random numbers must be 8 bytes") }
        return try AES128.encryptBlock(cpRandom + pdRandom, key: encryption)
    }

    /// The server cryptogram the CP sends in `osdp_SCRYPT`: `AES(S-ENC, RND.B || RND.A)`.
    public func serverCryptogram(cpRandom: [UInt8], pdRandom: [UInt8]) throws(OSDPSecureChannelError) -> [UInt8] {
        guard cpRandom.count == 8, pdRandom.count == 8 else { throw .badLength("random numbers must be 8 bytes") }
        return try AES128.encryptBlock(pdRandom + cpRandom, key: encryption)
    }

    /// The initial R-MAC the PD sends in `osdp_RMAC_I`:
    /// `AES(S-MAC2, AES(S-MAC1, server cryptogram))`.
    public func initialRMAC(serverCryptogram: [UInt8]) throws(OSDPSecureChannelError) -> [UInt8] {
        guard serverCryptogram.count == 16 else { throw .badLength("server cryptogram must be 16 bytes") }
        return try AES128.encryptBlock(AES128.encryptBlock(serverCryptogram, key: mac1), key: mac2)
    }
}

/// An established secure session: the session keys and the MAC chain (SIA OSDP 2.2 Annex D.4-D.5).
///
/// Every command's MAC is computed with the last reply's MAC as IV (the initial R-MAC first), every
/// reply's MAC with the command's MAC. Command data is encrypted (AES-128-CBC, S-ENC) with the
/// complement of the last reply MAC as IV, reply data with the complement of the command MAC.
/// Data to encrypt gets a 0x80 marker and zero padding to a whole block (always, so 16 bytes of
/// data become 32); data to MAC gets the same padding only when it is not block-aligned.
///
/// The CP uses ``sealCommand(address:sequence:code:data:)`` and ``openReply(_:)``; a PD uses
/// ``openCommand(_:)`` and ``sealReply(address:sequence:code:data:)``. A frame sent twice (a
/// retransmission) is the same bytes and is not sealed again.
public struct OSDPSecureSession: Sendable, CustomStringConvertible, CustomReflectable {
    let keys: OSDPSessionKeys
    /// The last command MAC (C-MAC), full 16 bytes.
    private var commandMAC: [UInt8]
    /// The last reply MAC (R-MAC), full 16 bytes; the initial R-MAC at first.
    private var replyMAC: [UInt8]

    /// Starts a session after a successful handshake.
    public init(keys: OSDPSessionKeys, initialRMAC: [UInt8]) {
        self.keys = keys
        self.replyMAC = initialRMAC
        self.commandMAC = [UInt8](repeating: 0, count: 16)
    }

    /// Always `OSDPSecureSession(redacted)`.
    public var description: String { "OSDPSecureSession(redacted)" }
    /// No children.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// The MAC over `message` with `iv`: CBC with S-MAC1 over all blocks but the last, the last
    /// block with S-MAC2.
    static func mac(_ message: [UInt8], iv: [UInt8], keys: OSDPSessionKeys) throws(OSDPSecureChannelError) -> [UInt8] {
        var padded = message
        if padded.count % 16 != 0 || padded.isEmpty {
            padded.append(0x80)
            while padded.count % 16 != 0 { padded.append(0) }
        }
        var chain = iv
        if padded.count > 16 {
            let head = Array(padded[0..<(padded.count - 16)])
            chain = Array(try AES128.cbcEncrypt(head, key: keys.mac1, iv: iv).suffix(16))
        }
        let last = (0..<16).map { padded[padded.count - 16 + $0] ^ chain[$0] }
        return try AES128.encryptBlock(last, key: keys.mac2)
    }

    static func encrypt(_ data: [UInt8], iv: [UInt8], keys: OSDPSessionKeys) throws(OSDPSecureChannelError) -> [UInt8] {
        var padded = data + [0x80]
        while padded.count % 16 != 0 { padded.append(0) }
        return try AES128.cbcEncrypt(padded, key: keys.encryption, iv: iv.map { ~$0 })
    }

    static func decrypt(_ data: [UInt8], iv: [UInt8], keys: OSDPSessionKeys) throws(OSDPSecureChannelError) -> [UInt8] {
        guard !data.isEmpty else { throw .badLength("encrypted data is empty") }
        var plain = try AES128.cbcDecrypt(data, key: keys.encryption, iv: iv.map { ~$0 })
        while let last = plain.last, last == 0 { plain.removeLast() }
        guard plain.last == 0x80 else { throw .badPadding }
        plain.removeLast()
        return plain
    }

    private static func seal(
        address: UInt8, isReply: Bool, sequence: UInt8, code: UInt8, data: [UInt8],
        macIV: [UInt8], encryptionIV: [UInt8], keys: OSDPSessionKeys
    ) throws(OSDPSecureChannelError) -> (packet: OSDPPacket, mac: [UInt8]) {
        let type: OSDPSecurityBlock.BlockType = data.isEmpty
            ? (isReply ? .replyMAC : .commandMAC)
            : (isReply ? .replyMACEncrypted : .commandMACEncrypted)
        let wireData = data.isEmpty ? [] : try encrypt(data, iv: encryptionIV, keys: keys)
        var packet = OSDPPacket(
            address: address, isReply: isReply, sequence: sequence, check: .crc16,
            securityBlock: OSDPSecurityBlock(type), code: code, data: wireData, mac: [0, 0, 0, 0])
        let mac = try mac(packet.macInput, iv: macIV, keys: keys)
        packet.mac = Array(mac.prefix(4))
        return (packet, mac)
    }

    private static func open(
        _ packet: OSDPPacket, expectReply: Bool, macIV: [UInt8], encryptionIV: (_ mac: [UInt8]) -> [UInt8],
        keys: OSDPSessionKeys
    ) throws(OSDPSecureChannelError) -> (code: UInt8, data: [UInt8], mac: [UInt8]) {
        guard let block = packet.securityBlock, let type = block.blockType, type.carriesMAC,
            packet.isReply == expectReply,
            expectReply ? (type == .replyMAC || type == .replyMACEncrypted) : (type == .commandMAC || type == .commandMACEncrypted),
            let received = packet.mac
        else {
            throw .unexpectedSecurityBlock(packet.securityBlock?.type)
        }
        let mac = try mac(packet.macInput, iv: macIV, keys: keys)
        guard constantTimeEqual(Array(mac.prefix(4)), received) else { throw .badMAC }
        let data = type.isEncrypted ? try decrypt(packet.data, iv: encryptionIV(mac), keys: keys) : packet.data
        return (packet.code, data, mac)
    }

    /// CP: builds a command frame (SCS_15 without data, SCS_17 with encrypted data) and advances the chain.
    public mutating func sealCommand(address: UInt8, sequence: UInt8, code: UInt8, data: [UInt8]) throws(OSDPSecureChannelError)
        -> OSDPPacket
    {
        let (packet, mac) = try Self.seal(
            address: address, isReply: false, sequence: sequence, code: code, data: data,
            macIV: replyMAC, encryptionIV: replyMAC, keys: keys)
        commandMAC = mac
        return packet
    }

    /// CP: verifies a reply's MAC (and decrypts SCS_18 data); advances the chain.
    /// - Throws: ``OSDPSecureChannelError``; the chain is unchanged then.
    public mutating func openReply(_ packet: OSDPPacket) throws(OSDPSecureChannelError) -> (code: UInt8, data: [UInt8]) {
        let commandMAC = self.commandMAC
        let opened = try Self.open(
            packet, expectReply: true, macIV: commandMAC, encryptionIV: { _ in commandMAC }, keys: keys)
        replyMAC = opened.mac
        return (opened.code, opened.data)
    }

    /// PD: verifies a command's MAC (and decrypts SCS_17 data); advances the chain.
    public mutating func openCommand(_ packet: OSDPPacket) throws(OSDPSecureChannelError) -> (code: UInt8, data: [UInt8]) {
        let replyMAC = self.replyMAC
        let opened = try Self.open(
            packet, expectReply: false, macIV: replyMAC, encryptionIV: { _ in replyMAC }, keys: keys)
        commandMAC = opened.mac
        return (opened.code, opened.data)
    }

    /// PD: builds a reply frame (SCS_16 without data, SCS_18 with encrypted data) and advances the chain.
    public mutating func sealReply(address: UInt8, sequence: UInt8, code: UInt8, data: [UInt8]) throws(OSDPSecureChannelError)
        -> OSDPPacket
    {
        let (packet, mac) = try Self.seal(
            address: address, isReply: true, sequence: sequence, code: code, data: data,
            macIV: commandMAC, encryptionIV: commandMAC, keys: keys)
        replyMAC = mac
        return packet
    }
}
