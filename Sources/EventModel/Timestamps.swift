import Foundation

/// Timestamps on the wire and in files: ISO 8601 in UTC with milliseconds
/// (`2026-11-24T10:15:30.123Z`).
///
/// Formatting and parsing of that one shape are done by hand (civil-from-days arithmetic, no
/// calendar, no allocation but the result): the forwarder formats one per event and the platform
/// parses one per event, and Foundation's `ISO8601FormatStyle` costs microseconds each. Anything
/// else (other years, offsets, other fraction lengths, out-of-range fields) goes to Foundation,
/// so what is accepted is exactly what Foundation accepts.
///
/// One deliberate difference from Foundation: a date that lies within a microsecond *below* a
/// millisecond boundary is formatted as that millisecond. The store keeps times as whole
/// milliseconds and turns them back into `Date`s by dividing by 1,000; Foundation truncates
/// `1732443330.1229999` to `.122`, which would put every such event one millisecond early on the
/// wire. Everywhere else the output is Foundation's, byte for byte (tests compare both).
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        guard let milliseconds = wholeMilliseconds(seconds),
              milliseconds >= minimumMilliseconds, milliseconds <= maximumMilliseconds
        else {
            return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        }
        return format(milliseconds: milliseconds)
    }

    /// Formats whole milliseconds since 1970 (years 1601 to 9999; others as Foundation does).
    public static func format(milliseconds: Int64) -> String {
        guard milliseconds >= minimumMilliseconds, milliseconds <= maximumMilliseconds else {
            return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
                .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        }
        let (days, msOfDay) = floorDivision(milliseconds, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        let hour = Int(msOfDay / 3_600_000)
        let minute = Int(msOfDay / 60_000 % 60)
        let second = Int(msOfDay / 1000 % 60)
        let milli = Int(msOfDay % 1000)
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, digits: Int, at offset: Int) {
                var value = value
                for index in stride(from: offset + digits - 1, through: offset, by: -1) {
                    buffer[index] = UInt8(truncatingIfNeeded: 0x30 + value % 10)
                    value /= 10
                }
            }
            put(year, digits: 4, at: 0)
            buffer[4] = 0x2D  // -
            put(month, digits: 2, at: 5)
            buffer[7] = 0x2D
            put(day, digits: 2, at: 8)
            buffer[10] = 0x54  // T
            put(hour, digits: 2, at: 11)
            buffer[13] = 0x3A  // :
            put(minute, digits: 2, at: 14)
            buffer[16] = 0x3A
            put(second, digits: 2, at: 17)
            buffer[19] = 0x2E  // .
            put(milli, digits: 3, at: 20)
            buffer[23] = 0x5A  // Z
            return 24
        }
    }

    public static func parse(_ text: String) -> Date? {
        if let date = parseCanonical(text) { return date }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) {
            return date
        }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    /// `YYYY-MM-DDTHH:MM:SS.sssZ` or `YYYY-MM-DDTHH:MM:SSZ` with every field in its ordinary range;
    /// nil for anything else (the caller then asks Foundation). The date is seconds since 2001
    /// plus the fraction, as Foundation's result is to the bit for almost every date; within a
    /// few years of 2001 Foundation's own rounding differs from it by an ulp or two (well under
    /// a microsecond).
    static func parseCanonical(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            guard bytes.count == 24 || bytes.count == 20 else { return nil }
            func number(_ from: Int, _ count: Int) -> Int? {
                var value = 0
                for index in from..<from + count {
                    let digit = Int(bytes[index]) - 0x30
                    guard digit >= 0 && digit <= 9 else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54, bytes[13] == 0x3A, bytes[16] == 0x3A,
                  bytes[bytes.count - 1] == 0x5A,
                  let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                  let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2)
            else { return nil }
            var milli = 0
            if bytes.count == 24 {
                guard bytes[19] == 0x2E, let value = number(20, 3) else { return nil }
                milli = value
            }
            guard year >= 1601, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
                  hour <= 23, minute <= 59, second <= 59
            else { return nil }
            let days = Self.days(fromCivil: year, month, day)
            let unixSeconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
            let sinceReference = Double(unixSeconds - 978_307_200)
            return Date(timeIntervalSinceReferenceDate: sinceReference + Double(milli) / 1000)
        }
    }

    // MARK: Arithmetic

    /// 1601-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z in milliseconds since 1970. Before
    /// 1583 Foundation's Gregorian calendar is Julian (1 Jan of year 1 prints as `0001-01-03`), so
    /// the hand-written path stays in the centuries after the switch.
    static let minimumMilliseconds: Int64 = -11_644_473_600_000
    static let maximumMilliseconds: Int64 = 253_402_300_799_999

    /// The whole milliseconds Foundation would print for `seconds` since 1970: truncated towards
    /// the past, except that a value within a microsecond (or, far from 1970, a few ulps) below a
    /// boundary counts as that boundary (see the type's comment). Nil for non-finite or huge values.
    static func wholeMilliseconds(_ seconds: Double) -> Int64? {
        let scaled = seconds * 1000
        guard scaled.isFinite, abs(scaled) < 1e17 else { return nil }
        let nearest = scaled.rounded()
        // `Double(ms) / 1000` and back is off by at most a couple of ulps: far from 1970 that is
        // more than a microsecond.
        if abs(scaled - nearest) < max(0.001, 4 * scaled.ulp) { return Int64(nearest) }
        return Int64(scaled.rounded(.down))
    }

    static func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        var quotient = value / divisor
        var remainder = value % divisor
        if remainder < 0 {
            quotient -= 1
            remainder += divisor
        }
        return (quotient, remainder)
    }

    /// Whether `year` is a leap year of the proleptic Gregorian calendar.
    public static func isLeap(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// The number of days in `month` (1 to 12) of `year`.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    public static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of `days` since 1970-01-01 (Hinnant's `civil_from_days`).
    public static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}
