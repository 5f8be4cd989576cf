/// The id token between the quotes of a frame.
public enum DC09Token: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// SIA DC-03 event data (`[#1234|Nri1/PA001]`).
    case siaDCS = "SIA-DCS"
    /// Ademco Contact ID data (`[#1234|1120 01 001]`).
    case admCID = "ADM-CID"
    /// Link test (supervision): empty data.
    case null = "NULL"
    /// Positive acknowledgement from the receiver.
    case ack = "ACK"
    /// Negative acknowledgement: carries the receiver's time; never encrypted.
    case nak = "NAK"
    /// The receiver could not process an otherwise correct message; do not repeat it.
    case duh = "DUH"
    /// A response with data (used for programming; counts as an acknowledgement here).
    case rsp = "RSP"

    public var description: String { rawValue }

    /// ACK, NAK, DUH and RSP travel from receiver to transmitter.
    public var isResponse: Bool {
        switch self {
        case .ack, .nak, .duh, .rsp: true
        case .siaDCS, .admCID, .null: false
        }
    }
}

/// One extended-data field (`[Xvalue]` after the data field): an upper-case letter naming it,
/// then its value. `H` is the time the event occurred when it differs from the message time.
public struct DC09ExtendedField: Sendable, Hashable, CustomStringConvertible {
    /// `A`...`Z`.
    public let identifier: Character
    public let value: String

    public init(identifier: Character, value: String) throws(DC09Error) {
        guard identifier.isASCII, identifier.isUppercase else {
            throw DC09Error(.invalidField, "extended field identifier '\(identifier)' must be an upper-case letter A-Z")
        }
        guard DC09Message.isAllowedText(value) else {
            throw DC09Error(.invalidField, "extended field \(identifier) must be printable ASCII without '[' or ']'; got '\(value)'")
        }
        self.identifier = identifier
        self.value = value
    }

    /// `[Hhh:mm:ss,MM-DD-YYYY]`: when the event happened, for an event sent later than that.
    public static func originalTime(_ timestamp: DC09Timestamp) -> DC09ExtendedField {
        DC09ExtendedField(unchecked: "H", timestamp.text)
    }

    /// The time in an `H` field (with or without a leading `_`), or nil for other fields.
    public var originalTime: DC09Timestamp? {
        guard identifier == "H" else { return nil }
        return DC09Timestamp(text: value.hasPrefix("_") ? value.dropFirst() : Substring(value))
    }

    init(unchecked identifier: Character, _ value: String) {
        self.identifier = identifier
        self.value = value
    }

    public var description: String { "[\(identifier)\(value)]" }
}

/// A DC-09 message as a value: everything a frame carries except CRC, length and the
/// encryption itself (``isEncrypted`` only says whether it travels encrypted).
///
/// ```swift
/// let message = DC09Message(
///     token: .siaDCS, sequence: .first, prefix: .zero, account: try DC09Account("1234"),
///     data: "#1234|Nri1/PA001", timestamp: DC09Timestamp(now))
/// let frame = try DC09Frame.encode(message, key: nil)
/// ```
public struct DC09Message: Sendable, Hashable, CustomStringConvertible {
    public var token: DC09Token
    /// Sent with `*` before the token and the data encrypted.
    public var isEncrypted: Bool
    public var sequence: DC09Sequence
    /// `Rrcvr`, when the centre assigned one.
    public var receiver: DC09ReceiverNumber?
    /// `Lpref`.
    public var prefix: DC09LinePrefix
    /// `#acct`; absent only in a NAK.
    public var account: DC09Account?
    /// The data field's content, without the brackets: `#1234|Nri1/PA001`, or empty.
    public var data: String
    public var extended: [DC09ExtendedField]
    /// Required when encrypted; optional otherwise (most transmitters send it anyway).
    public var timestamp: DC09Timestamp?
    /// A receiver field that was not `R<hex>`, read past when the frame was parsed (never
    /// written: ``DC09Frame`` encodes only canonical fields).
    public var nonCanonicalReceiver: String? = nil

    public init(
        token: DC09Token, isEncrypted: Bool = false, sequence: DC09Sequence, receiver: DC09ReceiverNumber? = nil,
        prefix: DC09LinePrefix, account: DC09Account?, data: String = "", extended: [DC09ExtendedField] = [],
        timestamp: DC09Timestamp?
    ) {
        self.token = token
        self.isEncrypted = isEncrypted
        self.sequence = sequence
        self.receiver = receiver
        self.prefix = prefix
        self.account = account
        self.data = data
        self.extended = extended
        self.timestamp = timestamp
    }

    /// The original-time (`H`) extended field's value, if present.
    public var originalTime: DC09Timestamp? {
        extended.lazy.compactMap(\.originalTime).first
    }

    public var description: String {
        var text = "\(isEncrypted ? "*" : "")\(token) seq=\(sequence)"
        if let receiver { text += " R\(receiver)" }
        text += " L\(prefix)"
        if let account { text += " #\(account)" }
        text += " [\(data)]"
        for field in extended { text += field.description }
        if let timestamp { text += " _\(timestamp)" }
        return text
    }

    /// The answer a receiver gives to this message: same sequence, receiver, prefix and account,
    /// empty data, encrypted (with a timestamp) when this message was.
    public func response(_ token: DC09Token, timestamp: DC09Timestamp) -> DC09Message {
        DC09Message(
            token: token, isEncrypted: isEncrypted && token != .duh, sequence: sequence, receiver: receiver, prefix: prefix,
            account: account, timestamp: isEncrypted && token != .duh ? timestamp : nil)
    }

    /// A receiver's NAK: `"NAK"0000R0L0A0[]_HH:MM:SS,MM-DD-YYYY`, never encrypted, carrying the
    /// receiver's time so the transmitter can correct its clock.
    public static func nak(receiverTime: DC09Timestamp) -> DC09Message {
        DC09Message(
            token: .nak, sequence: .zero, receiver: DC09ReceiverNumber(unchecked: "0"), prefix: .zero, account: nil,
            timestamp: receiverTime)
    }

    /// Printable ASCII without `[`, `]` (they delimit fields).
    static func isAllowedText(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: "[") && $0 != UInt8(ascii: "]") }
    }
}
