import EventModel
import Foundation
import NIOHTTP1
import PlatformAPI
import Testing
import Uplink

@Suite struct ClockSkewEstimatorTests {
    let local = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func clocksThatAgreeWithinTheThresholdAreLeftAlone() {
        var estimator = ClockSkewEstimator()
        #expect(estimator.observe(platformDate: local.addingTimeInterval(12), sentAt: local, answeredAt: local) == nil)
        #expect(estimator.offset == 0)
    }

    @Test func aLargeOffsetIsLearntAndSmallChangesAreNoise() {
        var estimator = ClockSkewEstimator()
        let platform = local.addingTimeInterval(3600)
        #expect(estimator.observe(platformDate: platform, sentAt: local, answeredAt: local.addingTimeInterval(0.2)) != nil)
        #expect(abs(estimator.offset - 3600) <= 1)
        #expect(estimator.observe(platformDate: platform.addingTimeInterval(1), sentAt: local, answeredAt: local) == nil, "1 s is the header's resolution")
        // NTP set the clock: the platform agrees with the kiosk again.
        let learnt = estimator.offset
        #expect(estimator.observe(platformDate: local, sentAt: local, answeredAt: local) == .corrected(from: learnt, to: 0))
        #expect(estimator.offset == 0)
    }

    @Test func httpDatesAreRead() {
        #expect(ClockSkewEstimator.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
        #expect(ClockSkewEstimator.parseHTTPDate("yesterday") == nil)
    }

    @Test func thePlatformClockReadsTheDateHeader() {
        let clock = PlatformClock(bootID: "b", localNow: { Date(timeIntervalSince1970: 784_111_777 - 600) })
        var headers = HTTPHeaders()
        headers.add(name: "Date", value: "Sun, 06 Nov 1994 08:49:37 GMT")
        let now = clock.localTime()
        #expect(clock.observe(headers, sentAt: now, answeredAt: now) != nil)
        #expect(abs(clock.now().timeIntervalSince1970 - 784_111_777) <= 1)
        #expect(clock.observe(HTTPHeaders(), sentAt: now, answeredAt: now) == nil, "no Date header, no change")
    }

    func event(synchronized: Bool?, boot: String = "boot-1", corrected: Bool = false) -> WireEvent {
        WireEvent(
            id: "e", seq: 1, kind: "alarm", lane: "alarm", occurredAt: "2026-01-01T00:00:00.000Z", device: "box-1",
            bootId: boot, clockSynchronized: synchronized, clockCorrected: corrected ? true : nil,
            originalOccurredAt: corrected ? "2025-12-31T23:00:00.000Z" : nil)
    }

    @Test func onlyUnsynchronisedEventsOfThisBootAreCorrected() {
        let corrected = event(synchronized: false).correctingClock(by: 3600, bootID: "boot-1")
        #expect(corrected.occurredAt == "2026-01-01T01:00:00.000Z")
        #expect(corrected.originalOccurredAt == "2026-01-01T00:00:00.000Z")
        #expect(corrected.clockCorrected == true)
        for untouched in [
            event(synchronized: true), event(synchronized: nil), event(synchronized: false, boot: "boot-0"),
            event(synchronized: false, corrected: true),
        ] {
            #expect(untouched.correctingClock(by: 3600, bootID: "boot-1") == untouched)
        }
        #expect(event(synchronized: false).correctingClock(by: 0, bootID: "boot-1") == event(synchronized: false))
    }
}
