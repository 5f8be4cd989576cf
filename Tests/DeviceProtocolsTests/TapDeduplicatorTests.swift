import DeviceProtocols
import Testing

@Suite("Tap deduplication")
struct TapDeduplicatorTests {
    private let window = Duration.milliseconds(2000)

    /// The sighting times of a card held on a reader: every 65 ms from `start` for `length`.
    private func held(from start: Duration, for length: Duration) -> [Duration] {
        var times: [Duration] = []
        var t = start
        while t < start + length {
            times.append(t)
            t += .milliseconds(65)
        }
        return times
    }

    @Test("a card held for 5 s, repeating every 65 ms, is one tap")
    func heldCard() {
        var dedup = TapDeduplicator(window: window)
        let times = held(from: .zero, for: .seconds(5))
        #expect(times.count == 77)
        let taps = times.filter { dedup.admit("1A002F4B6C", at: $0) }
        #expect(taps == [.zero])
    }

    @Test("two cards interleaved on one reader are one tap each")
    func interleavedCards() {
        var dedup = TapDeduplicator(window: window)
        var taps: [String] = []
        for (index, t) in held(from: .milliseconds(1000), for: .seconds(3)).enumerated() {
            let uid = index.isMultiple(of: 2) ? "AAAAAAAAAA" : "BBBBBBBBBB"
            if dedup.admit(uid, at: t) { taps.append(uid) }
        }
        #expect(taps == ["AAAAAAAAAA", "BBBBBBBBBB"])
        #expect(dedup.trackedCardCount == 2)
    }

    @Test("the same card presented again after the window is a second tap")
    func reTapAfterWindow() {
        var dedup = TapDeduplicator(window: window)
        var taps = 0
        // Held 1 s, removed for 2.5 s, held again 1 s.
        for t in held(from: .zero, for: .seconds(1)) + held(from: .milliseconds(3500), for: .seconds(1)) {
            if dedup.admit("1A002F4B6C", at: t) { taps += 1 }
        }
        #expect(taps == 2)
    }

    @Test("the window is measured from the last sighting: a gap just under it is still the same tap")
    func windowBoundary() {
        var dedup = TapDeduplicator(window: window)
        let taps = [
            dedup.admit("C", at: .seconds(10)),
            dedup.admit("C", at: .seconds(10) + .milliseconds(1999)),
            // 1999 ms after the previous sighting: the same tap again.
            dedup.admit("C", at: .seconds(10) + .milliseconds(3998)),
            // Exactly the window after the last sighting: a new tap.
            dedup.admit("C", at: .seconds(10) + .milliseconds(5998)),
        ]
        #expect(taps == [true, false, false, true])
    }

    @Test("a window of zero makes every sighting a tap and remembers nothing")
    func zeroWindow() {
        var dedup = TapDeduplicator(window: .zero)
        let times = held(from: .zero, for: .seconds(1))
        let everyOneATap = times.allSatisfy { dedup.admit("1A002F4B6C", at: $0) }
        #expect(everyOneATap)
        let later = dedup.admit("1A002F4B6C", at: .seconds(1))
        #expect(later)
        #expect(dedup.trackedCardCount == 0)
        #expect(TapDeduplicator(window: .milliseconds(-5)).window == .zero)
    }

    @Test("memory stays bounded with thousands of distinct cards")
    func boundedMemory() {
        var dedup = TapDeduplicator(window: window)
        for index in 0..<10_000 {
            let admitted = dedup.admit("card-\(index)", at: .seconds(index))
            #expect(admitted)
            #expect(dedup.trackedCardCount <= 32)
        }
        // A card still inside its window is remembered across a pruning.
        let again = dedup.admit("card-9999", at: .seconds(9999) + .milliseconds(500))
        #expect(!again)
    }

    @Test("a burst of distinct cards inside one window is remembered, then forgotten")
    func burstThenQuiet() {
        var dedup = TapDeduplicator(window: window)
        for index in 0..<200 {
            let admitted = dedup.admit("card-\(index)", at: .milliseconds(index))
            #expect(admitted)
        }
        #expect(dedup.trackedCardCount == 200)
        // All 200 are within the window: none of them is a new tap.
        let noneIsATap = (0..<200).allSatisfy { !dedup.admit("card-\($0)", at: .milliseconds(300)) }
        #expect(noneIsATap)
        // Long after, the table shrinks back as new cards arrive.
        for index in 0..<1000 {
            _ = dedup.admit("later-\(index)", at: .seconds(100 + index * 3))
        }
        #expect(dedup.trackedCardCount <= 32)
    }

    @Test("time going backwards counts as the same tap")
    func timeGoingBackwards() {
        var dedup = TapDeduplicator(window: window)
        let taps = [
            dedup.admit("C", at: .seconds(100)),
            dedup.admit("C", at: .seconds(50)),
            // 3 s after the sighting at 50 s, which became the last one.
            dedup.admit("C", at: .seconds(53)),
        ]
        #expect(taps == [true, false, true])
    }

    @Test("reset forgets every card")
    func reset() {
        var dedup = TapDeduplicator(window: window)
        let first = dedup.admit("C", at: .zero)
        dedup.reset()
        #expect(dedup.trackedCardCount == 0)
        let second = dedup.admit("C", at: .milliseconds(65))
        #expect(first && second)
    }
}
