/// CRC-16/IBM-3740 (also known as CRC-16/CCITT-FALSE): polynomial 0x1021, initial value 0xFFFF,
/// no reflection, no final XOR. The check value (the CRC of the ASCII bytes `123456789`) is 0x29B1.
///
/// The alarm box protocol computes it over TYPE, SEQ, LEN and the payload (before byte stuffing)
/// and sends it high byte first.
///
/// ```swift
/// AlarmBoxCRC.compute(Array("123456789".utf8))   // 0x29B1
/// ```
public enum AlarmBoxCRC {
    /// The CRC of `bytes`.
    public static func compute(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return crc
    }
}

/// One frame of the alarm box protocol, before byte stuffing:
/// `TYPE SEQ LEN PAYLOAD[LEN] CRC_HI CRC_LO`, sent between `7E` flags with `7E` and `7D`
/// escaped as `7D 5E` and `7D 5D`.
///
/// ```swift
/// let frame = AlarmBoxFrame(type: AlarmBoxMessageType.indicate.rawValue, sequence: 1,
///                           payload: [AlarmIndication.received.wireCode])
/// port.write(frame.encoded())   // 7E 91 01 01 03 CRC CRC 7E
/// ```
public struct AlarmBoxFrame: Sendable, Hashable {
    /// The flag byte that opens and closes every frame.
    public static let flag: UInt8 = 0x7E
    /// The escape byte: the next byte is sent XOR `0x20`.
    public static let escape: UInt8 = 0x7D
    /// The longest payload: 32 bytes.
    public static let maximumPayloadLength = 32
    /// TYPE, SEQ and LEN.
    public static let headerLength = 3
    /// The longest frame between flags, before stuffing: header, 32 payload bytes, CRC.
    public static let maximumUnstuffedLength = headerLength + maximumPayloadLength + 2

    /// The message type (``AlarmBoxMessageType`` raw value; unknown values are kept as they are).
    public var type: UInt8
    /// The sequence number: of the frame itself for data frames and heartbeats, of the frame
    /// acknowledged for an ACK.
    public var sequence: UInt8
    /// The payload, at most ``maximumPayloadLength`` bytes.
    public var payload: [UInt8]

    /// Creates a frame. A payload longer than ``maximumPayloadLength`` is a programming error.
    public init(type: UInt8, sequence: UInt8, payload: [UInt8] = []) {
        precondition(payload.count <= Self.maximumPayloadLength, "alarm box payloads are at most 32 bytes")
        self.type = type
        self.sequence = sequence
        self.payload = payload
    }

    /// The known message type, or nil for a reserved or unknown type byte.
    public var messageType: AlarmBoxMessageType? { AlarmBoxMessageType(rawValue: type) }

    /// TYPE, SEQ, LEN, payload and CRC: the bytes before stuffing.
    public var unstuffed: [UInt8] {
        var bytes = [type, sequence, UInt8(payload.count)] + payload
        let crc = AlarmBoxCRC.compute(bytes)
        bytes.append(UInt8(crc >> 8))
        bytes.append(UInt8(crc & 0xFF))
        return bytes
    }

    /// The bytes on the wire: opening flag, stuffed frame, closing flag.
    public func encoded() -> [UInt8] {
        var wire: [UInt8] = [Self.flag]
        wire.reserveCapacity(2 * Self.maximumUnstuffedLength + 2)
        for byte in unstuffed {
            if byte == Self.flag || byte == Self.escape {
                wire.append(Self.escape)
                wire.append(byte ^ 0x20)
            } else {
                wire.append(byte)
            }
        }
        wire.append(Self.flag)
        return wire
    }
}

/// Counts kept by ``AlarmBoxFrameDecoder``. Every count only ever grows.
public struct AlarmBoxDecoderCounters: Sendable, Hashable {
    /// Valid frames returned.
    public var frames = 0
    /// Frames dropped because the CRC did not match.
    public var crcErrors = 0
    /// Bytes dropped outside any frame that reached the CRC check (see ``AlarmBoxCounters/garbageBytes``).
    public var garbageBytes = 0
    /// Frames with a good CRC but a LEN byte that disagrees with their length; dropped.
    public var malformedFrames = 0

    /// Creates counters, all zero.
    public init() {}
}

