import Foundation

/// How long to wait before trying again after a failed delivery: exponential backoff with
/// jitter, never less than what the platform asked for with `Retry-After`.
///
/// With the defaults (`initial` 500 ms, `multiplier` 2, `maximum` 30 s, `jitter` 0.2) the base
/// delays before jitter are:
///
/// | failures in a row | 1     | 2   | 3   | 4   | 5   | 6    | 7    | 8+   |
/// |-------------------|-------|-----|-----|-----|-----|------|------|------|
/// | base delay        | 0.5 s | 1 s | 2 s | 4 s | 8 s | 16 s | 30 s | 30 s |
///
/// Jitter spreads each delay uniformly over ±20 % so that a fleet of kiosks coming back after a
/// platform outage does not retry in lock-step. A `Retry-After` longer than the backoff wins, up
/// to `retryAfterCeiling` (a platform that says "come back in a week" is not obeyed blindly).
public struct RetryPolicy: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    /// Fraction of the delay spread either way (0 ≤ jitter < 1).
    public var jitter: Double
    /// The longest `Retry-After` honoured.
    public var retryAfterCeiling: Duration

    public init(
        initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30), multiplier: Double = 2,
        jitter: Double = 0.2, retryAfterCeiling: Duration = .seconds(900)
    ) {
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.multiplier = max(1, multiplier)
        self.jitter = min(max(0, jitter), 0.99)
        self.retryAfterCeiling = retryAfterCeiling
    }

    /// The base delay (before jitter) after `failures` failures in a row (`failures` ≥ 1).
    public func baseDelay(afterFailures failures: Int) -> Duration {
        let initialSeconds = initial.seconds
        let exponent = Double(max(0, failures - 1))
        let seconds = min(initialSeconds * pow(multiplier, exponent), maximum.seconds)
        return Self.roundedToMilliseconds(seconds)
    }

    /// The delay to wait after `failures` failures in a row.
    ///
    /// - Parameters:
    ///   - retryAfter: what the platform asked for, if anything.
    ///   - unit: a random number in `0..<1` (injected so tests are deterministic).
    public func delay(afterFailures failures: Int, retryAfter: Duration? = nil, unit: Double) -> Duration {
        let base = baseDelay(afterFailures: failures).seconds
        let spread = 1 - jitter + 2 * jitter * min(max(unit, 0), 1)
        var seconds = base * spread
        if let retryAfter {
            seconds = max(seconds, min(retryAfter.seconds, retryAfterCeiling.seconds))
        }
        return Self.roundedToMilliseconds(seconds)
    }

    private static func roundedToMilliseconds(_ seconds: Double) -> Duration {
        .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Parses an HTTP `Retry-After` value: delta-seconds (`120`) or an HTTP date
    /// (`Wed, 21 Oct 2026 07:28:00 GMT`), relative to `now`. Returns `nil` for anything else.
    public static func parseRetryAfter(_ value: String, now: Date = Date()) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) {
            return seconds >= 0 ? .seconds(seconds) : nil
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .seconds(max(0, date.timeIntervalSince(now)))
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
