import Foundation
import OSDP
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIA OSDP 2.2 Annex E secure channel example, as reproduced in libosdp's
/// `tests/unit-tests/test-sc-sia-vectors.c` (goToMain/libosdp, Apache-2.0): SCBK-D, the CP's random
/// RND.A = B0...B7, the PD's random RND.B = A0...A7, and the resulting session keys, cryptograms
/// and initial R-MAC.
enum AnnexE {
    static let cpRandom: [UInt8] = Array(0xB0...0xB7)
    static let pdRandom: [UInt8] = Array(0xA0...0xA7)
    static let sMAC1: [UInt8] = [0x5E, 0x86, 0xC6, 0x76, 0x60, 0x3B, 0xDE, 0xE2, 0xD8, 0xBE, 0xAF, 0xE1, 0x78, 0x63, 0x73, 0x32]
    static let sMAC2: [UInt8] = [0x6F, 0xDA, 0x86, 0xE8, 0x57, 0x77, 0x7E, 0x81, 0x13, 0x20, 0x35, 0x75, 0x82, 0x39, 0x17, 0x2E]
    static let sENC: [UInt8] = [0xBF, 0x8D, 0xC2, 0xA8, 0x32, 0x9A, 0xCB, 0x8C, 0x67, 0xC6, 0xD0, 0xCD, 0x9A, 0x45, 0x16, 0x82]
    /// The "host" (server) cryptogram the CP sends in osdp_SCRYPT.
    static let serverCryptogram: [UInt8] = [
        0x26, 0xD3, 0x35, 0x6E, 0x07, 0x76, 0x2D, 0x26, 0x28, 0x01, 0xFC, 0x8E, 0x66, 0x65, 0xA8, 0x91,
    ]
    /// The client cryptogram the PD sends in osdp_CCRYPT.
    static let clientCryptogram: [UInt8] = [
        0xFD, 0xE5, 0xD2, 0xF4, 0x28, 0xEC, 0x16, 0x31, 0x24, 0x71, 0xEA, 0x3C, 0x02, 0xBD, 0x77, 0x96,
    ]
    static let initialRMAC: [UInt8] = [0xB2, 0xA3, 0x00, 0x57, 0xEB, 0x98, 0xBA, 0x22, 0x29, 0xEC, 0x1F, 0x87, 0x56, 0x62, 0xB5, 0x24]
}

@Suite("Secure channel")
struct SecureChannelTests {
    @Test("SCBK-D is 30 31 ... 3F")
    func defaultKey() throws {
        #expect(OSDPSecureChannelKey.defaultInstallKey == (try OSDPSecureChannelKey(bytes: Array(0x30...0x3F))))
        #expect(OSDPSecureChannelKey.defaultInstallKey.isDefaultInstallKey)
    }

    @Test("Annex E: session keys, both cryptograms and the initial R-MAC")
    func annexEVectors() throws {
        let keys = try OSDPSessionKeys(baseKey: .defaultInstallKey, cpRandom: AnnexE.cpRandom)
        keys.withUnsafeKeyBytes { encryption, mac1, mac2 in
            #expect(encryption == AnnexE.sENC)
            #expect(mac1 == AnnexE.sMAC1)
            #expect(mac2 == AnnexE.sMAC2)
        }
        #expect(try keys.clientCryptogram(cpRandom: AnnexE.cpRandom, pdRandom: AnnexE.pdRandom) == AnnexE.clientCryptogram)
        #expect(try keys.serverCryptogram(cpRandom: AnnexE.cpRandom, pdRandom: AnnexE.pdRandom) == AnnexE.serverCryptogram)
        #expect(try keys.initialRMAC(serverCryptogram: AnnexE.serverCryptogram) == AnnexE.initialRMAC)
    }

