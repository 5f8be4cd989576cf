/// The account number (`#acct`): 3 to 16 hex digits, kept upper-case exactly as written
/// (leading zeros are significant to receivers).
public struct DC09Account: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The digits, upper-case, without the `#`.
    public let text: String

    /// Validates `text` (3...16 hex digits, either case).
    public init(_ text: String) throws(DC09Error) {
        let bytes = Array(text.utf8)
        guard (3...16).contains(bytes.count), bytes.allSatisfy(DC09Hex.isHexDigit) else {
            throw DC09Error(
                .invalidField,
                "account '\(text)' is not 3 to 16 hex digits (0-9, A-F); set the account the alarm receiving centre assigned")
        }
        self.text = text.uppercased()
    }

    public var description: String { text }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.text < rhs.text }
}

/// The receiver number (`Rrcvr`): 1 to 6 hex digits. Compared by value, so `R0` and `R00` are
/// the same receiver.
public struct DC09ReceiverNumber: Sendable, Hashable, CustomStringConvertible {
    /// The digits as written, upper-case, without the `R`.
    public let text: String

    public init(_ text: String) throws(DC09Error) {
        let bytes = Array(text.utf8)
        guard (1...6).contains(bytes.count), bytes.allSatisfy(DC09Hex.isHexDigit) else {
            throw DC09Error(.invalidField, "receiver number '\(text)' is not 1 to 6 hex digits; use the receiver number the centre assigned, or leave it out")
        }
        self.text = text.uppercased()
    }

    init(unchecked text: String) { self.text = text }

    /// The numeric value (`R0A` is 10).
    public var value: UInt32 { UInt32(DC09Hex.parse(Array(text.utf8)) ?? 0) }
    public var description: String { text }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.value == rhs.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

/// The account prefix / line number (`Lpref`): 1 to 6 hex digits. Compared by value.
public struct DC09LinePrefix: Sendable, Hashable, CustomStringConvertible {
    /// The digits as written, upper-case, without the `L`.
    public let text: String

    public init(_ text: String) throws(DC09Error) {
        let bytes = Array(text.utf8)
        guard (1...6).contains(bytes.count), bytes.allSatisfy(DC09Hex.isHexDigit) else {
            throw DC09Error(.invalidField, "account prefix '\(text)' is not 1 to 6 hex digits; use the prefix the centre assigned (often 0)")
        }
        self.text = text.uppercased()
    }

    /// `L0`, the prefix most receivers expect when none was assigned.
    public static let zero = DC09LinePrefix(unchecked: "0")

    init(unchecked text: String) { self.text = text }

    public var value: UInt32 { UInt32(DC09Hex.parse(Array(text.utf8)) ?? 0) }
    public var description: String { text }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.value == rhs.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

/// The 4-digit sequence number. Messages use 0001...9999; after 9999 comes 0001 again.
/// `0000` appears only in frames that are not numbered (a receiver's NAK, some panels' NULL).
public struct DC09Sequence: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: Int

    /// A sequence number in 0...9999.
    public init(_ value: Int) throws(DC09Error) {
        guard (0...9999).contains(value) else {
            throw DC09Error(.invalidField, "sequence number \(value) is outside 0...9999")
        }
        self.value = value
    }

    init(unchecked value: Int) { self.value = value }

    /// `0001`, the first number a transmitter uses.
    public static let first = DC09Sequence(unchecked: 1)
    /// `0000`, for unnumbered frames (NAK).
    public static let zero = DC09Sequence(unchecked: 0)

    /// The number after this one: 0001...9999, then 0001 again (0000 is never used for a message).
    public var next: DC09Sequence {
        DC09Sequence(unchecked: value >= 9999 ? 1 : value + 1)
    }

    /// Four digits, zero-padded.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
    public var description: String { text }

    var bytes: [UInt8] {
        [value / 1000, value / 100 % 10, value / 10 % 10, value % 10].map { UInt8(ascii: "0") + UInt8($0) }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }
}
