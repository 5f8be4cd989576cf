// libFuzzer harness: LineIdentifier (`station-agent identify`), fed the input in chunks at the
// speed and with the quiet moments the input's bytes choose. Built with DeviceProtocols'
// sources by Fuzz/run.sh.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLineIdentifier(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let first = bytes.first else { return 0 }
    let chunk = Int(first % 13) + 1
    let body = bytes.dropFirst()
    var identifier = LineIdentifier()
    var fed = 0
    var index = body.startIndex
    while index < body.endIndex {
        let end = body.index(index, offsetBy: chunk, limitedBy: body.endIndex) ?? body.endIndex
        let speed: LineIdentifier.Speed = body[index] & 0x80 == 0 ? .readers : .alarmBox
        var findings = [identifier.feed(Array(body[index..<end]), at: speed)]
        fed += end - index
        if body[index] & 0x1F == 0 { findings.append(identifier.noteLineIdle()) }
        for case .cardReader(let profile, let card, let alsoFits)? in findings {
            // A verdict is a plausible card of the profile named, never a profile twice.
            precondition(card.uid.count >= 6, "a \(card.uid.count)-character card")
            precondition(card.format == profile.cardFormat, "\(card.format) from \(profile)")
            precondition(!alsoFits.contains(profile), "\(profile) named twice")
        }
        index = end
    }
    precondition(identifier.bytesHeard.values.reduce(0, +) == fed, "bytes heard \(identifier.bytesHeard), fed \(fed)")
    return 0
}
