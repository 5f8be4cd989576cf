import EventModel
import Foundation
import PlatformAPI
import PlatformEmulator
import SeededRandom
import Testing

/// The emulator's request validation under mutated and random bodies, with a seeded generator
/// (the property-based stand-in for a libFuzzer harness, which cannot link Hummingbird's
/// module graph from a plain `swiftc` build). Every body must end in a validated request or
/// a 400/413 whose detail is non-empty, never a trap; whatever is accepted must survive a
/// round trip through the encoder and validate again.
@Suite struct ValidationFuzzTests {
    static let seed: Data = {
        let request = IngestRequest(
            station: WireStation(id: "station-1", location: GridLocation(district: "d", grid: "g")),
            sentAt: "2026-11-24T10:15:30.123Z",
            events: [
                WireEvent(
                    id: "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b", seq: 1, kind: "card_tap", lane: "normal",
                    occurredAt: "2026-11-24T10:15:29.001Z", monotonicNanos: 123_456_789, device: "reader-1", purpose: "check-in",
                    card: WireCard(uid: "0012345678", format: "em4100"), bootId: "b0f7c1aa-0000-4000-8000-000000000001",
                    clockSynchronized: false),
                WireEvent(
                    id: "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6c", seq: 2, kind: "alarm_reset", lane: "alarm",
                    occurredAt: "2026-11-24T10:15:30.001Z", device: "alarm-1", related: "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b",
                    clockCorrected: true, originalOccurredAt: "1970-01-01T00:00:12.500Z"),
                WireEvent(
                    id: "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6d", seq: 3, kind: "clock_jump", lane: "normal",
                    occurredAt: "2026-11-24T10:15:31.001Z", device: "agent", detail: "delta_ms=1"),
            ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try! encoder.encode(request)
    }()

    @Test func theSeedIsValid() throws {
        let request = try RequestValidation.ingestRequest(from: Self.seed, pathStationID: "station-1")
        #expect(request.events.count == 3)
        #expect(request.events[0].bootId == "b0f7c1aa-0000-4000-8000-000000000001")
        #expect(request.events[0].clockSynchronized == false)
        #expect(request.events[1].clockCorrected == true)
    }

    @Test func mutatedBodiesEndInAVerdictNeverATrap() throws {
        var rng = SplitMix64(seed: 0xF022_0005)
        let seed = Array(Self.seed)
        let interesting: [[UInt8]] = ["-1", "1e400", "18446744073709551616", "null", "\"\"", "[]", "{}", "true", "0.5", "\"\\u0000\""]
            .map { Array($0.utf8) }
        var accepted = 0
        var refused = 0
        for round in 0..<3000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                switch Int.random(in: 0..<5, using: &rng) {
                case 0:
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0x20...0x7E, using: &rng)
                case 1:
                    // Replace a JSON value (after a colon) with an awkward one.
                    let colons = bytes.indices.filter { bytes[$0] == UInt8(ascii: ":") }
                    if let colon = colons.randomElement(using: &rng) {
                        let end = bytes[(colon + 1)...].firstIndex { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "}") } ?? bytes.count
                        bytes.replaceSubrange((colon + 1)..<end, with: interesting.randomElement(using: &rng)!)
                    }
                case 2:
                    bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
                case 3:
                    bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
                default:
                    bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
                }
                if bytes.isEmpty { bytes = [UInt8(ascii: "{")] }
            }
            let verdict: IngestRequest?
            do throws(EmulatorRequestError) {
                verdict = try RequestValidation.ingestRequest(from: Data(bytes), pathStationID: "station-1")
            } catch {
                verdict = nil
                refused += 1
                #expect([400, 413].contains(error.status), "round \(round): \(error)")
                #expect(!error.body.detail.isEmpty)
            }
            if let request = verdict {
                accepted += 1
                // What is accepted re-encodes and validates again, unchanged.
                let again = try RequestValidation.ingestRequest(from: try JSONEncoder().encode(request), pathStationID: "station-1")
                #expect(again == request, "round \(round)")
            }
        }
        #expect(accepted + refused == 3000)
        #expect(accepted > 0)
        #expect(refused > 1000)
    }
}
