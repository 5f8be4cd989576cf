import Foundation
import Testing
import Uplink

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy()

    @Test func baseDelaysFollowTheDocumentedTable() {
        let expected: [Double] = [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
        for (index, seconds) in expected.enumerated() {
            #expect(policy.baseDelay(afterFailures: index + 1) == .seconds(seconds), "failure \(index + 1)")
        }
    }

    @Test func jitterSpreadsTwentyPercentEitherWay() {
        #expect(policy.delay(afterFailures: 3, unit: 0) == .milliseconds(1600))
        #expect(policy.delay(afterFailures: 3, unit: 0.5) == .seconds(2))
        #expect(policy.delay(afterFailures: 3, unit: 1) == .milliseconds(2400))
    }

    @Test func jitterStaysWithinBoundsForManyDraws() {
        var generator = SystemRandomNumberGenerator()
        for failures in 1...12 {
            let base = policy.baseDelay(afterFailures: failures).seconds
            for _ in 0..<200 {
                let delay = policy.delay(afterFailures: failures, unit: Double.random(in: 0..<1, using: &generator)).seconds
                #expect(delay >= base * 0.8 - 1e-9 && delay <= base * 1.2 + 1e-9)
            }
        }
    }

    @Test func retryAfterLongerThanBackoffWins() {
        #expect(policy.delay(afterFailures: 1, retryAfter: .seconds(7), unit: 0.5) == .seconds(7))
    }

    @Test func retryAfterShorterThanBackoffDoesNotShortenIt() {
        #expect(policy.delay(afterFailures: 5, retryAfter: .seconds(1), unit: 0.5) == .seconds(8))
    }

    @Test func retryAfterIsCappedAtTheCeiling() {
        #expect(policy.delay(afterFailures: 1, retryAfter: .seconds(7 * 86_400), unit: 0.5) == .seconds(900))
    }

    @Test func parsesDeltaSecondsAndHTTPDates() throws {
        #expect(RetryPolicy.parseRetryAfter("120") == .seconds(120))
        #expect(RetryPolicy.parseRetryAfter(" 3 ") == .seconds(3))
        #expect(RetryPolicy.parseRetryAfter("-1") == nil)
        #expect(RetryPolicy.parseRetryAfter("soon") == nil)
        let now = try #require(ISO8601DateFormatter().date(from: "2026-10-21T07:27:00Z"))
        #expect(RetryPolicy.parseRetryAfter("Wed, 21 Oct 2026 07:28:00 GMT", now: now) == .seconds(60))
        #expect(RetryPolicy.parseRetryAfter("Wed, 21 Oct 2026 07:20:00 GMT", now: now) == .seconds(0))
    }
}