    @Test("the PD state machine produces the Annex E CCRYPT and RMAC_I when given the Annex E randoms")
    func peripheralHandshakeMatchesAnnexE() throws {
        var pd = OSDPPeripheral(
            configuration: .init(address: 1, installMode: true), random: { _ in AnnexE.pdRandom })
        let challenge = OSDPPacket(
            address: 1, isReply: false, sequence: 0, securityBlock: OSDPSecurityBlock(.challenge, data: [0]),
            code: 0x76, data: AnnexE.cpRandom)
        let ccrypt = try #require(pd.handle(challenge).reply)
        guard case .clientCryptogram(let uid, let random, let cryptogram) = ccrypt else {
            Issue.record("expected osdp_CCRYPT, got \(ccrypt)")
            return
        }
        #expect(uid == pd.clientUID)
        #expect(random == AnnexE.pdRandom)
        #expect(cryptogram == AnnexE.clientCryptogram)

        let scrypt = OSDPPacket(
            address: 1, isReply: false, sequence: 1, securityBlock: OSDPSecurityBlock(.serverCryptogram, data: [0]),
            code: 0x77, data: AnnexE.serverCryptogram)
        let response = pd.handle(scrypt)
        #expect(response.reply == .initialRMAC(AnnexE.initialRMAC))
        var decoder = OSDPFrameDecoder()
        let responseBytes = try #require(response.bytes)
        let frame = try #require(packets(decoder.feed(responseBytes)).first)
        #expect(frame.securityBlock == OSDPSecurityBlock(.initialRMAC, data: [1]))
        #expect(pd.isSecureChannelActive)
        #expect(pd.sessionUsesDefaultKey)
    }

    func session() throws -> OSDPSecureSession {
        let keys = try OSDPSessionKeys(baseKey: .defaultInstallKey, cpRandom: AnnexE.cpRandom)
        return OSDPSecureSession(keys: keys, initialRMAC: AnnexE.initialRMAC)
    }

    @Test("commands and replies round trip through a CP and a PD session, for every data length 0...40")
    func roundTrip() throws {
        var cp = try session()
        var pd = try session()
        var sequence: UInt8 = 1
        for length in 0...40 {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 7 + length) }
            let command = try cp.sealCommand(address: 2, sequence: sequence, code: 0x69, data: data)
            #expect(command.securityBlock?.blockType == (length == 0 ? .commandMAC : .commandMACEncrypted))
            if length > 0 {
                // Always padded with 80 00..: 16 bytes of data become 32.
                #expect(command.data.count == (length / 16 + 1) * 16)
                #expect(command.data != data)
            }
            var decoder = OSDPFrameDecoder()
            let received = try #require(packets(decoder.feed(command.encoded())).first)
            let opened = try pd.openCommand(received)
            #expect(opened.code == 0x69 && opened.data == data)

