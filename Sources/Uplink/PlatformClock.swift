import EventModel
import Foundation
import NIOHTTP1
import PlatformAPI
import Synchronization

/// How far the platform's clock is from this kiosk's, learnt from the `Date` header of its
/// answers, as a value type with no I/O. Kiosks boot without a real-time clock: until NTP sets
/// it, the wall clock may be hours or years off, and every signed request would be refused as
/// stale. The platform's clock is the one the signature is checked against, so the agent signs
/// with it.
///
/// - An offset under ``threshold`` is taken as none: HTTP dates have whole seconds, and a
///   kiosk whose clock is right (NTP) must sign with its own time.
/// - A change of less than 2.5 s is noise (the header has whole seconds), not a correction.
public struct ClockSkewEstimator: Sendable, Hashable {
    /// Seconds below which the two clocks are taken to agree.
    public static let threshold: Double = 30

    /// Seconds to add to this kiosk's clock to get the platform's (0 when they agree).
    public private(set) var offset: Double = 0

    public enum Action: Sendable, Hashable {
        /// The offset changed: log it, sign with the new one.
        case corrected(from: Double, to: Double)
    }

    public init() {}

    /// One answer: the platform's `Date` and this kiosk's time when the request went out and
    /// when the answer came.
    public mutating func observe(platformDate: Date, sentAt: Date, answeredAt: Date) -> Action? {
        let local = sentAt.addingTimeInterval(max(0, answeredAt.timeIntervalSince(sentAt)) / 2)
        // The header truncates to the second: the platform's time was within that second.
        let measured = platformDate.timeIntervalSince(local) + 0.5
        let new = abs(measured) < Self.threshold ? 0 : measured
        guard abs(new - offset) >= 2.5 else { return nil }
        let old = offset
        offset = new
        return .corrected(from: old, to: new)
    }

    /// An HTTP date (`Sun, 06 Dec 2026 14:02:11 GMT`, RFC 9110's preferred form).
    public static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text.trimmingCharacters(in: .whitespaces))
    }
}

/// The platform's time as this kiosk best knows it, shared by everything that talks to the
/// platform: ``RequestSigner`` signs with ``now()``; ``PlatformClient`` feeds every answer's
/// `Date` header to it, and corrects the wall-clock time of events recorded before NTP set the
/// clock (``WireEvent/correctingClock(by:bootID:)``).
public final class PlatformClock: Sendable {
    private let estimator = Mutex(ClockSkewEstimator())
    /// This boot's id: only events of this boot are corrected with an offset measured now.
    public let bootID: String?
    private let localNow: @Sendable () -> Date

    public init(bootID: String?, localNow: @escaping @Sendable () -> Date = Date.init) {
        self.bootID = bootID
        self.localNow = localNow
    }

    /// Seconds to add to this kiosk's clock to get the platform's (0 when they agree).
    public var offset: Double { estimator.withLock { $0.offset } }

    /// The platform's time now.
    public func now() -> Date { localNow().addingTimeInterval(offset) }

    /// This kiosk's own clock, for timing a request.
    public func localTime() -> Date { localNow() }

    /// Reads an answer's `Date` header; the correction when the offset changed.
    public func observe(_ headers: HTTPHeaders, sentAt: Date, answeredAt: Date) -> ClockSkewEstimator.Action? {
        guard let value = headers.first(name: "Date"), let date = ClockSkewEstimator.parseHTTPDate(value) else { return nil }
        return estimator.withLock { $0.observe(platformDate: date, sentAt: sentAt, answeredAt: answeredAt) }
    }
}

extension WireEvent {
    /// The event as sent while the platform's clock is `offset` seconds from this kiosk's: an
    /// event of this boot stamped while the wall clock was not synchronised, and not already
    /// corrected after a clock jump, gets `occurredAt` moved by the offset, `clockCorrected` and
    /// its first time in `originalOccurredAt` (the same fields a clock jump uses).
    public func correctingClock(by offset: Double, bootID: String?) -> WireEvent {
        guard offset != 0, clockSynchronized == false, clockCorrected != true, bootID != nil, bootId == bootID,
            let occurred = Timestamp.parse(occurredAt)
        else { return self }
        var corrected = self
        corrected.originalOccurredAt = occurredAt
        corrected.occurredAt = Timestamp.format(occurred.addingTimeInterval(offset))
        corrected.clockCorrected = true
        return corrected
    }
}
