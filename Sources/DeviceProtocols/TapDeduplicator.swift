/// Turns the repeated sightings of a card held on a reader into one tap per presentation.
///
/// A reader repeats its frame every ~65 ms while a card stays in the field. The rule is:
/// - A sighting of a card last seen **less than** `window` ago is the same tap: ``admit(_:at:)``
///   returns `false`. The time is measured from the card's **last** sighting, so a card held on
///   the reader for any length of time is one tap.
/// - A card unseen for `window` or longer (or never seen) is a new tap: ``admit(_:at:)`` returns `true`.
/// - Each card is tracked on its own: two cards taken in turn are two taps each time they
///   alternate, if each stays away for at least `window`.
/// - A `window` of zero (or less) makes every sighting a tap and remembers nothing.
///
/// Time is injected: `now` is a monotonic offset from any fixed origin (e.g.
/// `ContinuousClock.now - start`). It should never decrease; if it does, the sighting counts
/// as the same tap and becomes the card's last sighting.
///
/// Memory is bounded: cards unseen for `window` or longer are forgotten when the table grows
/// past a threshold, which keeps it below about twice the number of distinct cards seen within
/// one window (at least 32 entries). Use one deduplicator per reader.
///
/// ```swift
/// var dedup = TapDeduplicator(window: .milliseconds(2000))
/// dedup.admit("1A002F4B6C", at: .milliseconds(0))    // true: a new tap
/// dedup.admit("1A002F4B6C", at: .milliseconds(65))   // false: still held
/// dedup.admit("1A002F4B6C", at: .milliseconds(5000)) // true: presented again
/// ```
public struct TapDeduplicator: Sendable {
    /// The least time a card must stay unseen before its next sighting is a new tap.
    public let window: Duration

    private var lastSighting: [String: Duration] = [:]
    private var pruneThreshold = TapDeduplicator.minimumPruneThreshold

    static let minimumPruneThreshold = 32

    /// Creates a deduplicator. A negative `window` is treated as zero.
    public init(window: Duration) {
        self.window = max(window, .zero)
    }

    /// The number of cards currently remembered.
    public var trackedCardCount: Int { lastSighting.count }

    /// Records a sighting of `uid` at `now` and returns whether it starts a new tap.
    public mutating func admit(_ uid: String, at now: Duration) -> Bool {
        guard window > .zero else { return true }
        if lastSighting.count >= pruneThreshold {
            forgetCards(unseenSince: now)
        }
        guard let previous = lastSighting.updateValue(now, forKey: uid) else { return true }
        return now - previous >= window
    }

    /// Forgets every card; the next sighting of any card is a new tap.
    public mutating func reset() {
        lastSighting.removeAll()
        pruneThreshold = Self.minimumPruneThreshold
    }

    private mutating func forgetCards(unseenSince now: Duration) {
        let window = self.window
        lastSighting = lastSighting.filter { now - $0.value < window }
        pruneThreshold = max(Self.minimumPruneThreshold, 2 * lastSighting.count)
    }
}
