/// Why a frame candidate was thrown away.
public enum OSDPFrameRejection: Error, Sendable, Hashable {
    /// A complete frame whose CRC-16 or checksum did not match. The header fields are given
    /// because a PD answers such a frame addressed to it with `osdp_NAK` 0x01.
    case badCheck(address: UInt8, isReply: Bool, sequence: UInt8)
    /// The length field is impossible (shorter than a minimal frame or longer than 1440).
    case badLength(Int)
    /// The check matched but the security block does not fit the frame, or a session frame is
    /// too short for its MAC.
    case malformed(address: UInt8, isReply: Bool, sequence: UInt8)
    /// A frame was cut off: no byte for longer than the inter-character timeout.
    case interCharacterTimeout(bufferedBytes: Int)
}

/// What an ``OSDPFrameDecoder`` has seen since it was made. Every count only grows.
public struct OSDPFrameCounters: Sendable, Hashable {
    /// Valid frames decoded.
    public var frames = 0
    /// Complete frames with a bad CRC or checksum.
    public var badChecks = 0
    /// Frame candidates with an impossible length field.
    public var badLengths = 0
    /// Frames with a good check but an inconsistent security block or MAC.
    public var malformed = 0
    /// Partial frames dropped because the line went quiet mid-frame.
    public var interCharacterTimeouts = 0
    /// Bytes skipped while looking for a start-of-message byte (`FF` marks are not counted).
    /// After a rejected frame its bytes are searched again for a start byte, so they may be
    /// counted here as well.
    public var garbageBytes = 0

    /// Creates zero counters.
    public init() {}
}

/// Turns the bytes of an RS-485 line into OSDP frames. A pure value: no I/O, no clock.
///
/// Feed it whatever the serial port returned, in any chunking; a frame split anywhere decodes
/// exactly as if it came in one piece. Noise before a frame, `FF` marks, frames with a bad check
/// and impossible lengths are skipped: after a rejected candidate the decoder searches again from
/// the byte after its start byte, so a real frame hidden behind a stray `53` is still found.
///
/// Time is optional: pass `now` (any monotonic time since a fixed origin) to enforce the
/// inter-character timeout (SIA OSDP 2.2 section 5.7, nominally 20 ms): a partial frame whose
/// next byte comes later than that is dropped.
///
/// ```swift
/// var decoder = OSDPFrameDecoder()
/// for output in decoder.feed(chunk, now: elapsed) {
///     if case .packet(let packet) = output { handle(packet) }
/// }
/// ```
public struct OSDPFrameDecoder: Sendable {
    /// One result of ``feed(_:now:)``.
    public enum Output: Sendable, Hashable {
        /// A frame whose check matched.
        case packet(OSDPPacket)
        /// A frame candidate that was rejected.
        case rejected(OSDPFrameRejection)
    }

    /// The nominal inter-character timeout of SIA OSDP 2.2: 20 ms.
    public static let defaultInterCharacterTimeout: Duration = .milliseconds(20)

    /// The gap after which a partial frame is dropped.
    public var interCharacterTimeout: Duration
    /// What was decoded and dropped so far.
    public private(set) var counters = OSDPFrameCounters()

    private var buffer: [UInt8] = []
    private var lastByteAt: Duration?

    /// Creates a decoder.
    public init(interCharacterTimeout: Duration = OSDPFrameDecoder.defaultInterCharacterTimeout) {
        self.interCharacterTimeout = interCharacterTimeout
        buffer.reserveCapacity(64)
    }

    /// Bytes held for a frame not yet complete (at most ``OSDPPacket/maximumLength``).
    public var bufferedByteCount: Int { buffer.count }

    /// True while part of a frame (at least its start byte) is held.
    public var isInsideFrame: Bool { !buffer.isEmpty }

    /// When the last byte arrived, if times were given.
    public var lastByteTime: Duration? { lastByteAt }

