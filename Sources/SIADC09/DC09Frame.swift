/// The outer layer of a frame as received, before decryption: CRC and length checked, header
/// fields read, the part after `[` kept as bytes (ciphertext hex when encrypted).
///
/// A receiver reads the envelope first so it can answer DUH for an unknown account before it
/// needs a key.
public struct DC09Envelope: Sendable, Hashable {
    public var token: DC09Token
    public var isEncrypted: Bool
    public var sequence: DC09Sequence
    public var receiver: DC09ReceiverNumber?
    public var prefix: DC09LinePrefix
    public var account: DC09Account?
    /// Everything after the data field's `[`.
    public var payload: [UInt8]
    /// What stood between the sequence number and the `L` prefix when it was not an `R`
    /// receiver field (a receiver in the field answers `NoneL0#AAA` to a message without `R`);
    /// read past, and reported so that the oddity is logged.
    public var nonCanonicalReceiver: String? = nil

    /// The message inside. `key` is needed only when ``isEncrypted``.
    public func open(key: DC09Key?) throws(DC09Error) -> DC09Message {
        var content = payload
        if isEncrypted {
            guard let key else {
                throw DC09Error(
                    .missingKey,
                    "\(token) sequence \(sequence) for account \(account?.text ?? "-") is encrypted but no key is configured for it")
            }
            content = try DC09Cipher.open(payload, key: key)
        }
        do {
            return try parseContent(content)
        } catch where isEncrypted {
            throw DC09Error(
                .decryptionFailed,
                "\(token) sequence \(sequence) for account \(account?.text ?? "-") did not decrypt to a valid message (\(error.message)); check that both sides use the same key")
        }
    }

    private func parseContent(_ content: [UInt8]) throws(DC09Error) -> DC09Message {
        guard let close = content.firstIndex(of: UInt8(ascii: "]")) else {
            throw DC09Error(.malformedFrame, "the data field has no closing ']'")
        }
        let data = content[..<close]
        guard data.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: "[") }) else {
            throw DC09Error(.malformedFrame, "the data field holds bytes that are not printable ASCII")
        }
        var index = close + 1
        var extended: [DC09ExtendedField] = []
        while index < content.endIndex, content[index] == UInt8(ascii: "[") {
            guard let end = content[index...].firstIndex(of: UInt8(ascii: "]")), end > index + 1 else {
                throw DC09Error(.malformedFrame, "an extended data field is empty or has no closing ']'")
            }
            let field = content[(index + 1)..<end]
            guard field.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: "[") }) else {
                throw DC09Error(.malformedFrame, "an extended data field holds bytes that are not printable ASCII")
            }
            let identifier = Character(Unicode.Scalar(field[field.startIndex]))
            extended.append(DC09ExtendedField(unchecked: identifier, String(decoding: field.dropFirst(), as: UTF8.self)))
            index = end + 1
        }
        var timestamp: DC09Timestamp?
        if index < content.endIndex {
            guard content[index] == UInt8(ascii: "_"), let parsed = DC09Timestamp(bytes: content[(index + 1)...]) else {
                throw DC09Error(
                    .malformedFrame,
                    "expected '_HH:MM:SS,MM-DD-YYYY' after the data, found '\(String(decoding: content[index...].prefix(24), as: UTF8.self))'")
            }
            timestamp = parsed
        }
        if isEncrypted, timestamp == nil {
            throw DC09Error(.malformedFrame, "an encrypted message must carry a timestamp")
        }
        var message = DC09Message(
            token: token, isEncrypted: isEncrypted, sequence: sequence, receiver: receiver, prefix: prefix, account: account,
            data: String(decoding: data, as: UTF8.self), extended: extended, timestamp: timestamp)
        message.nonCanonicalReceiver = nonCanonicalReceiver
        return message
    }
}