            let reply = try pd.sealReply(address: 2, sequence: sequence, code: 0x50, data: data.reversed())
            let back = try #require(packets(decoder.feed(reply.encoded())).first)
            let openedReply = try cp.openReply(back)
            #expect(openedReply.code == 0x50 && openedReply.data == data.reversed())
            sequence = sequence == 3 ? 1 : sequence + 1
        }
    }

    @Test("the MAC chain: a replayed, reordered or tampered frame does not verify")
    func chainRejectsReplayAndTampering() throws {
        var cp = try session()
        var pd = try session()
        let first = try cp.sealCommand(address: 2, sequence: 1, code: 0x60, data: [])
        _ = try pd.openCommand(first)
        let firstReply = try pd.sealReply(address: 2, sequence: 1, code: 0x40, data: [])
        _ = try cp.openReply(firstReply)

        // Replaying the first command after the chain moved on fails.
        var replayTarget = pd
        #expect(throws: OSDPSecureChannelError.badMAC) { try replayTarget.openCommand(first) }

        let second = try cp.sealCommand(address: 2, sequence: 2, code: 0x69, data: [1, 2, 3])
        var tampered = second
        tampered.data[0] ^= 0x01
        var tamperTarget = pd
        #expect(throws: OSDPSecureChannelError.badMAC) { try tamperTarget.openCommand(tampered) }
        var wrongSequence = second
        wrongSequence.sequence = 3
        var sequenceTarget = pd
        #expect(throws: OSDPSecureChannelError.badMAC) { try sequenceTarget.openCommand(wrongSequence) }
        #expect(try pd.openCommand(second).data == [1, 2, 3])

        // A reply sealed by a session under another key does not verify.
        var stranger = OSDPSecureSession(
            keys: try OSDPSessionKeys(baseKey: OSDPSecureChannelKey.random(), cpRandom: AnnexE.cpRandom),
            initialRMAC: AnnexE.initialRMAC)
        #expect(throws: OSDPSecureChannelError.badMAC) { _ = try stranger.openCommand(second) }
    }

    @Test("the MAC is computed with the length field counting MAC and CRC")
    func macCoversFinalLength() throws {
        var cp = try session()
        let packet = try cp.sealCommand(address: 2, sequence: 1, code: 0x60, data: [])
        let bytes = packet.encoded(mark: false)
        #expect(Int(bytes[2]) | Int(bytes[3]) << 8 == bytes.count)
        #expect(packet.macInput == Array(bytes[0..<(bytes.count - 6)]))
    }

    @Test("keys never appear in descriptions, dumps or errors")
    func redaction() throws {
        let key = try OSDPSecureChannelKey(hex: "a1b2c3d4e5f60718293a4b5c6d7e8f90")
        let keys = try OSDPSessionKeys(baseKey: key, cpRandom: AnnexE.cpRandom)
        let session = OSDPSecureSession(keys: keys, initialRMAC: AnnexE.initialRMAC)
        var dumped = ""
        dump(key, to: &dumped)
        dump(keys, to: &dumped)
        dump(session, to: &dumped)
        let texts = [key.description, key.debugDescription, "\(key)", String(reflecting: key), "\(keys)", "\(session)", dumped]
        for text in texts {
            #expect(!text.lowercased().contains("a1b2"), "\(text)")
            #expect(!text.contains("161"), "\(text)")  // 0xA1 in decimal
        }
        #expect(key.description == "OSDPSecureChannelKey(redacted)")
        do {
            _ = try OSDPSecureChannelKey(hex: "a1b2c3d4e5f60718293a4b5c6d7e8f9")
            Issue.record("31 hex digits must not parse")
        } catch {
            #expect(!error.description.lowercased().contains("a1b2"))
            #expect(error.description.contains("31 hex digits"))
        }
    }

    @Test("hex parsing accepts whitespace and colons, rejects other characters")
    func hexParsing() throws {
        let key = try OSDPSecureChannelKey(hex: "30:31:32:33 34 35 36 37\n38393a3b3c3d3e3f\n")
        #expect(key == .defaultInstallKey)
        #expect(throws: OSDPKeyError.self) { try OSDPSecureChannelKey(hex: "zz" + String(repeating: "0", count: 30)) }
        #expect(throws: OSDPKeyError.self) { try OSDPSecureChannelKey(bytes: [1, 2, 3]) }
    }

    @Test("key files: saved with mode 0600, loaded back; group- or world-readable files are refused")
    func keyFiles() throws {
        var template = Array("/tmp/osdp-key-tests-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        try #require(created != nil)
        let directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let key = OSDPSecureChannelKey.random()
        let path = directory + "/reader-1.key"
        try key.save(toFile: path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try OSDPSecureChannelKey.load(fromFile: path) == key)

        #expect(chmod(path, 0o644) == 0)
        do {
            _ = try OSDPSecureChannelKey.load(fromFile: path)
            Issue.record("a world-readable key file must be refused")
        } catch {
            #expect(error.path == path)
            #expect(error.description.contains("chmod 600"))
        }

        let missing = directory + "/missing.key"
        do {
            _ = try OSDPSecureChannelKey.load(fromFile: missing)
            Issue.record("a missing key file must be reported")
        } catch {
            #expect(error.description.contains("openssl rand -hex 16"))
        }

        let garbage = directory + "/garbage.key"
        #expect(FileManager.default.createFile(atPath: garbage, contents: Data("not a key".utf8), attributes: [.posixPermissions: 0o600]))
        #expect(throws: OSDPKeyError.self) { try OSDPSecureChannelKey.load(fromFile: garbage) }
    }

    @Test("key diversification: AES(master, cUID || ~cUID)")
    func diversification() throws {
        let uid: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7]
        let a = try OSDPSecureChannelKey.diversified(masterKey: .defaultInstallKey, clientUID: uid)
        let b = try OSDPSecureChannelKey.diversified(masterKey: .defaultInstallKey, clientUID: uid.reversed())
        #expect(a != b)
        #expect(a == (try OSDPSecureChannelKey.diversified(masterKey: .defaultInstallKey, clientUID: uid)))
        #expect(throws: OSDPSecureChannelError.self) { try OSDPSecureChannelKey.diversified(masterKey: .defaultInstallKey, clientUID: [1]) }
    }
}
