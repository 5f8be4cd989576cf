import DeviceProtocols
import SeededRandom
import Testing

@Suite("text-hex (a hex UID per line)")
struct TextHexTests {
    private let profile = ReaderProfile.textHex

    @Test("encode writes the upper-cased UID and CR LF")
    func knownVector() throws {
        #expect(try profile.encode(uid: "04a2b3c4") == [0x30, 0x34, 0x41, 0x32, 0x42, 0x33, 0x43, 0x34, 0x0D, 0x0A])
    }

    @Test("CR, LF and CRLF all end a line; empty lines are ignored silently")
    func lineEnds() {
        let result = decode(profile, chunks: [ascii("04A2B3C4\r1A2B\n0a0b0c0d\r\n\r\n\n\r\r\n")])
        #expect(result.cards.map(\.uid) == ["04A2B3C4", "1A2B", "0A0B0C0D"])
        #expect(result.cards.allSatisfy { $0.format == .hex })
        #expect(result.counters == DecoderCounters(frames: 3))
    }

    @Test("spaces and tabs around the UID are trimmed")
    func trimming() {
        let result = decode(profile, chunks: [ascii("  04A2B3C4 \t\r\n\t1A2B\r\n")])
        #expect(result.cards.map(\.uid) == ["04A2B3C4", "1A2B"])
        #expect(result.counters == DecoderCounters(frames: 2))
    }

    @Test("shortest and longest UIDs are accepted", arguments: [4, 6, 8, 14, 20])
    func lengthsAccepted(length: Int) {
        let uid = String(repeating: "A", count: length)
        let result = decode(profile, chunks: [ascii(uid + "\r\n")])
        #expect(result.cards.map(\.uid) == [uid])
    }

    @Test("invalid lines are counted and the next good line still decodes",
          arguments: ["04A2B", "04", "0", "04A", "0123456789ABCDEF012345", "04G2", "04A2 B3C4", "0x04A2", "-", "UID:04A2"])
    func invalidLines(line: String) {
        let result = decode(profile, chunks: [ascii(line + "\r\n04A2B3C4\r\n")])
        #expect(result.cards.map(\.uid) == ["04A2B3C4"], "line \(line)")
        #expect(result.counters == DecoderCounters(frames: 1, invalidLines: 1), "line \(line)")
    }

    @Test("garbage before, between and after lines")
    func garbageAroundLines() {
        var decoder = profile.makeDecoder()
        // NUL and 0xFF noise before a line's first character is dropped; the line still decodes.
        var cards = decoder.feed([0x00, 0xFF] + ascii("04A2B3C4\r\n"))
        // A printable junk line between two cards is an invalid line.
        cards += decoder.feed(ascii("hello\r\n1A2B\r\n"))
        // Noise inside a line spoils that line.
        cards += decoder.feed(ascii("04A2") + [0x00] + ascii("B3C4\r\n"))
        // Junk after the last card without a line end is held, then dropped when the line goes idle.
        cards += decoder.feed(ascii("zz"))
        #expect(cards.map(\.uid) == ["04A2B3C4", "1A2B"])
        #expect(decoder.counters == DecoderCounters(frames: 2, garbageBytes: 3, invalidLines: 2))
        #expect(decoder.bufferedByteCount == 2)
        decoder.noteLineIdle()
        #expect(decoder.counters == DecoderCounters(frames: 2, garbageBytes: 5, invalidLines: 2))
        #expect(decoder.feed(ascii("0A0B\r\n")).map(\.uid) == ["0A0B"])
    }

    @Test("an over-long line is counted once and dropped up to the next line end")
    func overlongLine() {
        let result = decode(profile, chunks: [ascii(String(repeating: "A", count: 100) + "\r\n04A2B3C4\r\n")])
        #expect(result.cards.map(\.uid) == ["04A2B3C4"])
        #expect(result.counters == DecoderCounters(frames: 1, overlongLines: 1))
    }