/// Encoding and decoding of whole frames:
/// `<LF><crc><0LLL>"[*]id"<seq>[R<rcvr>]L<pref>[#<acct>][<data>][<x-data>...][_<timestamp>]<CR>`.
///
/// The CRC (``DC09CRC``) and the length (three hex digits after a `0`) cover the bytes from the
/// opening quote through the timestamp; they are computed after encryption.
public enum DC09Frame {
    /// The largest body the `0LLL` field can describe.
    public static let maximumBodyLength = 0xFFF
    /// The largest whole frame: LF, CRC, length, body, CR.
    public static let maximumFrameLength = maximumBodyLength + 10

    /// Encodes `message`, encrypting it with `key` when ``DC09Message/isEncrypted`` is set.
    /// The pad characters of an encrypted frame come from `generator`.
    public static func encode<Generator: RandomNumberGenerator>(
        _ message: DC09Message, key: DC09Key?, generator: inout Generator
    ) throws(DC09Error) -> [UInt8] {
        guard DC09Message.isAllowedText(message.data) else {
            throw DC09Error(.invalidField, "the data field '\(message.data)' must be printable ASCII without '[' or ']'")
        }
        var body: [UInt8] = [UInt8(ascii: "\"")]
        if message.isEncrypted { body.append(UInt8(ascii: "*")) }
        body += Array(message.token.rawValue.utf8)
        body.append(UInt8(ascii: "\""))
        body += message.sequence.bytes
        if let receiver = message.receiver {
            body.append(UInt8(ascii: "R"))
            body += Array(receiver.text.utf8)
        }
        body.append(UInt8(ascii: "L"))
        body += Array(message.prefix.text.utf8)
        if let account = message.account {
            body.append(UInt8(ascii: "#"))
            body += Array(account.text.utf8)
        } else if message.token == .nak {
            body += Array("A0".utf8)
        }
        body.append(UInt8(ascii: "["))

        var content = Array(message.data.utf8)
        content.append(UInt8(ascii: "]"))
        for field in message.extended {
            content.append(UInt8(ascii: "["))
            content += Array(String(field.identifier).utf8)
            content += Array(field.value.utf8)
            content.append(UInt8(ascii: "]"))
        }
        if let timestamp = message.timestamp {
            content.append(UInt8(ascii: "_"))
            content += timestamp.bytes
        }
        if message.isEncrypted {
            guard let key else {
                throw DC09Error(.missingKey, "\(message.token) for account \(message.account?.text ?? "-") is marked encrypted but no key was given")
            }
            guard message.timestamp != nil else {
                throw DC09Error(.invalidField, "an encrypted \(message.token) must carry a timestamp")
            }
            body += try DC09Cipher.seal(content, key: key, generator: &generator)
        } else {
            body += content
        }
        guard body.count <= maximumBodyLength else {
            throw DC09Error(.invalidField, "the frame body is \(body.count) bytes; DC-09 allows at most \(maximumBodyLength): shorten the data or extended fields")
        }
        var frame: [UInt8] = [0x0A]
        frame.reserveCapacity(body.count + 10)
        frame += DC09CRC.hexDigits(DC09CRC.compute(body))
        frame.append(UInt8(ascii: "0"))
        frame += DC09Hex.digits(UInt64(body.count), width: 3)
        frame += body
        frame.append(0x0D)
        return frame
    }

