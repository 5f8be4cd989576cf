import DeviceProtocols
import Testing

/// Card 1A 00 2F 4B 6C. Checksum by hand, XOR of the five data bytes:
///   0x1A ^ 0x00 = 0x1A (0001 1010)
///   0x1A ^ 0x2F = 0x35 (0001 1010 ^ 0010 1111 = 0011 0101)
///   0x35 ^ 0x4B = 0x7E (0011 0101 ^ 0100 1011 = 0111 1110)
///   0x7E ^ 0x6C = 0x12 (0111 1110 ^ 0110 1100 = 0001 0010)
/// so the 12 ASCII characters are "1A002F4B6C" + "12".
private let card1A002F4B6C: [UInt8] = [0x31, 0x41, 0x30, 0x30, 0x32, 0x46, 0x34, 0x42, 0x36, 0x43, 0x31, 0x32]

/// Card 62 E3 08 6C ED: 0x62 ^ 0xE3 = 0x81; 0x81 ^ 0x08 = 0x89; 0x89 ^ 0x6C = 0xE5; 0xE5 ^ 0xED = 0x08.
private let card62E3086CED = ascii("62E3086CED08")

/// Card 0F 00 00 00 01: 0x0F ^ 0x00 ^ 0x00 ^ 0x00 ^ 0x01 = 0x0E.
private let card0F00000001 = ascii("0F000000010E")

/// "1A002F4B6C" with checksum 13 instead of 12.
private let badChecksumCode = ascii("1A002F4B6C13")

@Suite("RDM6300 (STX, 12 hex characters, ETX)")
struct RDM6300Tests {
    private let profile = ReaderProfile.rdm6300

    @Test("known frames encode to the hand-computed bytes and decode back")
    func knownVectors() throws {
        let frame: [UInt8] = [0x02] + card1A002F4B6C + [0x03]
        #expect(frame == [0x02, 0x31, 0x41, 0x30, 0x30, 0x32, 0x46, 0x34, 0x42, 0x36, 0x43, 0x31, 0x32, 0x03])
        #expect(try profile.encode(uid: "1A002F4B6C") == frame)
        #expect(try profile.encode(uid: "1a002f4b6c") == frame)
        #expect(try profile.encode(uid: "62E3086CED") == [0x02] + card62E3086CED + [0x03])
        #expect(try profile.encode(uid: "0F00000001") == [0x02] + card0F00000001 + [0x03])

        let result = decode(profile, chunks: [frame, [0x02] + card62E3086CED + [0x03], [0x02] + card0F00000001 + [0x03]])
        #expect(result.cards.map(\.uid) == ["1A002F4B6C", "62E3086CED", "0F00000001"])
        #expect(result.cards.allSatisfy { $0.format == .em4100 })
        #expect(result.counters == DecoderCounters(frames: 3))
    }

    @Test("lower-case hex on the wire is accepted and upper-cased")
    func lowerCaseOnTheWire() {
        let result = decode(profile, chunks: [[0x02] + ascii("62e3086ced08") + [0x03]])
        #expect(result.cards == [DecodedCard(uid: "62E3086CED", format: .em4100)])
    }

    @Test("a bad checksum is counted and the next good frame still decodes")
    func badChecksum() {
        let result = decode(profile, chunks: [[0x02] + badChecksumCode + [0x03, 0x02] + card62E3086CED + [0x03]])
        #expect(result.cards.map(\.uid) == ["62E3086CED"])
        #expect(result.counters == DecoderCounters(frames: 1, badChecksum: 1))
    }

    @Test("garbage before, between and after frames is counted and skipped")
    func garbageAroundFrames() {
        let good: [UInt8] = [0x02] + card1A002F4B6C + [0x03]
        let before: [UInt8] = [0xFF, 0x00] + ascii("AB")  // 4 bytes before any STX
        let between: [UInt8] = ascii("xyz") + [0x03]        // 4 bytes, ETX alone is garbage too
        let after: [UInt8] = [0x02] + ascii("123")          // an unfinished frame: 4 bytes held
        var decoder = profile.makeDecoder()
        let cards = decoder.feed(before + good + between + good + after)
        #expect(cards.map(\.uid) == ["1A002F4B6C", "1A002F4B6C"])
        #expect(decoder.counters == DecoderCounters(frames: 2, garbageBytes: 8))
        #expect(decoder.bufferedByteCount == 4)
        decoder.noteLineIdle()
        #expect(decoder.counters == DecoderCounters(frames: 2, garbageBytes: 12))
    }

