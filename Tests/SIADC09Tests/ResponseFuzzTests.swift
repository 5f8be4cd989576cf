import Foundation
import SeededRandom
import Testing

@testable import SIADC09

/// Mutations a fuzzer would make: flip, replace, insert, delete, truncate, duplicate a slice.
func mutate(_ input: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
    var bytes = input
    for _ in 0..<Int.random(in: 1...4, using: &rng) {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0 where !bytes.isEmpty:
            let index = Int.random(in: 0..<bytes.count, using: &rng)
            bytes[index] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
        case 1 where !bytes.isEmpty:
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        case 2:
            bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
        case 3 where !bytes.isEmpty:
            bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
        case 4:
            bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
        default:
            guard !bytes.isEmpty else { break }
            let start = Int.random(in: 0..<bytes.count, using: &rng)
            let end = Int.random(in: start...bytes.count, using: &rng)
            bytes.insert(contentsOf: bytes[start..<end], at: Int.random(in: 0...bytes.count, using: &rng))
        }
    }
    return bytes
}

/// DC-09 response parsing under random and mutated input (the property-based stand-in for a
/// libFuzzer harness: `DC09Response.parse` needs swift-crypto, which a plain `swiftc` harness
/// cannot link). A trap (overflow, out-of-range index) fails the run; every input must end
/// in a response or a ``DC09Error``.
@Suite struct ResponseFuzzTests {
    static let time = DC09Timestamp(year: 2026, month: 11, day: 24, hour: 10, minute: 15, second: 30)

    static func message(_ token: DC09Token, sequence: Int, encrypted: Bool = false, receiver: String? = nil) throws -> DC09Message {
        DC09Message(
            token: token, isEncrypted: encrypted, sequence: try DC09Sequence(sequence),
            receiver: try receiver.map { r throws(DC09Error) in try DC09ReceiverNumber(r) }, prefix: .zero,
            account: try DC09Account("1234"), data: "", timestamp: time)
    }

    static func seeds(key: DC09Key) throws -> [[UInt8]] {
        var rng = SplitMix64(seed: 1)
        return [
            ascii(#"5BAD0012"ACK"1665L0#0000[]"#),
            try DC09Frame.encode(message(.ack, sequence: 7), key: nil, generator: &rng),
            try DC09Frame.encode(message(.ack, sequence: 9999, encrypted: true, receiver: "12AB"), key: key, generator: &rng),
            try DC09Frame.encode(message(.nak, sequence: 0), key: nil, generator: &rng),
            try DC09Frame.encode(message(.duh, sequence: 42), key: nil, generator: &rng),
            try DC09Frame.encode(message(.rsp, sequence: 3, encrypted: true), key: key, generator: &rng),
        ]
    }

    @Test func encodedAnswersParseBackToTheMessageTheyAnswer() throws {
        let key = try DC09Key(hex: countingKeyHex(bits: 256))
        var rng = SplitMix64(seed: 20_261_125)
        for _ in 0..<300 {
            let sequence = Int.random(in: 0...9999, using: &rng)
            let encrypted = Bool.random(using: &rng)
            let sent = try Self.message(.siaDCS, sequence: sequence, encrypted: encrypted)
            let ack = try Self.message(.ack, sequence: sequence, encrypted: encrypted)
            let frame = try DC09Frame.encode(ack, key: encrypted ? key : nil, generator: &rng)
            let response = try DC09Response.parse(frame, key: key)
            #expect(response.answers(sent), "seq \(sequence) encrypted \(encrypted): \(show(frame))")
        }
    }

    @Test func mutatedAndRandomFramesNeverTrapAndNeverAnswerWrongly() throws {
        let key = try DC09Key(hex: countingKeyHex(bits: 256))
        let seeds = try Self.seeds(key: key)
        var rng = SplitMix64(seed: 0x5EED_DC09)
        var parsed = 0
        var rejected = 0
        for round in 0..<20_000 {
            let input: [UInt8]
            if round % 5 == 0 {
                input = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                input = mutate(seeds[round % seeds.count], using: &rng)
            }
            do {
                let response = try DC09Response.parse(input, key: round % 2 == 0 ? key : nil)
                parsed += 1
                // Whatever parses describes itself without trapping.
                #expect(!response.description.isEmpty)
            } catch {
                rejected += 1
                #expect(!"\(error)".isEmpty)
            }
        }
        // The CRC rejects almost every mutation; some (in the pad or a tolerated LF/CR) parse.
        #expect(parsed + rejected == 20_000)
        #expect(rejected > 15_000)
    }
}