    /// Encodes `message` with the system's random generator for the pad.
    public static func encode(_ message: DC09Message, key: DC09Key?) throws(DC09Error) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return try encode(message, key: key, generator: &generator)
    }

    /// Checks CRC and length and reads the header. Accepts the frame with or without its `<LF>`
    /// and `<CR>`.
    public static func parseEnvelope<Bytes: Collection>(_ frame: Bytes) throws(DC09Error) -> DC09Envelope
    where Bytes.Element == UInt8 {
        var bytes = Array(frame)[...]
        if bytes.first == 0x0A { bytes = bytes.dropFirst() }
        if bytes.last == 0x0D { bytes = bytes.dropLast() }
        guard bytes.count >= 9 else {
            throw DC09Error(.malformedFrame, "\(bytes.count) bytes are too short for a DC-09 frame (CRC, length, id token)")
        }
        let crcField = bytes.prefix(4)
        let lengthField = bytes.dropFirst(4).prefix(4)
        let body = bytes.dropFirst(8)
        guard let sentCRC = DC09Hex.parse(crcField), let length = DC09Hex.parse(lengthField) else {
            throw DC09Error(
                .malformedFrame,
                "the frame does not start with 4 hex CRC digits and a 4 hex digit length ('\(String(decoding: bytes.prefix(8), as: UTF8.self))')")
        }
        let computed = DC09CRC.compute(body)
        guard sentCRC == computed else {
            throw DC09Error(
                .crcMismatch,
                "CRC field \(String(decoding: crcField, as: UTF8.self)) but the body's CRC-16/ARC is \(String(decoding: DC09CRC.hexDigits(computed), as: UTF8.self)): the frame was corrupted")
        }
        guard length == body.count else {
            throw DC09Error(
                .lengthMismatch,
                "length field \(String(decoding: lengthField, as: UTF8.self)) (\(length) bytes) but the body has \(body.count) bytes")
        }
        do {
            return try parseHeader(Array(body))
        } catch {
            // A NAK names no message, and receivers get its header wrong (pysiaalarm 3.2.2 sends
            // "NAK"0000L0R0A0[] for a frame it cannot decrypt): read any NAK up to its '['.
            guard body.starts(with: ascii("\"NAK\"")), let open = body.firstIndex(of: UInt8(ascii: "[")) else { throw error }
            return DC09Envelope(
                token: .nak, isEncrypted: false, sequence: .zero, receiver: nil, prefix: .zero, account: nil,
                payload: Array(body[(open + 1)...]))
        }
    }

    private static func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Checks, reads and (with `key`) decrypts a whole frame.
    public static func decode<Bytes: Collection>(_ frame: Bytes, key: DC09Key?) throws(DC09Error) -> DC09Message
    where Bytes.Element == UInt8 {
        try parseEnvelope(frame).open(key: key)
    }

    private static func parseHeader(_ body: [UInt8]) throws(DC09Error) -> DC09Envelope {
        var index = 0
        func fail(_ what: String) -> DC09Error {
            DC09Error(.malformedFrame, "\(what) in '\(String(decoding: body.prefix(48), as: UTF8.self))'")
        }
        guard body.first == UInt8(ascii: "\""), let closeQuote = body.dropFirst().firstIndex(of: UInt8(ascii: "\"")) else {
            throw fail("no quoted id token")
        }
        var tokenBytes = body[1..<closeQuote]
        let encrypted = tokenBytes.first == UInt8(ascii: "*")
        if encrypted { tokenBytes = tokenBytes.dropFirst() }
        guard let token = DC09Token(rawValue: String(decoding: tokenBytes, as: UTF8.self)) else {
            throw fail("unknown id token \"\(String(decoding: tokenBytes, as: UTF8.self))\"")
        }
        index = closeQuote + 1
        guard index + 4 <= body.count,
            body[index..<(index + 4)].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else {
            throw fail("no 4-digit sequence number after the id token")
        }
        let sequence = DC09Sequence(unchecked: body[index..<(index + 4)].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) })
        index += 4

        func hexRun(maximum: Int) -> String {
            let start = index
            while index < body.count, index - start < maximum, DC09Hex.isHexDigit(body[index]) { index += 1 }
            return String(decoding: body[start..<index], as: UTF8.self)
        }
        var receiver: DC09ReceiverNumber?
        var nonCanonicalReceiver: String?
        if index < body.count, body[index] == UInt8(ascii: "R") {
            index += 1
            let digits = hexRun(maximum: 6)
            guard !digits.isEmpty else { throw fail("'R' without a receiver number") }
            receiver = DC09ReceiverNumber(unchecked: digits.uppercased())
        } else if index < body.count, body[index] != UInt8(ascii: "L"),
            let skipped = nonCanonicalReceiverEnd(body, from: index)
        {
            // Tolerant in what it reads: a receiver field that is not `R<hex>` (Python's `None`
            // printed in its place, say) is read past up to the `L` prefix, and reported.
            nonCanonicalReceiver = String(decoding: body[index..<skipped], as: UTF8.self)
            index = skipped
        }
        guard index < body.count, body[index] == UInt8(ascii: "L") else { throw fail("no 'L' account prefix") }
        index += 1
        let prefixDigits = hexRun(maximum: 6)
        guard !prefixDigits.isEmpty else { throw fail("'L' without a prefix") }
        var account: DC09Account?
        if index < body.count, body[index] == UInt8(ascii: "#") {
            index += 1
            let digits = hexRun(maximum: 16)
            guard digits.utf8.count >= 3, let parsed = try? DC09Account(digits) else { throw fail("'#' without a 3-16 digit account") }
            account = parsed
        } else if index < body.count, body[index] == UInt8(ascii: "A") {
            // The NAK layout "R0L0A0" names no account.
            index += 1
            _ = hexRun(maximum: 16)
        }
        guard index < body.count, body[index] == UInt8(ascii: "[") else { throw fail("no '[' opening the data field") }
        return DC09Envelope(
            token: token, isEncrypted: encrypted, sequence: sequence, receiver: receiver,
            prefix: DC09LinePrefix(unchecked: prefixDigits.uppercased()), account: account, payload: Array(body[(index + 1)...]),
            nonCanonicalReceiver: nonCanonicalReceiver)
    }

    /// Where an `L<hex>` prefix followed by `#` or `[` starts after `from`, when at most 16
    /// printable bytes (no brackets, quotes or `#`) stand before it; nil otherwise.
    private static func nonCanonicalReceiverEnd(_ body: [UInt8], from start: Int) -> Int? {
        var candidate = start
        while candidate < body.count, candidate - start <= 16 {
            let byte = body[candidate]
            if byte == UInt8(ascii: "#") || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "\"") || byte < 0x20 || byte > 0x7E {
                return nil
            }
            if byte == UInt8(ascii: "L"), candidate > start {
                var end = candidate + 1
                while end < body.count, DC09Hex.isHexDigit(body[end]) { end += 1 }
                if end > candidate + 1, end < body.count, body[end] == UInt8(ascii: "#") || body[end] == UInt8(ascii: "[") {
                    return candidate
                }
            }
            candidate += 1
        }
        return nil
    }
}

