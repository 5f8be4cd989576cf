import AsyncHTTPClient
import EventModel
import Foundation
import HummingbirdTesting
import Logging
import PlatformAPI
import Testing
import Uplink

@testable import PlatformEmulator

/// A kiosk whose wall clock is hours off (no real-time clock, no NTP yet) against a platform
/// that checks signatures: the first request is refused as stale, the answer's `Date` corrects
/// the clock, the batch goes again at once and is accepted, and the events recorded before NTP
/// carry the corrected time with the first one kept.
@Suite("Clock skew")
struct ClockSkewTests {
    @Test("a kiosk two hours behind gets its batch in at once, signed and stamped with the platform's time")
    func kioskBehindThePlatform() async throws {
        let harness = try Harness(signingKeys: SigningKeyring(defaultKey: knownKey))
        try await harness.test(.live) { client in
            let port = try #require(client.port)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let skewed = PlatformClock(bootID: "boot-1", localNow: { Date().addingTimeInterval(-7200) })
            let platform = PlatformClient(
                http: http,
                endpoint: PlatformEndpoint(
                    baseURL: "http://127.0.0.1:\(port)", station: WireStation(id: "ST-1"), token: nil, timeout: .seconds(10)),
                logger: Logger(label: "test"), signer: RequestSigner(key: knownKey, now: { skewed.now() }), clock: skewed)
            let pressedAt = Date().addingTimeInterval(-7200)  // what the kiosk's wrong clock said
            let alarm = StoredEvent(
                seq: 1, id: "0a0b0c0d-0000-4000-8000-000000000001",
                event: NewEvent(kind: .alarm, device: "box-1", occurredAt: pressedAt, clockSynchronized: false),
                storedAt: pressedAt, bootID: "boot-1")
            let results = try await platform.send([alarm])
            #expect(results[alarm.id]?.status == .accepted, "accepted on the immediate second attempt")
            // Within the round trip (long on a loaded machine): far inside the 300 s signature window.
            #expect(abs(skewed.offset - 7200) <= 15, "offset learnt from the Date header: \(skewed.offset)")

            let received = try #require(try await receivedPage(client).events.first?.event)
            #expect(received.clockCorrected == true)
            #expect(received.originalOccurredAt == Timestamp.format(pressedAt))
            let corrected = try #require(Timestamp.parse(received.occurredAt))
            #expect(abs(corrected.timeIntervalSinceNow) < 10, "the corrected time is the platform's")
            #expect(try await stats(client).accepted == 1)
            try await http.shutdown()
        }
    }
}
