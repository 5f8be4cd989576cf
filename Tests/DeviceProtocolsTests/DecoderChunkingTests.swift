import DeviceProtocols
import SeededRandom
import TestSupport
import Testing

/// Properties every profile's decoder must have, whatever the chunking of its input.
@Suite("Decoding in any chunking, every profile")
struct DecoderChunkingTests {
    /// All sample UIDs of the profile, encoded back to back.
    private func sampleStream(_ profile: ReaderProfile) throws -> (bytes: [UInt8], cards: [DecodedCard]) {
        let uids = sampleUIDs(profile)
        var bytes: [UInt8] = []
        for uid in uids {
            bytes += try profile.encode(uid: uid)
        }
        return (bytes, uids.map { expectedCard(profile, $0) })
    }

    @Test("each frame fed whole decodes to one card", arguments: ReaderProfile.allCases)
    func wholeFrames(profile: ReaderProfile) throws {
        for uid in sampleUIDs(profile) {
            let result = decode(profile, chunks: [try profile.encode(uid: uid)])
            #expect(result.cards == [expectedCard(profile, uid)], "uid \(uid)")
            #expect(result.counters == DecoderCounters(frames: 1), "uid \(uid)")
        }
    }

    @Test("several frames in one chunk", arguments: ReaderProfile.allCases)
    func manyFramesInOneChunk(profile: ReaderProfile) throws {
        let stream = try sampleStream(profile)
        let result = decode(profile, chunks: [stream.bytes])
        #expect(result.cards == stream.cards)
        #expect(result.counters == DecoderCounters(frames: stream.cards.count))
    }

    @Test("frames fed one byte at a time", arguments: ReaderProfile.allCases)
    func byteByByte(profile: ReaderProfile) throws {
        let stream = try sampleStream(profile)
        var decoder = profile.makeDecoder()
        var cards: [DecodedCard] = []
        for (index, byte) in stream.bytes.enumerated() {
            let produced = decoder.feed([byte])
            cards += produced
            // A card appears exactly when the last byte of its frame arrives.
            #expect(produced.count <= 1, "byte \(index)")
        }
        #expect(cards == stream.cards)
        #expect(decoder.counters == DecoderCounters(frames: stream.cards.count))
        #expect(decoder.bufferedByteCount == 0)
    }

    /// What a chunking run yields: the cards, then the decoder's counters at the end.
    enum Decoded: Equatable {
        case card(DecodedCard)
        case counters(DecoderCounters)
    }

    /// Every card of `uids`, then counters of exactly that many frames, however `bytes` is cut.
    func chunkingFailures(_ profile: ReaderProfile, _ bytes: [UInt8], _ uids: [String], chunkings: [Chunking]? = nil) -> [String] {
        let expected = uids.map { Decoded.card(expectedCard(profile, $0)) } + [.counters(DecoderCounters(frames: uids.count))]
        return TestSupport.chunkingFailures(decoding: bytes, expecting: expected, chunkings: chunkings) {
            var decoder = profile.makeDecoder()
            return (
                { chunk in decoder.feed(chunk).map(Decoded.card) },
                {
                    decoder.noteLineIdle()  // what the reader's service does when the line goes quiet
                    return [.counters(decoder.counters)]
                }
            )
        }
    }

    @Test("two frames whole, byte by byte, split at every position and every pair of positions", arguments: ReaderProfile.allCases)
    func everyCutting(profile: ReaderProfile) throws {
        let uids = Array(sampleUIDs(profile).prefix(2))
        let bytes = try uids.flatMap { try profile.encode(uid: $0) }
        let failures = chunkingFailures(profile, bytes, uids)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test("many frames split at random positions (seeded)", arguments: ReaderProfile.allCases)
    func randomSplits(profile: ReaderProfile) throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        for round in 0..<20 {
            let uids = (0..<Int.random(in: 1...12, using: &rng)).map { _ in randomUID(profile, using: &rng) }
            let bytes = try uids.flatMap { try profile.encode(uid: $0) }
            let chunkings = Chunking.all(count: bytes.count, pairsUpTo: 0, randomRounds: 15, seed: UInt64(round))
            let failures = chunkingFailures(profile, bytes, uids, chunkings: chunkings)
            #expect(failures.isEmpty, "round \(round): \(failures)")
        }
    }

