/// The format of a decoded card identifier.
public enum CardFormat: String, Sendable, Hashable, CaseIterable {
    /// 10 upper-case hex characters of an EM4100 tag (version byte and 32-bit number).
    case em4100
    /// An even number (4...20) of upper-case hex characters.
    case hex
    /// 1...20 decimal digits, leading zeros kept.
    case decimal
}

/// One card presented to a reader, as decoded from the wire.
public struct DecodedCard: Sendable, Hashable {
    /// The normalised UID: upper-case hex for ``CardFormat/em4100`` and ``CardFormat/hex``,
    /// the digits as printed for ``CardFormat/decimal``.
    public var uid: String
    /// How the UID is written.
    public var format: CardFormat

    /// Creates a decoded card.
    public init(uid: String, format: CardFormat) {
        self.uid = uid
        self.format = format
    }
}

/// What a decoder has seen and thrown away since it was made. Every count only ever grows.
public struct DecoderCounters: Sendable, Equatable, Hashable {
    /// Valid cards decoded (the number of ``DecodedCard`` values returned).
    public var frames: Int
    /// Complete EM4100 codes whose checksum did not match; they are dropped.
    /// For `em18`, which has no framing, only failures where a code was expected to start
    /// (at the start, after a good code, after a non-hex byte or an idle line) are counted;
    /// the characters slid past while resynchronising count as ``garbageBytes``.
    public var badChecksum: Int
    /// Bytes dropped outside any counted frame or line: noise before a start byte, broken or
    /// unterminated frames, characters slid past while resynchronising, non-printable bytes on text lines.
    public var garbageBytes: Int
    /// Text lines longer than ``CardFrameDecoder/maximumLineLength`` bytes; each is counted once
    /// and its bytes are dropped up to the next CR or LF.
    public var overlongLines: Int
    /// Terminated text lines that are not a valid UID for the profile.
    public var invalidLines: Int

    /// Creates counters, all zero unless given.
    public init(frames: Int = 0, badChecksum: Int = 0, garbageBytes: Int = 0, overlongLines: Int = 0, invalidLines: Int = 0) {
        self.frames = frames
        self.badChecksum = badChecksum
        self.garbageBytes = garbageBytes
        self.overlongLines = overlongLines
        self.invalidLines = invalidLines
    }
}

/// Turns the byte stream of one card reader into cards. A pure value: no I/O, no clock.
///
/// Feed it whatever the serial port returned, in any chunking; a frame split across any number of
/// ``feed(_:)`` calls decodes exactly as if it came in one piece. Garbage, bad checksums and
/// over-long lines are counted in ``counters`` and skipped. The decoder holds at most
/// ``maximumLineLength`` bytes between calls, whatever it is fed.
///
/// Decoding rules per profile:
/// - `rdm6300`: waits for `02`, takes 12 hex characters, then `03` (up to two CR/LF bytes
///   before the `03` are tolerated, as ID-12 style readers send them). A `02` inside a frame
///   restarts the frame; any other unexpected byte abandons it.
/// - `em18`: keeps a window of the last hex characters; when it holds 12 with a valid
///   checksum the card is emitted, otherwise the window slides by one character. A non-hex
///   byte empties the window (CR and LF are silent separators, other bytes count as garbage).
/// - `text-hex`, `text-decimal`: lines end at CR or LF; empty lines are ignored; spaces and tabs
///   at both ends are trimmed. Non-printable bytes are dropped and counted as garbage; if they
///   come after the line's first visible character, the whole line is rejected.
///
/// ```swift
/// var decoder = ReaderProfile.rdm6300.makeDecoder()
/// for chunk in chunksFromThePort {
///     for card in decoder.feed(chunk) { handle(card) }
/// }
/// ```
public struct CardFrameDecoder: Sendable {
    /// The longest text line, without its terminator, that a text profile accepts: 64 bytes.
    public static let maximumLineLength = 64

    static let hexUIDLengths = 4...20
    static let decimalUIDLengths = 1...20

    /// The profile this decoder parses.
    public let profile: ReaderProfile