/// Splits the byte stream of an alarm box line into frames. A pure value: no I/O, no clock.
///
/// Feed it whatever the serial port returned, in any chunking; a frame split across any number of
/// ``feed(_:)`` calls decodes as if it came in one piece. The rules:
/// - Bytes before the first flag are garbage (the decoder cannot know where it joined the line).
/// - A flag ends the frame being collected and starts the next one; consecutive flags are idle fill.
/// - `7D x` stands for `x ^ 0x20`. `7D` followed by a flag aborts the frame (garbage).
/// - A frame longer than ``AlarmBoxFrame/maximumUnstuffedLength`` is dropped up to the next flag;
///   one shorter than 5 bytes (header and CRC) is dropped as garbage.
/// - A bad CRC drops the frame and counts a CRC error; a LEN byte that disagrees with the length
///   drops it as malformed.
///
/// The decoder holds at most ``AlarmBoxFrame/maximumUnstuffedLength`` bytes between calls.
///
/// ```swift
/// var decoder = AlarmBoxFrameDecoder()
/// for frame in decoder.feed(chunk) { handle(frame) }
/// ```
public struct AlarmBoxFrameDecoder: Sendable {
    /// What was decoded and dropped so far.
    public private(set) var counters = AlarmBoxDecoderCounters()

    private enum Stage: Sendable {
        /// Before the first flag: position in the stream unknown.
        case hunting
        /// Collecting a frame's bytes.
        case collecting
        /// The frame grew too long: dropping bytes up to the next flag.
        case discarding
    }

    private var stage = Stage.hunting
    private var buffer: [UInt8] = []
    private var escaped = false
    /// Bytes received for the current frame, stuffed, without its opening flag.
    private var rawCount = 0

    /// Creates a decoder that waits for a flag.
    public init() {
        buffer.reserveCapacity(AlarmBoxFrame.maximumUnstuffedLength)
    }

    /// The number of unstuffed bytes held for a frame not yet complete.
    public var bufferedByteCount: Int { buffer.count }

    /// Decodes `bytes` and returns the frames they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [AlarmBoxFrame] {
        var frames: [AlarmBoxFrame] = []
        for byte in bytes {
            if let frame = consume(byte) {
                frames.append(frame)
            }
        }
        return frames
    }

    private mutating func consume(_ byte: UInt8) -> AlarmBoxFrame? {
        if byte == AlarmBoxFrame.flag {
            let frame: AlarmBoxFrame?
            switch stage {
            case .hunting:
                frame = nil
            case .discarding:
                counters.garbageBytes += rawCount
                frame = nil
            case .collecting:
                frame = finishFrame()
            }
            stage = .collecting
            buffer.removeAll(keepingCapacity: true)
            escaped = false
            rawCount = 0
            return frame
        }
        switch stage {
        case .hunting:
            counters.garbageBytes += 1
        case .discarding:
            rawCount += 1
        case .collecting:
            rawCount += 1
            if byte == AlarmBoxFrame.escape, !escaped {
                escaped = true
                return nil
            }
            let value = escaped ? byte ^ 0x20 : byte
            escaped = false
            if buffer.count == AlarmBoxFrame.maximumUnstuffedLength {
                stage = .discarding
                buffer.removeAll(keepingCapacity: true)
            } else {
                buffer.append(value)
            }
        }
        return nil
    }

    /// Judges the collected bytes at a closing flag.
    private mutating func finishFrame() -> AlarmBoxFrame? {
        guard rawCount > 0 else { return nil }  // idle flags
        let minimum = AlarmBoxFrame.headerLength + 2
        guard !escaped, buffer.count >= minimum else {
            counters.garbageBytes += rawCount
            return nil
        }
        let body = buffer[0..<(buffer.count - 2)]
        let received = UInt16(buffer[buffer.count - 2]) << 8 | UInt16(buffer[buffer.count - 1])
        guard AlarmBoxCRC.compute(body) == received else {
            counters.crcErrors += 1
            return nil
        }
        let length = Int(buffer[2])
        guard length == body.count - AlarmBoxFrame.headerLength, length <= AlarmBoxFrame.maximumPayloadLength else {
            counters.malformedFrames += 1
            return nil
        }
        counters.frames += 1
        return AlarmBoxFrame(type: buffer[0], sequence: buffer[1], payload: Array(body.dropFirst(AlarmBoxFrame.headerLength)))
    }
}