    @Test("a frame cut short by a new STX is dropped and the new frame decodes")
    func restartOnStart() {
        let result = decode(profile, chunks: [[0x02] + ascii("1A00") + [0x02] + card62E3086CED + [0x03]])
        #expect(result.cards.map(\.uid) == ["62E3086CED"])
        #expect(result.counters == DecoderCounters(frames: 1, garbageBytes: 5))
    }

    @Test("a non-hex byte inside a frame abandons it")
    func nonHexInsideFrame() {
        let result = decode(profile, chunks: [[0x02] + ascii("1A00G") + [0x02] + card0F00000001 + [0x03]])
        #expect(result.cards.map(\.uid) == ["0F00000001"])
        // STX, "1A00" and "G".
        #expect(result.counters == DecoderCounters(frames: 1, garbageBytes: 6))
    }

    @Test("a missing ETX abandons the frame")
    func missingEnd() {
        let result = decode(profile, chunks: [[0x02] + card1A002F4B6C + ascii("X") + [0x02] + card62E3086CED + [0x03]])
        #expect(result.cards.map(\.uid) == ["62E3086CED"])
        #expect(result.counters == DecoderCounters(frames: 1, garbageBytes: 14))
    }

    @Test("a 13th hex character abandons the frame")
    func tooManyCharacters() {
        let result = decode(profile, chunks: [[0x02] + card1A002F4B6C + ascii("0") + [0x03, 0x02] + card0F00000001 + [0x03]])
        #expect(result.cards.map(\.uid) == ["0F00000001"])
        // STX + 12 + "0" abandoned, then the stray ETX.
        #expect(result.counters == DecoderCounters(frames: 1, garbageBytes: 15))
    }

    @Test("up to two CR/LF bytes before ETX are tolerated (ID-12 style), three are not")
    func carriageReturnBeforeEnd() {
        let crlf = decode(profile, chunks: [[0x02] + card1A002F4B6C + [0x0D, 0x0A, 0x03]])
        #expect(crlf.cards.map(\.uid) == ["1A002F4B6C"])
        #expect(crlf.counters == DecoderCounters(frames: 1))

        let three = decode(profile, chunks: [[0x02] + card1A002F4B6C + [0x0D, 0x0A, 0x0A, 0x03]])
        #expect(three.cards.isEmpty)
        // STX, 12 characters, CR, LF, then the third LF and the ETX.
        #expect(three.counters == DecoderCounters(garbageBytes: 17))
    }

    @Test("every single-byte corruption of a frame: never a wrong card, the next frame always decodes")
    func everySingleByteCorruption() {
        let good: [UInt8] = [0x02] + card1A002F4B6C + [0x03]
        let next: [UInt8] = [0x02] + card62E3086CED + [0x03]
        var detected = 0
        for position in good.indices {
            for value in UInt8.min...UInt8.max where value != good[position] {
                var corrupted = good
                corrupted[position] = value
                let result = decode(profile, chunks: [corrupted + next])
                #expect(result.cards.last?.uid == "62E3086CED", "byte \(position) = \(value)")
                // A lower-case twin of a hex letter still names the same card; nothing else may decode.
                #expect(result.cards.dropLast().allSatisfy { $0.uid == "1A002F4B6C" }, "byte \(position) = \(value)")
                if result.cards.count == 1 { detected += 1 }
            }
        }
        // Only the four upper-case letters (A, F, B, C) have a lower-case twin that decodes the same card.
        #expect(detected == good.count * 255 - 4)
    }

    @Test("encode rejects UIDs that are not 10 hex digits")
    func encodeRejects() {
        for uid in ["", "1A002F4B6", "1A002F4B6C0", "1A002F4B6G", "1A 02F4B6C", "１A002F4B6C"] {
            #expect(throws: CardEncodingError.self, "uid \(uid)") { try profile.encode(uid: uid) }
        }
    }
}

@Suite("EM-18 (12 hex characters, no framing)")
struct EM18Tests {
    private let profile = ReaderProfile.em18

