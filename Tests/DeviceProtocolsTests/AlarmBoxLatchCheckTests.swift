import DeviceProtocols
import Testing

/// When the agent may take a latched box with no alarm on record as a press it lost.
@Suite struct AlarmBoxLatchCheckTests {
    let latched = AlarmBoxStatus(latched: true)
    let inLinkFault = AlarmBoxStatus(latched: true, linkFault: true)

    /// The answers of one check to heartbeats at the given times (milliseconds since the line opened).
    static func answers(_ check: inout AlarmBoxLatchCheck, _ heartbeats: [(AlarmBoxStatus, Int)], lastHello: Duration? = nil) -> [Bool] {
        heartbeats.map { status, at in check.shouldCheck(status, at: .milliseconds(at), lastHello: lastHello) }
    }

    @Test func notBeforeTheLineHasWorkedForTheSettleTimeAndOnceOnly() {
        var check = AlarmBoxLatchCheck()
        let answers = Self.answers(&check, [(latched, 0), (latched, 1999), (latched, 2000), (latched, 12_000)])
        #expect(answers == [false, false, true, false])
    }

    @Test func notWhileTheBoxIsInLinkFaultWithAFrameUndelivered() {
        var check = AlarmBoxLatchCheck()
        let answers = Self.answers(&check, [(inLinkFault, 5000), (inLinkFault, 15_000), (latched, 25_000)])
        #expect(answers == [false, false, true])
    }

    @Test func notWithinTheSettleTimeOfAHelloAfterWhichTheBoxResendsItsPress() {
        var check = AlarmBoxLatchCheck()
        let answers = Self.answers(&check, [(latched, 30_000), (latched, 31_500), (latched, 32_000)], lastHello: .seconds(30))
        #expect(answers == [false, false, true], "the HELLO itself, a heartbeat too soon after it, then one")
    }
}
