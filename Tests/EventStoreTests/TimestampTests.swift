import Foundation
import Testing

@testable import EventModel

/// The hand-written ISO 8601 formatter and parser against Foundation's `ISO8601FormatStyle`.
@Suite struct EventModelTimestampTests {
    static let foundation = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Dates on and around the edges: epoch, negative times, leap days, century years, the ends
    /// of the supported range.
    static let edgeMilliseconds: [Int64] = [
        0, 1, 999, 1000, -1, -999, -1000, -1001, 86_399_999, 86_400_000,
        951_782_400_000,  // 2000-02-29 (leap: divisible by 400)
        951_868_799_999,  // 2000-02-29T23:59:59.999
        4_107_456_000_000,  // 2100-03-01 (2100 is not leap)
        -2_203_891_200_000,  // 1900-02-28
        1_709_164_800_000,  // 2024-02-29
        1_732_443_330_123,  // an ordinary 2024 time whose Double is just below .123
        1_795_515_330_123,  // 2026-11-24T10:15:30.123Z
        4_102_444_799_999,  // 2099-12-31T23:59:59.999
        -11_644_473_600_000,  // 1601-01-01, the first day of the hand-written range
        253_402_300_799_999,  // 9999-12-31T23:59:59.999
    ]

    @Test func formatsWholeMillisecondsAsTheCalendarSays() {
        for ms in Self.edgeMilliseconds + randomMilliseconds(count: 20_000) {
            let ours = Timestamp.format(milliseconds: ms)
            // Foundation at the exact second, plus our three digits: the calendar part must agree.
            let (seconds, milli) = Timestamp.floorDivision(ms, 1000)
            let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Self.foundation)
            let expected = String(whole.dropLast(4)) + String(format: "%03d", Int(milli)) + "Z"
            #expect(ours == expected, "ms \(ms)")
            // And it reads back as the same millisecond.
            let back = Timestamp.parse(ours).map { ($0.timeIntervalSince1970 * 1000).rounded() }
            #expect(back == Double(ms), "ms \(ms): \(ours)")
        }
    }

    @Test func formatMatchesFoundationByteForByteAwayFromMillisecondBoundaries() {
        var generator = SystemRandomNumberGenerator()
        var compared = 0
        while compared < 20_000 {
            let seconds = Double.random(in: -11_644_473_600 ..< 253_402_300_799, using: &generator)
            let date = Date(timeIntervalSince1970: seconds)
            let scaled = seconds * 1000
            // Within a microsecond below a boundary we deliberately differ (see `Timestamp`).
            if abs(scaled - scaled.rounded()) < max(0.002, 8 * scaled.ulp) { continue }
            #expect(Timestamp.format(date) == date.formatted(Self.foundation), "seconds \(seconds)")
            compared += 1
        }
    }

    @Test func storedMillisecondsKeepTheirMillisecondWhereFoundationLosesOne() {
        // The store turns whole milliseconds back into dates by dividing by 1,000.
        let date = Date(timeIntervalSince1970: Double(1_732_443_330_123) / 1000)
        #expect(Timestamp.format(date) == "2024-11-24T10:15:30.123Z")
        #expect(date.formatted(Self.foundation) == "2024-11-24T10:15:30.122Z")
        for ms in randomMilliseconds(count: 20_000) {
            #expect(Timestamp.format(Date(timeIntervalSince1970: Double(ms) / 1000)) == Timestamp.format(milliseconds: ms))
        }
    }

    @Test func parseAgreesWithFoundationWithinAMicrosecond() throws {
        var texts = Self.edgeMilliseconds.map { Timestamp.format(milliseconds: $0) }
        texts += randomMilliseconds(count: 20_000).map { Timestamp.format(milliseconds: $0) }
        texts += ["2026-11-24T10:15:30Z", "2000-02-29T23:59:59Z", "1970-01-01T00:00:00Z"]
        for text in texts {
            let theirs = try Self.foundation.parse(text.count == 20 ? String(text.dropLast()) + ".000Z" : text)
            let ours = try #require(Timestamp.parseCanonical(text), "\(text)")
            // Bit for bit almost everywhere; near 2001 Foundation's rounding can differ by an ulp
            // or two of the seconds since 2001, far below a microsecond.
            #expect(abs(ours.timeIntervalSinceReferenceDate - theirs.timeIntervalSinceReferenceDate) < 1e-6, "\(text)")
            if abs(theirs.timeIntervalSinceReferenceDate) > 1e8 {
                #expect(ours == theirs, "\(text)")
            }
            #expect(Timestamp.parse(text) == ours)
        }
    }

    @Test func shapesOutsideTheFastPathAreFoundationsToJudge() {
        let texts = [
            "2026-02-30T10:15:30.123Z",  // Foundation is lenient: March 2
            "2026-13-24T10:15:30.123Z", "2026-11-24T24:00:00.000Z", "2026-11-24T10:15:60.000Z",
            "2026-11-24T10:15:30.123+01:00", "2026-11-24 10:15:30.123Z", "2026-11-24T10:15:30.123z",
            "2026-11-24T10:15:30.1Z", "2026-11-24T10:15:30.12345Z", "20261124T101530.123Z", "", "garbage",
            "2026-1a-24T10:15:30.123Z", "0000-01-01T00:00:00.000Z", "2025-02-29T00:00:00.000Z",
            "1582-10-10T00:00:00.000Z", "1600-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z",
        ]
        for text in texts {
            let foundation = (try? Self.foundation.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
            #expect(Timestamp.parseCanonical(text) == nil || text == "2026-11-24T10:15:30.123Z", "\(text)")
            #expect(Timestamp.parse(text) == foundation, "\(text)")
        }
    }

    @Test func datesBeforeTheHandWrittenRangeAreFormattedByFoundation() {
        for ms: Int64 in [-11_644_473_600_001, -62_135_596_800_000, -30_000_000_000_000] {
            let date = Date(timeIntervalSince1970: Double(ms) / 1000)
            #expect(Timestamp.format(date) == date.formatted(Self.foundation), "ms \(ms)")
        }
    }

    @Test func civilCalendarRoundTripsEveryDayOfFourCenturies() {
        var days = Timestamp.days(fromCivil: 1900, 1, 1)
        for year in 1900...2300 {
            for month in 1...12 {
                for day in 1...Timestamp.daysIn(month: month, year: year) {
                    #expect(Timestamp.days(fromCivil: year, month, day) == days)
                    let civil = Timestamp.civil(fromDays: days)
                    if civil.year != year || civil.month != month || civil.day != day {
                        Issue.record("days \(days): \(civil), expected \(year)-\(month)-\(day)")
                        return
                    }
                    days += 1
                }
            }
        }
        #expect(Timestamp.isLeap(2000) && !Timestamp.isLeap(1900) && !Timestamp.isLeap(2100) && Timestamp.isLeap(2024))
    }

    private func randomMilliseconds(count: Int) -> [Int64] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in Int64.random(in: -11_644_473_600_000...253_402_300_799_999, using: &generator) }
    }
}
