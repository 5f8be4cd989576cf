import EventModel
import Foundation

/// A DC-09 timestamp: UTC, whole seconds, written `HH:MM:SS,MM-DD-YYYY` (a frame puts `_` in
/// front of it; the `[H...]` extended field carries it without).
///
/// Conversion is plain calendar arithmetic, independent of locale and time zone settings.
public struct DC09Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int

    /// A validated timestamp, or nil when a field is out of range (month 13, 30 February, ...).
    public init?(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        guard (1970...9999).contains(year), (1...12).contains(month),
            (1...Timestamp.daysIn(month: month, year: year)).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// The UTC timestamp of `date`, rounded down to the second (dates before 1970 clamp to 1970).
    public init(_ date: Date) {
        let seconds = max(0, Int64(date.timeIntervalSince1970.rounded(.down)))
        let days = seconds / 86_400
        let rest = seconds % 86_400
        let (y, m, d) = Timestamp.civil(fromDays: days)
        self.year = min(y, 9999)
        self.month = m
        self.day = d
        self.hour = Int(rest / 3600)
        self.minute = Int(rest % 3600 / 60)
        self.second = Int(rest % 60)
    }

    /// The instant this timestamp names.
    public var date: Date {
        Date(timeIntervalSince1970: TimeInterval(secondsSince1970))
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    public var secondsSince1970: Int64 {
        Timestamp.days(fromCivil: year, month, day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// `HH:MM:SS,MM-DD-YYYY`.
    public var text: String {
        String(decoding: bytes, as: UTF8.self)
    }

    public var description: String { text }

    /// `HH:MM:SS,MM-DD-YYYY` as ASCII bytes.
    var bytes: [UInt8] {
        func two(_ v: Int) -> [UInt8] { [UInt8(ascii: "0") + UInt8(v / 10), UInt8(ascii: "0") + UInt8(v % 10)] }
        var out: [UInt8] = []
        out.reserveCapacity(19)
        out += two(hour); out.append(UInt8(ascii: ":"))
        out += two(minute); out.append(UInt8(ascii: ":"))
        out += two(second); out.append(UInt8(ascii: ","))
        out += two(month); out.append(UInt8(ascii: "-"))
        out += two(day); out.append(UInt8(ascii: "-"))
        out += two(year / 100); out += two(year % 100)
        return out
    }

    /// Parses `HH:MM:SS,MM-DD-YYYY` (exactly 19 characters, no leading `_`).
    public init?(text: some StringProtocol) {
        self.init(bytes: Array(text.utf8))
    }

    init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        let b = Array(bytes)
        guard b.count == 19, b[2] == UInt8(ascii: ":"), b[5] == UInt8(ascii: ":"), b[8] == UInt8(ascii: ","),
            b[11] == UInt8(ascii: "-"), b[14] == UInt8(ascii: "-")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in b[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let hour = number(0..<2), let minute = number(3..<5), let second = number(6..<8),
            let month = number(9..<11), let day = number(12..<14), let year = number(15..<19)
        else { return nil }
        self.init(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    public static func < (lhs: DC09Timestamp, rhs: DC09Timestamp) -> Bool {
        lhs.secondsSince1970 < rhs.secondsSince1970
    }
}
