import DeviceProtocols
import SeededRandom
import TestSupport
import Testing

/// Telling a device from the bytes on its line, for `station-agent identify`.
@Suite struct LineIdentifierTests {
    @Test("each reader profile is recognised from one card, however the bytes are cut", arguments: ReaderProfile.allCases)
    func everyProfileIsRecognised(profile: ReaderProfile) throws {
        let uid = sampleUIDs(profile)[0]
        let frame = try profile.encode(uid: uid)
        // A decimal number fits the hex profile too; the verdict says so.
        let alsoFits: [ReaderProfile] = profile == .textDecimal ? [.textHex] : []
        let expected = LineIdentifier.Finding.cardReader(profile, card: expectedCard(profile, uid), alsoFits: alsoFits)
        // No verdict while the bytes come; one when the line goes quiet.
        let failures = chunkingFailures(decoding: frame, expecting: [expected]) {
            var identifier = LineIdentifier()
            return (
                { chunk in identifier.feed(Array(chunk), at: .readers).map { [$0] } ?? [] },
                { identifier.noteLineIdle().map { [$0] } ?? [] }
            )
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func aHexCardDecidesBetweenTheTwoTextProfiles() throws {
        var identifier = LineIdentifier()
        _ = identifier.feed(try ReaderProfile.textHex.encode(uid: "04A2B3C4"), at: .readers)
        guard case .cardReader(let profile, _, let also)? = identifier.noteLineIdle() else {
            Issue.record("a hex card names the reader")
            return
        }
        #expect(profile == .textHex)
        #expect(also.isEmpty)
    }

    @Test func anAlarmBoxIsRecognisedFromItsHeartbeatAtItsSpeed() {
        let heartbeat = AlarmBoxFrame.hello(
            sequence: 0, status: AlarmBoxStatus(firmwareVersion: AlarmBoxFirmwareVersion(major: 1, minor: 0), uptimeSeconds: 5))
        var identifier = LineIdentifier()
        #expect(identifier.feed(heartbeat.encoded(), at: .readers) == nil, "a box is not a card reader")
        guard case .alarmBox(let message)? = identifier.feed(heartbeat.encoded(), at: .alarmBox) else {
            Issue.record("a HELLO names the box")
            return
        }
        #expect(message == "hello")
    }

    @Test func noiseIsNothingAndIsCounted() {
        var random = SplitMix64(seed: 7)
        var identifier = LineIdentifier()
        var findings: [LineIdentifier.Finding] = []
        for _ in 0..<200 {
            let noise = randomBytes(count: 64, using: &random).map { $0 & 0x7F == 0x02 || $0 == 0x7E ? 0x20 : $0 }
            if let finding = identifier.feed(noise, at: .readers) { findings.append(finding) }
            if let finding = identifier.noteLineIdle() { findings.append(finding) }
            if let finding = identifier.feed(noise, at: .alarmBox) { findings.append(finding) }
        }
        #expect(findings.isEmpty, "\(findings)")
        #expect(identifier.bytesHeard == [.readers: 12_800, .alarmBox: 12_800])
    }
}
