import OSDP
import TestSupport
import Testing

/// Recorded frames from public sources.
///
/// - SIA OSDP 2.2 Annex E ("Examples"), CRC and checksum examples, as reproduced in libosdp's
///   `tests/unit-tests/test-sc-sia-vectors.c` (goToMain/libosdp, Apache-2.0).
/// - libosdp's `tests/unit-tests/test-cp-phy.c`: the CP's POLL, ID and CHLNG frames to address 0x65.
enum RecordedFrames {
    /// Annex E CRC example 1: osdp_COMSET broadcast, new address 0, 9600 baud, sequence 0, CRC 6E 38.
    static let comSetCRC: [UInt8] = [0x53, 0x7F, 0x0D, 0x00, 0x04, 0x6E, 0x00, 0x80, 0x25, 0x00, 0x00, 0x6E, 0x38]
    /// Annex E CRC example 2: osdp_ID to address 0, sequence 0, CRC C0 66.
    static let idCRC: [UInt8] = [0x53, 0x00, 0x09, 0x00, 0x04, 0x61, 0x00, 0xC0, 0x66]
    /// Annex E checksum example 1: the same COMSET with the checksum 0F.
    static let comSetChecksum: [UInt8] = [0x53, 0x7F, 0x0C, 0x00, 0x00, 0x6E, 0x00, 0x80, 0x25, 0x00, 0x00, 0x0F]
    /// Annex E checksum example 2: osdp_ID with the checksum 44.
    static let idChecksum: [UInt8] = [0x53, 0x00, 0x08, 0x00, 0x00, 0x61, 0x00, 0x44]
    /// libosdp test-cp-phy.c: POLL to 0x65, sequence 0, with the FF mark.
    static let poll65: [UInt8] = [0xFF, 0x53, 0x65, 0x08, 0x00, 0x04, 0x60, 0x60, 0x90]
    /// libosdp test-cp-phy.c: ID to 0x65, sequence 0.
    static let id65: [UInt8] = [0xFF, 0x53, 0x65, 0x09, 0x00, 0x04, 0x61, 0x00, 0xD9, 0x7A]
    /// libosdp test-cp-phy.c: CHLNG 01..08 to 0x65 without security block.
    static let challenge65: [UInt8] = [
        0xFF, 0x53, 0x65, 0x10, 0x00, 0x04, 0x76, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0D, 0x20,
    ]
}

func packets(_ outputs: [OSDPFrameDecoder.Output]) -> [OSDPPacket] {
    outputs.compactMap { if case .packet(let packet) = $0 { packet } else { nil } }
}

func rejections(_ outputs: [OSDPFrameDecoder.Output]) -> [OSDPFrameRejection] {
    outputs.compactMap { if case .rejected(let rejection) = $0 { rejection } else { nil } }
}

@Suite("CRC-16 and checksum")
struct CheckTests {
    @Test("Annex E CRC examples")
    func crcVectors() {
        #expect(OSDPCRC16.compute(RecordedFrames.comSetCRC.dropLast(2)) == 0x386E)
        #expect(OSDPCRC16.compute(RecordedFrames.idCRC.dropLast(2)) == 0x66C0)
        #expect(OSDPCheck.crc16.bytes(for: RecordedFrames.idCRC.dropLast(2)) == [0xC0, 0x66])
    }

    @Test("Annex E checksum examples")
    func checksumVectors() {
        #expect(OSDPChecksum.compute(RecordedFrames.comSetChecksum.dropLast()) == 0x0F)
        #expect(OSDPChecksum.compute(RecordedFrames.idChecksum.dropLast()) == 0x44)
        #expect(OSDPCheck.checksum.bytes(for: RecordedFrames.idChecksum.dropLast()) == [0x44])
    }

