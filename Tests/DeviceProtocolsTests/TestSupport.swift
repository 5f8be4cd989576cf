import DeviceProtocols
import SeededRandom


/// The bytes of an ASCII string.
func ascii(_ text: String) -> [UInt8] {
    Array(text.utf8)
}

/// Feeds `chunks` in order to a fresh decoder and returns every card and the final counters.
func decode(_ profile: ReaderProfile, chunks: [[UInt8]]) -> (cards: [DecodedCard], counters: DecoderCounters) {
    var decoder = profile.makeDecoder()
    var cards: [DecodedCard] = []
    for chunk in chunks {
        cards += decoder.feed(chunk)
    }
    return (cards, decoder.counters)
}

/// `bytes` cut at the given ascending offsets.
func split(_ bytes: [UInt8], at offsets: [Int]) -> [[UInt8]] {
    var chunks: [[UInt8]] = []
    var start = 0
    for offset in offsets {
        chunks.append(Array(bytes[start..<offset]))
        start = offset
    }
    chunks.append(Array(bytes[start...]))
    return chunks
}

/// Hand-picked UIDs, including the shortest, longest, all-zero and all-F cases for each profile.
/// The lower-case ones check normalisation.
func sampleUIDs(_ profile: ReaderProfile) -> [String] {
    switch profile {
    case .rdm6300, .em18:
        ["1A002F4B6C", "0000000000", "FFFFFFFFFF", "62e3086ced", "0F00000001"]
    case .textHex:
        ["04A2B3C4", "1a2b", "04a2b3c4d5e6f7", "00000000000000000000", "FFFFFFFFFFFFFFFFFFFF"]
    case .textDecimal:
        ["0012345678", "1", "0", "99999999999999999999", "00000000000000000000"]
    }
}

/// A random valid UID for `profile`.
func randomUID(_ profile: ReaderProfile, using rng: inout SplitMix64) -> String {
    let hexDigits = Array("0123456789ABCDEFabcdef")
    switch profile {
    case .rdm6300, .em18:
        return String((0..<10).map { _ in hexDigits.randomElement(using: &rng)! })
    case .textHex:
        let count = 2 * Int.random(in: 2...10, using: &rng)
        return String((0..<count).map { _ in hexDigits.randomElement(using: &rng)! })
    case .textDecimal:
        let count = Int.random(in: 1...20, using: &rng)
        return String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
    }
}

/// The card a decoder must report for `uid` under `profile`.
func expectedCard(_ profile: ReaderProfile, _ uid: String) -> DecodedCard {
    DecodedCard(uid: profile == .textDecimal ? uid : uid.uppercased(), format: profile.cardFormat)
}

/// Bytes that bring any decoder back to a frame boundary, whatever it was fed before:
/// nothing is needed for rdm6300 (STX restarts a frame); a non-hex byte for em18; a line end for text.
func resynchronisation(_ profile: ReaderProfile) -> [UInt8] {
    switch profile {
    case .rdm6300: []
    case .em18: [0xFF]
    case .textHex, .textDecimal: [0x0A]
    }
}

/// Random bytes, half of them drawn from the bytes that matter to the decoders.
func randomBytes(count: Int, using rng: inout SplitMix64) -> [UInt8] {
    let interesting = ascii("0123456789ABCDEFabcdef \t") + [0x02, 0x03, 0x0D, 0x0A, 0x00, 0xFF]
    return (0..<count).map { _ in
        Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
    }
}
