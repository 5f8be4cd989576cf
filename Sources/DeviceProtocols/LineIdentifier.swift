/// What a device on an unknown serial line is, told from the bytes it sends: for
/// `station-agent identify` (and the setup wizard to come), where a technician has adapters that
/// all look alike. No I/O: the caller listens at each speed in turn and feeds what it heard.
///
/// - At 9600 baud (every card reader profile), every profile's decoder reads the same bytes; a
///   profile that decodes a card (of six characters at least: no card number is shorter, and
///   noise often is) is a candidate. The verdict waits for the line to go quiet after the tap
///   (``noteLineIdle()``): an RDM6300's framed code holds twelve hex digits an EM-18 decoder
///   takes before the frame's end. Among candidates the one that left the fewest bytes
///   unexplained wins (the RDM6300's STX and ETX are what the EM-18 decoder cannot explain);
///   a tie goes to the more specific profile (a line of decimal digits fits both text profiles:
///   text-decimal is named, text-hex is listed as also fitting, and a card with A-F decides).
/// - At 115200 baud (the alarm box), one frame with a good CRC names the box; a press, a
///   heartbeat or a HELLO is its message type.
public struct LineIdentifier: Sendable {
    /// The speeds worth listening at, in the order to try them.
    public enum Speed: Int, Sendable, Hashable, CaseIterable {
        /// Every card reader profile.
        case readers = 9600
        /// The alarm box.
        case alarmBox = 115_200
    }

    public enum Finding: Sendable, Hashable, CustomStringConvertible {
        /// A card reader of `profile`: `card` is the card it read; `alsoFits`, other profiles
        /// that read the same bytes as well.
        case cardReader(ReaderProfile, card: DecodedCard, alsoFits: [ReaderProfile])
        /// The one-key alarm box (`Hardware/alarm-box/protocol.md`); `message` names what it sent.
        case alarmBox(message: String)

        public var description: String {
            switch self {
            case .cardReader(let profile, let card, let also):
                "card reader, profile \(profile.rawValue) (\(profile.displayName)): read card \(card.uid)"
                    + (also.isEmpty ? "" : "; \(also.map(\.rawValue).joined(separator: ", ")) fits too: tap a card whose number has A-F to tell")
            case .alarmBox(let message): "one-key alarm box (heard its \(message))"
            }
        }
    }

    private var decoders: [ReaderProfile: CardFrameDecoder]
    /// The first plausible card each profile's decoder read.
    private var cards: [ReaderProfile: DecodedCard] = [:]
    /// Ties go to the more specific profile.
    private static let preference: [ReaderProfile] = [.rdm6300, .em18, .textDecimal, .textHex]
    private var box = AlarmBoxFrameDecoder()
    /// Bytes heard at each speed, for a line that says something nobody understands.
    public private(set) var bytesHeard: [Speed: Int] = [:]

    public init() {
        decoders = Dictionary(uniqueKeysWithValues: ReaderProfile.allCases.map { ($0, $0.makeDecoder()) })
    }

    /// Feeds bytes heard at `speed`; returns what the line is once the bytes tell.
    public mutating func feed(_ bytes: [UInt8], at speed: Speed) -> Finding? {
        bytesHeard[speed, default: 0] += bytes.count
        switch speed {
        case .readers:
            for profile in ReaderProfile.allCases {
                guard var decoder = decoders[profile] else { continue }
                let read = decoder.feed(bytes)
                decoders[profile] = decoder
                if cards[profile] == nil, let card = read.first(where: { $0.uid.count >= 6 }) { cards[profile] = card }
            }
            return nil
        case .alarmBox:
            guard let frame = box.feed(bytes).first else { return nil }
            return .alarmBox(message: frame.messageType.map { "\($0)" } ?? "frame type \(frame.type)")
        }
    }

    /// The line went quiet (after a tap): every decoder drops a partial frame, and the reader
    /// profile that explains the bytes best is the verdict, if any profile read a card.
    public mutating func noteLineIdle() -> Finding? {
        for profile in ReaderProfile.allCases {
            decoders[profile]?.noteLineIdle()
        }
        func unexplained(_ profile: ReaderProfile) -> Int {
            guard let counters = decoders[profile]?.counters else { return Int.max }
            return counters.garbageBytes + counters.invalidLines + counters.badChecksum + counters.overlongLines
        }
        let candidates = Self.preference.filter { cards[$0] != nil }
        guard let fewest = candidates.map(unexplained).min() else { return nil }
        let best = candidates.filter { unexplained($0) == fewest }
        guard let profile = best.first, let card = cards[profile] else { return nil }
        return .cardReader(profile, card: card, alsoFits: Array(best.dropFirst()))
    }
}