    /// Counts of frames decoded and bytes or lines dropped since the decoder was made.
    public private(set) var counters = DecoderCounters()

    /// Hex characters of the current EM4100 code, or the bytes of the current text line.
    private var pending: [UInt8] = []
    private var stage: Stage
    /// `text-*`: a non-printable byte arrived after the line's first visible character.
    private var lineTainted = false
    /// `em18`: the window starts where a code is expected to start.
    private var windowAligned = true

    private enum Stage: Sendable, Equatable {
        /// `rdm6300`: waiting for STX.
        case waitingForStart
        /// `rdm6300`: collecting the 12 code characters. Text: collecting a line.
        case collecting
        /// `rdm6300`: 12 characters collected; `skipped` CR/LF bytes seen while waiting for ETX.
        case waitingForEnd(skipped: Int)
        /// Text: the line grew too long; dropping bytes up to the next CR or LF.
        case discardingLine
    }

    /// Creates a decoder for `profile`. ``ReaderProfile/makeDecoder()`` does the same.
    public init(profile: ReaderProfile) {
        self.profile = profile
        self.stage = profile == .rdm6300 ? .waitingForStart : .collecting
        pending.reserveCapacity(profile == .rdm6300 || profile == .em18 ? EM4100Code.codeCharacters : 16)
    }

    /// The number of bytes held for a frame or line not yet complete. Never more than
    /// ``maximumLineLength``.
    public var bufferedByteCount: Int {
        switch stage {
        case .waitingForStart, .discardingLine: 0
        case .collecting: profile == .rdm6300 ? 1 + pending.count : pending.count
        case .waitingForEnd(let skipped): 1 + pending.count + skipped
        }
    }