/// Splits a byte stream into frames: each starts at `<LF>` and ends at `<CR>`. Bytes before an
/// `<LF>` are kept too (a peer that sends no `<LF>`: then the frame starts at the first byte
/// after the previous `<CR>`); an `<LF>` always starts a new frame.
///
/// Feed it whatever a socket delivers; it does not care where the reads split the frames.
public struct DC09FrameSplitter: Sendable {
    private var buffer: [UInt8] = []

    /// Bytes thrown away because more than ``DC09Frame/maximumFrameLength`` of them arrived
    /// without a `<CR>` (not a DC-09 peer, or a corrupted stream).
    public private(set) var discardedByteCount = 0

    public init() {}

    /// Adds received bytes and returns every frame they complete (with `<LF>` and `<CR>`).
    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) -> [[UInt8]] where Bytes.Element == UInt8 {
        var frames: [[UInt8]] = []
        for byte in bytes {
            if byte == 0x0A {
                discardedByteCount += buffer.count
                buffer = [0x0A]
                continue
            }
            buffer.append(byte)
            if byte == 0x0D {
                if buffer.count > 1, buffer != [0x0A, 0x0D] { frames.append(buffer) }
                buffer = []
            } else if buffer.count > DC09Frame.maximumFrameLength {
                discardedByteCount += buffer.count
                buffer = []
            }
        }
        return frames
    }

    /// Bytes held back, waiting for a `<CR>`.
    public var pendingByteCount: Int { buffer.count }
}
