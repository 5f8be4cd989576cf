// libFuzzer harness: AlarmBoxLink's receive path (framing, CRC, acknowledgements, duplicate
// suppression) driven by arbitrary bytes and clock ticks. Built with DeviceProtocols' sources.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAlarmBoxLink(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    var link = AlarmBoxLink()
    var now = Duration.zero
    var index = 0
    while index < bytes.count {
        let length = Int(bytes[index] % 32) + 1
        let end = min(bytes.count, index + 1 + length)
        if index + 1 < end {
            _ = link.received(bytes[(index + 1)..<end], now: now)
        }
        now += .milliseconds(Int(bytes[index]) * 4)
        _ = link.tick(now: now)
        index = end
    }
    return 0
}