    @Test("known codes encode to the hand-computed bytes and decode back")
    func knownVectors() throws {
        #expect(try profile.encode(uid: "1A002F4B6C") == card1A002F4B6C)
        #expect(try profile.encode(uid: "62e3086ced") == card62E3086CED)
        // The example published for these modules: 30 ^ 7E = 4E, 4E ^ 4D = 03, 03 ^ E5 = E6, E6 ^ C2 = 24.
        #expect(try profile.encode(uid: "307E4DE5C2") == ascii("307E4DE5C224"))
        let result = decode(profile, chunks: [card1A002F4B6C + card62E3086CED + card0F00000001])
        #expect(result.cards.map(\.uid) == ["1A002F4B6C", "62E3086CED", "0F00000001"])
        #expect(result.counters == DecoderCounters(frames: 3))
    }

    @Test("a card held on the reader: the same code repeated back to back decodes every time")
    func repeatedCode() {
        let result = decode(profile, chunks: [Array(repeating: card1A002F4B6C, count: 20).flatMap { $0 }])
        #expect(result.cards.count == 20)
        #expect(Set(result.cards.map(\.uid)) == ["1A002F4B6C"])
        #expect(result.counters == DecoderCounters(frames: 20))
    }

    @Test("hex garbage before a code: the window slides until the checksum matches")
    func resyncAfterHexGarbage() {
        let result = decode(profile, chunks: [ascii("ABC") + card1A002F4B6C + ascii("7") + card62E3086CED])
        #expect(result.cards.map(\.uid) == ["1A002F4B6C", "62E3086CED"])
        // Two windows fail where a code should start: "ABC1A002F4B6" at the beginning and
        // "762E3086CED0" after the first good code. "A", "B", "C" and "7" are slid past.
        #expect(result.counters.badChecksum == 2)
        #expect(result.counters.garbageBytes == 4)
        #expect(result.counters.frames == 2)
    }

    @Test("non-hex garbage between codes is counted; CR and LF are silent separators")
    func nonHexGarbage() {
        let result = decode(profile, chunks: [[0xFF] + card1A002F4B6C + [0x0D, 0x0A] + ascii("zz") + card0F00000001 + [0x00]])
        #expect(result.cards.map(\.uid) == ["1A002F4B6C", "0F00000001"])
        #expect(result.counters == DecoderCounters(frames: 2, garbageBytes: 4))
    }

    @Test("a non-hex byte inside a code drops the partial code")
    func nonHexInsideCode() {
        let result = decode(profile, chunks: [ascii("1A002F") + [0x00] + card62E3086CED])
        #expect(result.cards.map(\.uid) == ["62E3086CED"])
        #expect(result.counters == DecoderCounters(frames: 1, garbageBytes: 7))
    }

    @Test("a bad checksum is counted once and the next good code still decodes")
    func badChecksum() {
        let result = decode(profile, chunks: [card0F00000001 + badChecksumCode + card62E3086CED])
        #expect(result.cards.map(\.uid) == ["0F00000001", "62E3086CED"])
        // The 12 characters of the bad code are slid past one by one.
        #expect(result.counters == DecoderCounters(frames: 2, badChecksum: 1, garbageBytes: 12))
    }

    @Test("every single-byte corruption of a code followed by a quiet line: never a wrong card")
    func everySingleByteCorruption() {
        var detected = 0
        for position in card1A002F4B6C.indices {
            for value in UInt8.min...UInt8.max where value != card1A002F4B6C[position] {
                var corrupted = card1A002F4B6C
                corrupted[position] = value
                var decoder = profile.makeDecoder()
                let first = decoder.feed(corrupted)
                decoder.noteLineIdle()
                let second = decoder.feed(card62E3086CED)
                #expect(first.allSatisfy { $0.uid == "1A002F4B6C" }, "byte \(position) = \(value)")
                #expect(second.map(\.uid) == ["62E3086CED"], "byte \(position) = \(value)")
                if first.isEmpty { detected += 1 }
            }
        }
        #expect(detected == card1A002F4B6C.count * 255 - 4)
    }

    @Test("encode rejects UIDs that are not 10 hex digits")
    func encodeRejects() {
        for uid in ["", "ABCDEF", "1A002F4B6C12", "zz002F4B6C"] {
            #expect(throws: CardEncodingError.self, "uid \(uid)") { try profile.encode(uid: uid) }
        }
    }
}