    @Test("CRC of the empty input is the initial value; checksum plus bytes sums to zero")
    func algebra() {
        #expect(OSDPCRC16.compute([UInt8]()) == 0x1D0F)
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let sum = (bytes + [OSDPChecksum.compute(bytes)]).reduce(UInt8(0)) { $0 &+ $1 }
            #expect(sum == 0)
        }
    }

    @Test("the table-driven CRC matches a bitwise reference on many inputs")
    func crcMatchesBitwiseReference() {
        func reference(_ bytes: [UInt8]) -> UInt16 {
            var crc: UInt16 = 0x1D0F
            for byte in bytes {
                crc ^= UInt16(byte) << 8
                for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
            }
            return crc
        }
        var seed: UInt32 = 12345
        for length in 0..<64 {
            let bytes = (0..<length).map { _ -> UInt8 in
                seed = seed &* 1_103_515_245 &+ 12345
                return UInt8(truncatingIfNeeded: seed >> 16)
            }
            #expect(OSDPCRC16.compute(bytes) == reference(bytes))
        }
    }
}

@Suite("Frame encoding")
struct EncodingTests {
    @Test("the encoder reproduces the recorded frames byte for byte")
    func encodesRecordedFrames() {
        let comSet = OSDPCommand.comSet(address: 0, baudRate: 9600)
        #expect(OSDPPacket(address: 0x7F, isReply: false, sequence: 0, check: .crc16, code: comSet.code, data: comSet.data)
            .encoded(mark: false) == RecordedFrames.comSetCRC)
        #expect(OSDPPacket(address: 0x7F, isReply: false, sequence: 0, check: .checksum, code: comSet.code, data: comSet.data)
            .encoded(mark: false) == RecordedFrames.comSetChecksum)
        #expect(OSDPPacket(address: 0, isReply: false, sequence: 0, check: .crc16, code: 0x61, data: OSDPCommand.id.data)
            .encoded(mark: false) == RecordedFrames.idCRC)
        #expect(OSDPPacket(address: 0, isReply: false, sequence: 0, check: .checksum, code: 0x61, data: [0])
            .encoded(mark: false) == RecordedFrames.idChecksum)
        #expect(OSDPPacket(address: 0x65, isReply: false, sequence: 0, code: OSDPCommand.poll.code).encoded() == RecordedFrames.poll65)
        #expect(OSDPPacket(address: 0x65, isReply: false, sequence: 0, code: 0x61, data: [0]).encoded() == RecordedFrames.id65)
        #expect(OSDPPacket(address: 0x65, isReply: false, sequence: 0, code: 0x76, data: Array(1...8)).encoded()
            == RecordedFrames.challenge65)
    }

    @Test("control byte: sequence in bits 0-1, CRC bit 2, security block bit 3; replies set address bit 7")
    func controlByteAndReplyBit() {
        for sequence in UInt8(0)...3 {
            let packet = OSDPPacket(
                address: 5, isReply: true, sequence: sequence, check: .crc16,
                securityBlock: OSDPSecurityBlock(.replyMAC), code: 0x40, mac: [1, 2, 3, 4])
            let bytes = packet.encoded(mark: false)
            #expect(bytes[1] == 0x85)
            #expect(bytes[4] == sequence | 0x04 | 0x08)
            #expect(Int(bytes[2]) | Int(bytes[3]) << 8 == bytes.count)
            #expect(bytes.count == 5 + 2 + 1 + 4 + 2)
            #expect(Array(bytes[5...7]) == [0x02, 0x16, 0x40])
            #expect(Array(bytes[8...11]) == [1, 2, 3, 4])
        }
    }

    @Test("the description shows no data bytes")
    func descriptionHidesData() {
        let packet = OSDPPacket(address: 1, isReply: true, sequence: 1, code: 0x50, data: [0xDE, 0xAD, 0xBE, 0xEF])
        #expect(packet.description.contains("osdp_RAW"))
        #expect(!packet.description.contains("DE"))
        #expect(!packet.description.contains("AD"))
    }
}

@Suite("Frame decoding: byte by byte, split anywhere, garbage")
struct DecodingTests {
    static let frames: [[UInt8]] = [
        RecordedFrames.comSetCRC, RecordedFrames.idCRC, RecordedFrames.comSetChecksum, RecordedFrames.idChecksum,
        RecordedFrames.poll65, RecordedFrames.id65, RecordedFrames.challenge65,
        OSDPPacket(
            address: 3, isReply: true, sequence: 2, securityBlock: OSDPSecurityBlock(.replyMACEncrypted), code: 0x50,
            data: Array(repeating: 0xAB, count: 16), mac: [9, 8, 7, 6]
        ).encoded(),
        OSDPPacket(
            address: 3, isReply: false, sequence: 1, securityBlock: OSDPSecurityBlock(.challenge, data: [1]), code: 0x76,
            data: Array(0xB0...0xB7)
        ).encoded(),
    ]