    @Test("encode then decode round-trips 2000 random UIDs", arguments: ReaderProfile.allCases)
    func roundTrip(profile: ReaderProfile) throws {
        var rng = SplitMix64(seed: 0xC0FF_EE00 &+ UInt64(profile.rawValue.utf8.count))
        var decoder = profile.makeDecoder()
        for _ in 0..<2000 {
            let uid = randomUID(profile, using: &rng)
            let cards = decoder.feed(try profile.encode(uid: uid))
            #expect(cards == [expectedCard(profile, uid)], "uid \(uid)")
            #expect(try profile.normalizedUID(uid) == expectedCard(profile, uid).uid)
        }
        #expect(decoder.counters == DecoderCounters(frames: 2000))
    }

    @Test("random bytes never crash, counters stay consistent, decoder recovers", arguments: ReaderProfile.allCases)
    func randomBytesRobustness(profile: ReaderProfile) throws {
        var rng = SplitMix64(seed: 0xBAD_B17E5)
        var decoder = profile.makeDecoder()
        var previous = decoder.counters
        var cardsReturned = 0
        for chunkIndex in 0..<4000 {
            let chunk = randomBytes(count: Int.random(in: 0...80, using: &rng), using: &rng)
            let cards = decoder.feed(chunk)
            cardsReturned += cards.count
            let now = decoder.counters
            // Counts only grow, and `frames` is exactly the number of cards handed out.
            #expect(now.frames >= previous.frames && now.badChecksum >= previous.badChecksum
                && now.garbageBytes >= previous.garbageBytes && now.overlongLines >= previous.overlongLines
                && now.invalidLines >= previous.invalidLines, "chunk \(chunkIndex)")
            #expect(now.frames == cardsReturned, "chunk \(chunkIndex)")
            #expect(decoder.bufferedByteCount <= CardFrameDecoder.maximumLineLength, "chunk \(chunkIndex)")
            // Whatever it decodes from noise is still a well-formed UID of the profile.
            for card in cards {
                #expect(card.format == profile.cardFormat)
                #expect(try profile.normalizedUID(card.uid) == card.uid)
            }
            previous = now
        }
        #expect(previous.garbageBytes + previous.badChecksum + previous.invalidLines + previous.overlongLines > 0)
        if profile == .rdm6300 || profile == .em18 {
            #expect(previous.overlongLines == 0 && previous.invalidLines == 0)
        }
        // After any noise, a frame boundary and one good frame give exactly that card.
        let cards = decoder.feed(resynchronisation(profile) + (try profile.encode(uid: sampleUIDs(profile)[0])))
        #expect(cards == [expectedCard(profile, sampleUIDs(profile)[0])])
    }

    @Test("a partial frame is kept across feeds and dropped as garbage when the line goes idle",
          arguments: ReaderProfile.allCases)
    func idleDropsPartialFrame(profile: ReaderProfile) throws {
        let frame = try profile.encode(uid: sampleUIDs(profile)[0])
        var decoder = profile.makeDecoder()
        #expect(decoder.feed(frame.prefix(5)).isEmpty)
        #expect(decoder.bufferedByteCount == 5)
        decoder.noteLineIdle()
        #expect(decoder.bufferedByteCount == 0)
        #expect(decoder.counters == DecoderCounters(garbageBytes: 5))
        // The dropped bytes do not stick to the next frame: it decodes with no separator.
        let cards = decoder.feed(frame)
        #expect(cards == [expectedCard(profile, sampleUIDs(profile)[0])])
        #expect(decoder.counters == DecoderCounters(frames: 1, garbageBytes: 5))
    }
}
