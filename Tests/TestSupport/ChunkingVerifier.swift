import SeededRandom

/// One way of cutting a byte stream into the chunks a serial line or a socket might deliver.
public struct Chunking: Sendable, CustomStringConvertible {
    /// Ascending offsets at which the stream is cut.
    public var cuts: [Int]
    public var description: String

    /// `bytes` cut at `cuts` (empty chunks included: a read may return nothing).
    public func chunks(of bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var chunks: [ArraySlice<UInt8>] = []
        var start = 0
        for cut in cuts {
            chunks.append(bytes[start..<cut])
            start = cut
        }
        chunks.append(bytes[start...])
        return chunks
    }

    /// Every way worth trying for a stream of `count` bytes: whole; one byte at a time; in two
    /// at every position; in three at every pair of positions (when `count` is at most
    /// `pairsUpTo`); and `randomRounds` seeded random cuttings.
    public static func all(count: Int, pairsUpTo: Int = 160, randomRounds: Int = 200, seed: UInt64 = 0x5EED) -> [Chunking] {
        var all = [Chunking(cuts: [], description: "whole")]
        all.append(Chunking(cuts: count > 1 ? Array(1..<count) : [], description: "byte by byte"))
        for cut in 0...count { all.append(Chunking(cuts: [cut], description: "cut at \(cut)")) }
        if count <= pairsUpTo {
            for first in 0...count {
                for second in first...count { all.append(Chunking(cuts: [first, second], description: "cut at \(first), \(second)")) }
            }
        }
        var random = SplitMix64(seed: seed)
        for round in 0..<randomRounds {
            let cuts = (0..<Int.random(in: 1...12, using: &random)).map { _ in Int.random(in: 0...count, using: &random) }.sorted()
            all.append(Chunking(cuts: cuts, description: "random round \(round): cut at \(cuts)"))
        }
        return all
    }
}

/// Checks that a streaming decoder gives the same output however its input is cut, the way a
/// pipeline feeds it: `makeFeed` returns a fresh decoder's feed function (the next chunk in,
/// what it completed out); `finish`, when given, is called after the last chunk (the decoder's
/// end-of-input hook) and its output is added.
///
/// Returns one line per chunking whose output differed from `expected` (empty when all agree),
/// for the test to assert on: `#expect(failures.isEmpty, "\(failures)")`.
public func chunkingFailures<Output: Equatable>(
    decoding bytes: [UInt8], expecting expected: [Output], chunkings: [Chunking]? = nil,
    makeFeed: () -> (feed: (ArraySlice<UInt8>) -> [Output], finish: (() -> [Output])?)
) -> [String] {
    var failures: [String] = []
    for chunking in chunkings ?? Chunking.all(count: bytes.count) {
        let decoder = makeFeed()
        var output: [Output] = []
        for chunk in chunking.chunks(of: bytes) { output += decoder.feed(chunk) }
        if let finish = decoder.finish { output += finish() }
        if output != expected {
            failures.append("\(chunking): got \(output.count) results, expected \(expected.count): \(output)")
        }
        if failures.count >= 5 {
            failures.append("(stopped after 5 failures)")
            break
        }
    }
    return failures
}
