/// A receiver's answer to a message.
public enum DC09Response: Sendable, Hashable, CustomStringConvertible {
    /// Positive acknowledgement (or `RSP`, a response with data, which acknowledges too).
    case ack(DC09Message)
    /// Negative acknowledgement. `receiverTime` is the receiver's clock when it answered (a NAK
    /// for a bad timestamp carries it); resend with the clock corrected.
    case nak(receiverTime: DC09Timestamp?)
    /// The receiver cannot process this message (unknown account, unsupported data): do not
    /// repeat it.
    case duh(DC09Message)

    /// Reads a response frame. `key` decrypts an encrypted ACK (`"*ACK"`).
    public static func parse<Bytes: Collection>(_ frame: Bytes, key: DC09Key?) throws(DC09Error) -> DC09Response
    where Bytes.Element == UInt8 {
        let envelope = try DC09Frame.parseEnvelope(frame)
        switch envelope.token {
        case .nak:
            let message = try DC09Envelope(
                token: .nak, isEncrypted: false, sequence: envelope.sequence, receiver: envelope.receiver, prefix: envelope.prefix,
                account: envelope.account, payload: envelope.payload
            ).open(key: nil)
            return .nak(receiverTime: message.timestamp)
        case .ack, .rsp:
            return .ack(try envelope.open(key: key))
        case .duh:
            return .duh(try envelope.open(key: key))
        case .siaDCS, .admCID, .null:
            throw DC09Error(
                .unexpectedResponse,
                "expected ACK, NAK, DUH or RSP from the receiver but got \(envelope.token): is the address a DC-09 receiver?")
        }
    }

    /// Whether this response answers `sent`: an ACK or DUH must echo its sequence number and
    /// account. An ACK to an encrypted message must itself be encrypted (a plain ACK could be
    /// forged without the key). A NAK names no message and always applies to the one in flight.
    /// A receiver number or line prefix that differs from the message's is tolerated (receivers
    /// in the field differ) and reported by ``oddities(with:)`` for the log.
    public func answers(_ sent: DC09Message) -> Bool {
        mismatch(with: sent) == nil
    }

    /// Why this response does not answer `sent`, for logs; nil when it does.
    public func mismatch(with sent: DC09Message) -> String? {
        let response: DC09Message
        switch self {
        case .nak: return nil
        case .ack(let r), .duh(let r): response = r
        }
        var reasons: [String] = []
        if response.sequence != sent.sequence { reasons.append("sequence \(response.sequence) (sent \(sent.sequence))") }
        if response.account != sent.account {
            reasons.append("account \(response.account?.text ?? "none") (sent \(sent.account?.text ?? "none"))")
        }
        if case .ack = self, response.isEncrypted != sent.isEncrypted {
            reasons.append(sent.isEncrypted ? "unencrypted ACK to an encrypted message" : "encrypted ACK to an unencrypted message")
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: ", ")
    }

    /// How a matching response departs from the message it answers without failing to answer
    /// it (a receiver field that is not canonical or differs, another line prefix); nil when it
    /// echoes the message exactly. A transmitter is strict in what it sends and tolerant in what
    /// it reads: these are logged, not refused.
    public func oddities(with sent: DC09Message) -> String? {
        let response: DC09Message
        switch self {
        case .nak: return nil
        case .ack(let r), .duh(let r): response = r
        }
        var notes: [String] = []
        if let odd = response.nonCanonicalReceiver {
            notes.append("receiver field '\(odd)' is not R<hex> (sent \(sent.receiver.map { "R" + $0.text } ?? "no R field"))")
        } else if response.receiver != sent.receiver {
            notes.append("receiver \(response.receiver?.text ?? "none") (sent \(sent.receiver?.text ?? "none"))")
        }
        if response.prefix != sent.prefix { notes.append("prefix \(response.prefix) (sent \(sent.prefix))") }
        return notes.isEmpty ? nil : notes.joined(separator: ", ")
    }

    public var description: String {
        switch self {
        case .ack(let message): "ACK \(message)"
        case .nak(let time): "NAK receiver time \(time?.text ?? "none")"
        case .duh(let message): "DUH \(message)"
        }
    }
}
