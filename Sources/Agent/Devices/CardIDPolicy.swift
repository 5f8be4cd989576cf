import EventModel
import PlatformAPI

/// What the agent keeps of a card number (`[privacy] card_ids`). Applied by every card source
/// (serial card readers, OSDP readers) after de-duplication, which works on the number in
/// memory, and before the tap is stored: in `pseudonym` mode the number never reaches the disk,
/// the logs or the network.
public enum CardIDPolicy: Sendable {
    /// Keep the number as the reader reported it.
    case raw
    /// Replace it with HMAC-SHA256 under the district key (``PlatformAPI/CardPseudonymizer``).
    case pseudonym(CardPseudonymizer)

    /// The card as it is stored and sent.
    public func apply(_ card: CardRead) -> CardRead {
        switch self {
        case .raw:
            return card
        case .pseudonym(let pseudonymizer):
            return CardRead(uid: pseudonymizer.pseudonym(of: card.uid), format: card.format, uidKind: .pseudonymHMACSHA256)
        }
    }
}
