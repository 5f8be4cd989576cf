// libFuzzer harness: OSDPFrameDecoder (SOM hunting, length, CRC/checksum, inter-character
// timeout) fed in chunks with a clock. Built with OSDP's framing sources by Fuzz/run.sh.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOSDPFrameDecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let first = bytes.first else { return 0 }
    let chunk = Int(first % 13) + 1
    var decoder = OSDPFrameDecoder()
    var now = Duration.zero
    var index = 1
    var packets = 0
    while index < bytes.count {
        let end = min(bytes.count, index + chunk)
        for output in decoder.feed(bytes[index..<end], now: now) {
            if case .packet = output { packets += 1 }
        }
        now += .milliseconds(Int(bytes[index] % 40))
        _ = decoder.advance(to: now)
        index = end
    }
    // A packet takes at least 7 bytes on the wire (SOM, address, length, control, code, checksum).
    precondition(packets * 7 <= bytes.count, "\(packets) packets from \(bytes.count) bytes")
    return 0
}
