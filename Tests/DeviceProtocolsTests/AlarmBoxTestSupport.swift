import DeviceProtocols

// Helpers for the alarm box tests. Names carry an `alarmBox`/`AlarmBox` prefix so they cannot
// collide with the helpers of the other DeviceProtocols tests.

/// A deterministic random generator (xorshift64*) so lossy-line runs repeat exactly.
struct AlarmBoxTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
    }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    /// True with probability `probability`.
    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }
}

/// Bytes from a hex string such as `"7E 11 05"` (spaces ignored).
func alarmBoxHex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    precondition(digits.count.isMultiple(of: 2), "odd number of hex digits in \(text)")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// The bytes written by `outputs`, one array per write.
func alarmBoxWrites(_ outputs: [AlarmBoxLink.Action]) -> [[UInt8]] {
    outputs.compactMap {
        if case .write(let bytes) = $0 { return bytes }
        return nil
    }
}

/// The bytes written by `outputs`, one array per write.
func alarmBoxWrites(_ outputs: [AlarmBoxDevice.Action]) -> [[UInt8]] {
    outputs.compactMap {
        if case .write(let bytes) = $0 { return bytes }
        return nil
    }
}

/// The events among `outputs`.
func alarmBoxEvents(_ outputs: [AlarmBoxLink.Action]) -> [AlarmBoxEvent] {
    outputs.compactMap {
        if case .event(let event) = $0 { return event }
        return nil
    }
}

/// The outputs that are not writes.
func alarmBoxNonWrites(_ outputs: [AlarmBoxLink.Action]) -> [AlarmBoxLink.Action] {
    outputs.filter {
        if case .write = $0 { return false }
        return true
    }
}

/// The frames in `bytes`, decoded by a fresh decoder.
func alarmBoxFrames(_ bytes: [UInt8]) -> [AlarmBoxFrame] {
    var decoder = AlarmBoxFrameDecoder()
    return decoder.feed(bytes)
}

/// The single frame written in `outputs`; nil unless there is exactly one write holding exactly one frame.
func alarmBoxSingleFrame(_ outputs: [AlarmBoxLink.Action]) -> AlarmBoxFrame? {
    let writes = alarmBoxWrites(outputs)
    guard writes.count == 1 else { return nil }
    let frames = alarmBoxFrames(writes[0])
    return frames.count == 1 ? frames[0] : nil
}

/// The frames written in `outputs`, in order.
func alarmBoxWrittenFrames(_ outputs: [AlarmBoxDevice.Action]) -> [AlarmBoxFrame] {
    alarmBoxWrites(outputs).flatMap(alarmBoxFrames)
}

/// The encoded ACK the host or box sends for `frame`.
func alarmBoxAck(for frame: AlarmBoxFrame, _ result: AlarmBoxAckResult = .accepted) -> [UInt8] {
    AlarmBoxFrame.ack(type: frame.type, sequence: frame.sequence, result: result).encoded()
}

/// The status used by the worked examples of the protocol document: button down and latched,
/// showing `stored`, firmware 1.2, heartbeat 10 s, uptime 32349 s (0x7E5D, which needs stuffing).
let alarmBoxExampleStatus = AlarmBoxStatus(
    buttonDown: true, latched: true, indication: .stored,
    firmwareVersion: AlarmBoxFirmwareVersion(major: 1, minor: 2), heartbeatIntervalSeconds: 10, uptimeSeconds: 0x7E5D)