    @Test("64 bytes is the longest line; 65 is over-long")
    func lineLengthBoundary() {
        let exactly64 = decode(profile, chunks: [ascii(String(repeating: "A", count: 64) + "\n")])
        #expect(exactly64.counters == DecoderCounters(invalidLines: 1))
        let sixtyFive = decode(profile, chunks: [ascii(String(repeating: "A", count: 65) + "\n")])
        #expect(sixtyFive.counters == DecoderCounters(overlongLines: 1))
    }

    @Test("an endless line without a terminator holds no more than 64 bytes and is counted once")
    func endlessLine() {
        var decoder = profile.makeDecoder()
        var rng = SplitMix64(seed: 7)
        for _ in 0..<1000 {
            let chunk = (0..<Int.random(in: 1...50, using: &rng)).map { _ in UInt8(ascii: "A") }
            #expect(decoder.feed(chunk).isEmpty)
            #expect(decoder.bufferedByteCount <= CardFrameDecoder.maximumLineLength)
        }
        #expect(decoder.counters == DecoderCounters(overlongLines: 1))
        #expect(decoder.feed(ascii("\n1A2B\n")).map(\.uid) == ["1A2B"])
    }

    @Test("encode rejects UIDs that are odd, too short, too long or not hex")
    func encodeRejects() {
        for uid in ["", "04A", "04", "0123456789ABCDEF012345", "04G2", "04 A2"] {
            #expect(throws: CardEncodingError.self, "uid \(uid)") { try profile.encode(uid: uid) }
        }
    }
}

@Suite("text-decimal (a decimal number per line)")
struct TextDecimalTests {
    private let profile = ReaderProfile.textDecimal

    @Test("encode writes the digits as given and CR LF")
    func knownVector() throws {
        #expect(try profile.encode(uid: "0012345678") == ascii("0012345678") + [0x0D, 0x0A])
    }

    @Test("leading zeros are kept, any line end works, empty lines are ignored")
    func decodesAsPrinted() {
        let result = decode(profile, chunks: [ascii("0012345678\r\n7\n\n  42 \r\r\n")])
        #expect(result.cards == [
            DecodedCard(uid: "0012345678", format: .decimal),
            DecodedCard(uid: "7", format: .decimal),
            DecodedCard(uid: "42", format: .decimal),
        ])
        #expect(result.counters == DecoderCounters(frames: 3))
    }

    @Test("invalid lines are counted and the next good line still decodes",
          arguments: ["123,45678", "-5", "12AB", "123456789012345678901", "1 2", "+12", "0x12", "12.0"])
    func invalidLines(line: String) {
        let result = decode(profile, chunks: [ascii(line + "\r\n0012345678\r\n")])
        #expect(result.cards.map(\.uid) == ["0012345678"], "line \(line)")
        #expect(result.counters == DecoderCounters(frames: 1, invalidLines: 1), "line \(line)")
    }

    @Test("an over-long line followed by a good line")
    func overlongLine() {
        let result = decode(profile, chunks: [ascii(String(repeating: "9", count: 500)), ascii("\r\n0012345678\r\n")])
        #expect(result.cards.map(\.uid) == ["0012345678"])
        #expect(result.counters == DecoderCounters(frames: 1, overlongLines: 1))
    }

    @Test("garbage bytes before and between lines")
    func garbage() {
        let result = decode(profile, chunks: [[0xFF, 0xFE] + ascii("0012345678\r\n") + [0x1B] + ascii("\r\n99\r\n")])
        #expect(result.cards.map(\.uid) == ["0012345678", "99"])
        #expect(result.counters == DecoderCounters(frames: 2, garbageBytes: 3))
    }

    @Test("encode rejects UIDs that are not 1 to 20 digits")
    func encodeRejects() {
        for uid in ["", "12A", "123456789012345678901", " 12", "-1", "١٢"] {
            #expect(throws: CardEncodingError.self, "uid \(uid)") { try profile.encode(uid: uid) }
        }
    }
}