    /// Decodes `bytes`, the next bytes received from the reader, and returns the cards they
    /// complete, in order. Bytes of an unfinished frame are kept for the next call.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [DecodedCard] {
        var cards: [DecodedCard] = []
        for byte in bytes {
            let card: DecodedCard?
            switch profile {
            case .rdm6300: card = consumeFramed(byte)
            case .em18: card = consumeUnframed(byte)
            case .textHex, .textDecimal: card = consumeLine(byte)
            }
            if let card {
                counters.frames += 1
                cards.append(card)
            }
        }
        return cards
    }

    /// Tells the decoder that the line has been quiet for a while, e.g. a read returned no
    /// bytes after 100 ms or more (a frame takes about 15 ms at 9600 baud).
    ///
    /// An unfinished frame or line is dropped and its bytes are counted as garbage, so noise
    /// received while plugging a reader in cannot stick to the next real frame. For `em18`,
    /// which has no start byte, a quiet line is the only reliable frame boundary. Do not call
    /// it merely because one read returned fewer bytes than a frame.
    public mutating func noteLineIdle() {
        switch profile {
        case .rdm6300:
            counters.garbageBytes += bufferedByteCount
            pending.removeAll(keepingCapacity: true)
            stage = .waitingForStart
        case .em18:
            counters.garbageBytes += pending.count
            pending.removeAll(keepingCapacity: true)
            windowAligned = true
        case .textHex, .textDecimal:
            if stage == .collecting, lineTainted || !ASCII.trimmedBlanks(pending[...]).isEmpty {
                counters.garbageBytes += pending.count
            }
            pending.removeAll(keepingCapacity: true)
            lineTainted = false
            stage = .collecting
        }
    }

    // MARK: rdm6300

    private mutating func consumeFramed(_ byte: UInt8) -> DecodedCard? {
        switch stage {
        case .waitingForStart:
            if byte == ASCII.stx {
                pending.removeAll(keepingCapacity: true)
                stage = .collecting
            } else {
                counters.garbageBytes += 1
            }
        case .collecting:
            if ASCII.isHexDigit(byte) {
                pending.append(byte)
                if pending.count == EM4100Code.codeCharacters { stage = .waitingForEnd(skipped: 0) }
            } else {
                abandonFramed(skipped: 0, interruptedBy: byte)
            }
        case .waitingForEnd(let skipped):
            if byte == ASCII.etx {
                let uid = EM4100Code.checkedUID(pending)
                pending.removeAll(keepingCapacity: true)
                stage = .waitingForStart
                guard let uid else {
                    counters.badChecksum += 1
                    return nil
                }
                return DecodedCard(uid: uid, format: .em4100)
            } else if (byte == ASCII.cr || byte == ASCII.lf) && skipped < 2 {
                stage = .waitingForEnd(skipped: skipped + 1)
            } else {
                abandonFramed(skipped: skipped, interruptedBy: byte)
            }
        case .discardingLine:
            // Not used by this profile; recover to a known state.
            stage = .waitingForStart
            return consumeFramed(byte)
        }
        return nil
    }

    /// Drops the frame in progress. A new STX starts the next frame at once.
    private mutating func abandonFramed(skipped: Int, interruptedBy byte: UInt8) {
        counters.garbageBytes += 1 + pending.count + skipped
        pending.removeAll(keepingCapacity: true)
        if byte == ASCII.stx {
            stage = .collecting
        } else {
            counters.garbageBytes += 1
            stage = .waitingForStart
        }
    }

    // MARK: em18

    private mutating func consumeUnframed(_ byte: UInt8) -> DecodedCard? {
        guard ASCII.isHexDigit(byte) else {
            counters.garbageBytes += pending.count
            if byte != ASCII.cr && byte != ASCII.lf { counters.garbageBytes += 1 }
            pending.removeAll(keepingCapacity: true)
            windowAligned = true
            return nil
        }
        pending.append(byte)
        guard pending.count == EM4100Code.codeCharacters else { return nil }
        if let uid = EM4100Code.checkedUID(pending) {
            pending.removeAll(keepingCapacity: true)
            windowAligned = true
            return DecodedCard(uid: uid, format: .em4100)
        }
        if windowAligned {
            counters.badChecksum += 1
            windowAligned = false
        }
        pending.removeFirst()
        counters.garbageBytes += 1
        return nil
    }

    // MARK: text-hex, text-decimal

    private mutating func consumeLine(_ byte: UInt8) -> DecodedCard? {
        if byte == ASCII.cr || byte == ASCII.lf {
            return finishLine()
        }
        switch stage {
        case .discardingLine:
            return nil
        case .collecting:
            break
        case .waitingForStart, .waitingForEnd:
            // Not used by text profiles; recover to a known state.
            pending.removeAll(keepingCapacity: true)
            stage = .collecting
        }
        guard ASCII.isLineCharacter(byte) else {
            counters.garbageBytes += 1
            if !ASCII.trimmedBlanks(pending[...]).isEmpty { lineTainted = true }
            return nil
        }
        guard pending.count < Self.maximumLineLength else {
            counters.overlongLines += 1
            pending.removeAll(keepingCapacity: true)
            lineTainted = false
            stage = .discardingLine
            return nil
        }
        pending.append(byte)
        return nil
    }

    private mutating func finishLine() -> DecodedCard? {
        defer {
            pending.removeAll(keepingCapacity: true)
            lineTainted = false
            stage = .collecting
        }
        if stage == .discardingLine { return nil }
        let text = ASCII.trimmedBlanks(pending[...])
        if text.isEmpty && !lineTainted { return nil }
        if !lineTainted, let card = parseLine(text) { return card }
        counters.invalidLines += 1
        return nil
    }

    private func parseLine(_ text: ArraySlice<UInt8>) -> DecodedCard? {
        switch profile {
        case .textHex:
            guard Self.hexUIDLengths.contains(text.count), text.count % 2 == 0,
                  text.allSatisfy(ASCII.isHexDigit)
            else { return nil }
            return DecodedCard(uid: ASCII.string(text.map(ASCII.upperHex)), format: .hex)
        case .textDecimal:
            guard Self.decimalUIDLengths.contains(text.count), text.allSatisfy(ASCII.isDecimalDigit) else {
                return nil
            }
            return DecodedCard(uid: ASCII.string(text), format: .decimal)
        case .rdm6300, .em18:
            return nil
        }
    }
}