    @Test("the recorded frames decode to their fields")
    func decodesRecordedFrames() throws {
        var decoder = OSDPFrameDecoder()
        let comSet = try #require(packets(decoder.feed(RecordedFrames.comSetCRC)).first)
        #expect(comSet.address == 0x7F && !comSet.isReply && comSet.sequence == 0 && comSet.check == .crc16)
        #expect(try OSDPCommand.decode(code: comSet.code, data: comSet.data) == .comSet(address: 0, baudRate: 9600))
        let id = try #require(packets(decoder.feed(RecordedFrames.idChecksum)).first)
        #expect(id.check == .checksum && id.code == 0x61 && id.data == [0])
        let poll = try #require(packets(decoder.feed(RecordedFrames.poll65)).first)
        #expect(poll.address == 0x65 && poll.code == 0x60 && poll.data.isEmpty)
        #expect(decoder.counters.frames == 3)
        #expect(decoder.counters.garbageBytes == 0)
    }

    @Test("every frame decodes identically whole, byte by byte, and split at every position")
    func splitAnywhere() {
        for frame in Self.frames {
            var whole = OSDPFrameDecoder()
            let expected = packets(whole.feed(frame))
            #expect(expected.count == 1)

            var single = OSDPFrameDecoder()
            var collected: [OSDPPacket] = []
            for (index, byte) in frame.enumerated() {
                let out = packets(single.feed([byte]))
                if index < frame.count - 1 { #expect(out.isEmpty) }
                collected += out
            }
            #expect(collected == expected)

            let failures = chunkingFailures(decoding: frame, expecting: expected) {
                var decoder = OSDPFrameDecoder()
                return ({ chunk in packets(decoder.feed(chunk)) }, nil)
            }
            #expect(failures.isEmpty, "\(failures)")
        }
    }

    @Test("all frames back to back in one chunk decode in order")
    func backToBack() {
        var decoder = OSDPFrameDecoder()
        let stream = Self.frames.flatMap { $0 }
        let decoded = packets(decoder.feed(stream))
        #expect(decoded.count == Self.frames.count)
        var reference: [OSDPPacket] = []
        for frame in Self.frames {
            var single = OSDPFrameDecoder()
            reference += packets(single.feed(frame))
        }
        #expect(decoded == reference)
    }

    @Test("garbage before, between and after frames is skipped and counted; FF marks are not garbage")
    func garbage() {
        var decoder = OSDPFrameDecoder()
        let noise: [UInt8] = [0x00, 0x12, 0xFF, 0xFF, 0x99]
        let stream = noise + RecordedFrames.idCRC + [0x01, 0x02] + RecordedFrames.poll65 + [0x7E]
        let decoded = packets(decoder.feed(stream))
        #expect(decoded.map(\.code) == [0x61, 0x60])
        #expect(decoder.counters.garbageBytes == 3 + 2 + 1)
    }

    @Test("a bad CRC is rejected with its header, and a good frame right after it still decodes")
    func badCheckThenGood() throws {
        var corrupted = RecordedFrames.idCRC
        corrupted[corrupted.count - 1] ^= 0x01
        var decoder = OSDPFrameDecoder()
        let outputs = decoder.feed(corrupted + RecordedFrames.poll65)
        #expect(rejections(outputs) == [.badCheck(address: 0, isReply: false, sequence: 0)])
        #expect(packets(outputs).map(\.code) == [0x60])
        #expect(decoder.counters.badChecks == 1)
        #expect(decoder.counters.frames == 1)
    }

    @Test("a flipped bit anywhere in a frame never yields a packet")
    func everyBitFlipIsRejected() {
        for frame in [RecordedFrames.idCRC, RecordedFrames.comSetCRC] {
            for index in 1..<frame.count {
                for bit in 0..<8 {
                    var corrupted = frame
                    corrupted[index] ^= UInt8(1 << bit)
                    var decoder = OSDPFrameDecoder()
                    let decoded = packets(decoder.feed(corrupted))
                    // A flip in the length field may leave the decoder waiting; it must not produce a frame.
                    #expect(decoded.isEmpty, "flip of bit \(bit) in byte \(index)")
                }
            }
        }
    }

    @Test("a stray SOM inside noise does not swallow the real frame behind it")
    func straySOM() {
        var decoder = OSDPFrameDecoder()
        // 53 followed by a plausible but wrong header, then the real frame.
        let stream: [UInt8] = [0x53, 0x01, 0x0A, 0x00] + RecordedFrames.poll65 + RecordedFrames.idCRC
        let decoded = packets(decoder.feed(stream))
        #expect(decoded.map(\.code).suffix(2) == [0x60, 0x61])
    }

    @Test("impossible lengths are rejected")
    func badLengths() {
        var decoder = OSDPFrameDecoder()
        let outputs = decoder.feed([0x53, 0x01, 0x03, 0x00, 0x04] + [0x53, 0x01, 0xFF, 0xFF, 0x04] + RecordedFrames.idCRC)
        #expect(rejections(outputs) == [.badLength(3), .badLength(0xFFFF)])
        #expect(packets(outputs).count == 1)
        #expect(decoder.counters.badLengths == 2)
    }

    @Test("a security block longer than the frame is malformed")
    func malformedSecurityBlock() {
        var frame: [UInt8] = [0x53, 0x81, 0x00, 0x00, 0x0C, 0x09, 0x16, 0x40]
        frame[2] = UInt8(frame.count + 2)
        frame += OSDPCheck.crc16.bytes(for: frame)
        var decoder = OSDPFrameDecoder()
        #expect(rejections(decoder.feed(frame)) == [.malformed(address: 1, isReply: true, sequence: 0)])
    }

    @Test("inter-character timeout: a gap over 20 ms inside a frame drops it; a gap between frames does not")
    func interCharacterTimeout() {
        let frame = RecordedFrames.id65
        var decoder = OSDPFrameDecoder()
        #expect(decoder.feed(frame[0..<4], now: .milliseconds(100)).isEmpty)
        let late = decoder.feed(frame[4...], now: .milliseconds(125))
        #expect(rejections(late) == [.interCharacterTimeout(bufferedBytes: 3)])
        #expect(packets(late).isEmpty)
        #expect(decoder.counters.interCharacterTimeouts == 1)

        var onTime = OSDPFrameDecoder()
        #expect(onTime.feed(frame[0..<4], now: .milliseconds(100)).isEmpty)
        #expect(packets(onTime.feed(frame[4...], now: .milliseconds(119))).count == 1)
        #expect(packets(onTime.feed(frame, now: .seconds(5))).count == 1)

        // Empty reads (a poll that timed out) do not count as bytes arriving.
        var quiet = OSDPFrameDecoder()
        _ = quiet.feed(frame[0..<6], now: .zero)
        #expect(quiet.feed([], now: .milliseconds(15)).isEmpty)
        #expect(quiet.feed([], now: .milliseconds(30)) == [.rejected(.interCharacterTimeout(bufferedBytes: 5))])

        var idle = OSDPFrameDecoder()
        _ = idle.feed(frame[0..<6], now: .zero)
        #expect(idle.advance(to: .milliseconds(10)).isEmpty)
        #expect(idle.advance(to: .milliseconds(21)) == [.rejected(.interCharacterTimeout(bufferedBytes: 5))])
        #expect(idle.bufferedByteCount == 0)
    }

    @Test("the decoder never holds more than one maximal frame")
    func bounded() {
        var decoder = OSDPFrameDecoder()
        _ = decoder.feed([0x53, 0x01, 0xA0, 0x05, 0x04] + [UInt8](repeating: 0x11, count: 3000))
        #expect(decoder.bufferedByteCount <= OSDPPacket.maximumLength)
    }
}
