// libFuzzer harness: OSDPBusScan (`station-agent setup`'s OSDP discovery), fed arbitrary reply
// bytes in chunks with clock steps and timeouts the input chooses. Built with OSDP's framing and
// message sources by Fuzz/run.sh.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOSDPBusScan(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let first = bytes.first else { return 0 }
    let chunk = Int(first % 29) + 1
    var scan = OSDPBusScan(addresses: 0...15, replyTimeout: .milliseconds(10), broadcastTimeout: .milliseconds(20))
    var now = Duration.zero
    var actions = scan.start(now: now)
    var found: [UInt8] = []
    var index = 1
    var steps = 0
    // Every step either takes bytes or reaches a deadline, so the scan must end: 5 speeds of 17
    // waits each at the most, however the bytes come.
    while !scan.isFinished {
        steps += 1
        precondition(steps < 100_000, "the scan never ended")
        var speedPending = false
        for action in actions {
            switch action {
            case .setSpeed:
                speedPending = true
            case .found(let finding):
                precondition(!found.contains(finding.address), "address \(finding.address) found twice")
                precondition(finding.address < 0x7F, "a broadcast address found")
                found.append(finding.address)
            case .send(let frame):
                precondition(frame.first == 0xFF && frame.count >= 8, "a malformed command")
            case .finished:
                break
            }
        }
        if speedPending {
            actions = scan.speedSet(now: now)
            continue
        }
        if index < bytes.count, bytes[index] & 0x03 != 0 {
            let end = min(bytes.count, index + chunk)
            now += .milliseconds(Int(bytes[index] % 7))
            actions = scan.receive(Array(bytes[index..<end]), now: now)
            index = end
        } else {
            index += 1
            guard let deadline = scan.nextDeadline else {
                precondition(scan.isFinished, "no deadline while the scan runs")
                break
            }
            now = max(now, deadline)
            actions = scan.tick(now: now)
        }
    }
    precondition(scan.findings.map(\.address) == found.sorted(), "findings \(scan.findings) but reported \(found)")
    return 0
}
