// libFuzzer harness: CardFrameDecoder for every reader profile, fed in the chunks the input's
// first byte chooses. Built with DeviceProtocols' sources by Fuzz/run.sh.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCardFrameDecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let first = bytes.first else { return 0 }
    let chunk = Int(first % 7) + 1
    let body = bytes.dropFirst()
    for profile in ReaderProfile.allCases {
        var decoder = CardFrameDecoder(profile: profile)
        var index = body.startIndex
        var cards = 0
        while index < body.endIndex {
            let end = body.index(index, offsetBy: chunk, limitedBy: body.endIndex) ?? body.endIndex
            cards += decoder.feed(body[index..<end]).count
            if (body[index] & 0x3F) == 0 { decoder.noteLineIdle() }
            index = end
        }
        // Whatever the input, the decoder cannot find more cards than it got bytes.
        precondition(cards <= body.count, "decoded \(cards) cards from \(body.count) bytes")
    }
    return 0
}
