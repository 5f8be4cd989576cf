import Foundation
import SIADC09

/// Which accounts a simulated receiver knows and how strict it is.
public struct DC09ReceiverPolicy: Sendable, Hashable {
    /// Known accounts; a key means the account must send encrypted messages with it.
    public var accounts: [DC09Account: DC09Key?]
    /// A message timestamp may lag the receiver's clock by this much (DC-09: 40 s).
    public var pastTolerance: Duration
    /// A message timestamp may lead the receiver's clock by this much (DC-09: 20 s).
    public var futureTolerance: Duration
    /// Answer a frame with a bad CRC or length with NAK (true), or not at all (false: what the
    /// DC-09 test plan expects of a receiver; the transmitter then times out and retries).
    public var nakCorruptFrames: Bool

    public init(
        accounts: [DC09Account: DC09Key?], pastTolerance: Duration = .seconds(40), futureTolerance: Duration = .seconds(20),
        nakCorruptFrames: Bool = true
    ) {
        self.accounts = accounts
        self.pastTolerance = pastTolerance
        self.futureTolerance = futureTolerance
        self.nakCorruptFrames = nakCorruptFrames
    }
}

/// One frame as the simulated receiver saw it, and what it answered.
public struct DC09ReceivedMessage: Sendable, Hashable, CustomStringConvertible {
    /// When it arrived, by the receiver's (possibly skewed) clock.
    public var receivedAt: Date
    /// The frame as received, `<LF>` and `<CR>` included.
    public var frame: [UInt8]
    /// The decoded (decrypted) message; nil when it could not be read.
    public var message: DC09Message?
    /// ACK, NAK or DUH; nil when the receiver stayed silent.
    public var answer: DC09Token?
    /// Why it answered NAK or DUH, or stayed silent.
    public var reason: String?

    public var description: String {
        var text = message.map(\.description) ?? "unreadable frame \(String(decoding: frame.filter { $0 >= 0x20 && $0 < 0x7F }.prefix(60), as: UTF8.self))"
        text += " -> \(answer?.rawValue ?? "no answer")"
        if let reason { text += " (\(reason))" }
        return text
    }
}

/// What a DC-09 receiver answers to one frame: pure, no I/O, time passed in.
public enum DC09ReceiverLogic {
    /// The answer to `frame` at receiver time `now`: the response message (nil: stay silent)
    /// and the record of what happened.
    ///
    /// - CRC or length wrong, or unreadable header → NAK (when ``DC09ReceiverPolicy/nakCorruptFrames``).
    /// - Unknown account, encryption not as configured, undecryptable or unreadable content → DUH.
    /// - Timestamp more than ``DC09ReceiverPolicy/pastTolerance`` behind or
    ///   ``DC09ReceiverPolicy/futureTolerance`` ahead of `now` → NAK with the receiver's time.
    /// - Otherwise ACK (encrypted, with a timestamp, when the message was encrypted).
    public static func answer(to frame: [UInt8], policy: DC09ReceiverPolicy, now: Date) -> (response: DC09Message?, record: DC09ReceivedMessage) {
        var record = DC09ReceivedMessage(receivedAt: now, frame: frame, message: nil, answer: nil, reason: nil)
        let receiverTime = DC09Timestamp(now)

        let envelope: DC09Envelope
        do {
            envelope = try DC09Frame.parseEnvelope(frame)
        } catch {
            record.reason = error.message
            guard policy.nakCorruptFrames else { return (nil, record) }
            record.answer = .nak
            return (.nak(receiverTime: receiverTime), record)
        }
        if envelope.token.isResponse {
            record.reason = "a receiver does not answer \(envelope.token)"
            return (nil, record)
        }
        let header = DC09Message(
            token: envelope.token, isEncrypted: envelope.isEncrypted, sequence: envelope.sequence, receiver: envelope.receiver,
            prefix: envelope.prefix, account: envelope.account, timestamp: nil)
        func duh(_ reason: String) -> (DC09Message?, DC09ReceivedMessage) {
            record.message = envelope.isEncrypted ? header : (try? envelope.open(key: nil)) ?? header
            record.answer = .duh
            record.reason = reason
            return (header.response(.duh, timestamp: receiverTime), record)
        }
        guard let account = envelope.account, let configured = policy.accounts[account] else {
            return duh("unknown account \(envelope.account?.text ?? "(none)")")
        }
        if envelope.isEncrypted, configured == nil {
            return duh("account \(account) has no key but the message is encrypted")
        }
        if !envelope.isEncrypted, configured != nil {
            return duh("account \(account) requires encryption")
        }
        let message: DC09Message
        do {
            message = try envelope.open(key: configured ?? nil)
        } catch {
            return duh(error.message)
        }
        record.message = message
        if let timestamp = message.timestamp {
            let skew = timestamp.date.timeIntervalSince(now)
            if skew < -seconds(policy.pastTolerance) || skew > seconds(policy.futureTolerance) {
                record.answer = .nak
                record.reason = "timestamp \(timestamp) is \(Int(skew.rounded())) s from the receiver's time \(receiverTime)"
                return (.nak(receiverTime: receiverTime), record)
            }
        }
        record.answer = .ack
        return (message.response(.ack, timestamp: receiverTime), record)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