    /// Drops any partial frame (for example when the bus changes direction).
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
    }

    /// Tells the decoder that time passed without bytes; drops a partial frame whose
    /// inter-character timeout expired.
    public mutating func advance(to now: Duration) -> [Output] {
        guard let last = lastByteAt, !buffer.isEmpty, now - last > interCharacterTimeout else { return [] }
        let count = buffer.count
        buffer.removeAll(keepingCapacity: true)
        counters.interCharacterTimeouts += 1
        return [.rejected(.interCharacterTimeout(bufferedBytes: count))]
    }

    /// Feeds received bytes; returns the frames completed and candidates rejected, in order.
    /// - Parameter now: when the bytes arrived (monotonic, any origin), or nil to ignore timing.
    public mutating func feed(_ bytes: some Sequence<UInt8>, now: Duration? = nil) -> [Output] {
        var outputs: [Output] = []
        if let now { outputs += advance(to: now) }
        var sawByte = false
        defer {
            if sawByte, let now { lastByteAt = now }
        }
        for byte in bytes {
            sawByte = true
            if buffer.isEmpty {
                if byte == OSDPPacket.startOfMessage {
                    buffer.append(byte)
                } else if byte != OSDPPacket.mark {
                    counters.garbageBytes += 1
                }
                continue
            }
            buffer.append(byte)
            scan(into: &outputs)
        }
        return outputs
    }

    /// Tries to complete a frame from `buffer` (which starts with SOM); on rejection drops the
    /// SOM and searches the rest again.
    private mutating func scan(into outputs: inout [Output]) {
        while !buffer.isEmpty {
            guard buffer.count >= OSDPPacket.headerLength else { return }
            let length = Int(buffer[2]) | Int(buffer[3]) << 8
            let check: OSDPCheck = buffer[4] & 0x04 != 0 ? .crc16 : .checksum
            let minimum = OSDPPacket.headerLength + 1 + check.byteCount
            if length < minimum || length > OSDPPacket.maximumLength {
                counters.badLengths += 1
                outputs.append(.rejected(.badLength(length)))
                resynchronise()
                continue
            }
            guard buffer.count >= length else { return }
            let frame = Array(buffer[0..<length])
            switch Self.parse(frame, check: check) {
            case .success(let packet):
                counters.frames += 1
                outputs.append(.packet(packet))
                buffer.removeFirst(length)
                // Whatever follows must start with SOM again.
                resynchronise(droppingFirst: false)
            case .failure(let rejection):
                if case .badCheck = rejection { counters.badChecks += 1 } else { counters.malformed += 1 }
                outputs.append(.rejected(rejection))
                resynchronise()
            }
        }
    }

    /// Drops the leading SOM (when asked) and everything up to the next SOM.
    private mutating func resynchronise(droppingFirst: Bool = true) {
        var index = droppingFirst ? 1 : 0
        while index < buffer.count, buffer[index] != OSDPPacket.startOfMessage {
            if buffer[index] != OSDPPacket.mark { counters.garbageBytes += 1 }
            index += 1
        }
        buffer.removeFirst(index)
    }

    /// Parses one complete frame of `frame.count` bytes starting with SOM.
    static func parse(_ frame: [UInt8], check: OSDPCheck) -> Result<OSDPPacket, OSDPFrameRejection> {
        let addressByte = frame[1]
        let address = addressByte & 0x7F
        let isReply = addressByte & 0x80 != 0
        let control = frame[4]
        let sequence = control & 0x03
        let body = frame.count - check.byteCount
        let expected = check.bytes(for: frame[0..<body])
        guard Array(frame[body...]) == expected else {
            return .failure(.badCheck(address: address, isReply: isReply, sequence: sequence))
        }
        var index = OSDPPacket.headerLength
        var block: OSDPSecurityBlock?
        if control & 0x08 != 0 {
            let blockLength = Int(frame[index])
            guard blockLength >= 2, index + blockLength < body else {
                return .failure(.malformed(address: address, isReply: isReply, sequence: sequence))
            }
            block = OSDPSecurityBlock(type: frame[index + 1], data: Array(frame[(index + 2)..<(index + blockLength)]))
            index += blockLength
        }
        let code = frame[index]
        index += 1
        var dataEnd = body
        var mac: [UInt8]?
        if let block, block.blockType?.carriesMAC == true {
            guard dataEnd - 4 >= index else {
                return .failure(.malformed(address: address, isReply: isReply, sequence: sequence))
            }
            mac = Array(frame[(dataEnd - 4)..<dataEnd])
            dataEnd -= 4
        }
        return .success(
            OSDPPacket(
                address: address, isReply: isReply, sequence: sequence, check: check, securityBlock: block,
                code: code, data: Array(frame[index..<dataEnd]), mac: mac))
    }
}
