import DequeModule

/// The writes a device made while the store refused them (a full disk, a store being salvaged),
/// as a value type with no I/O: which goes next, and what is dropped when the bound is reached.
///
/// - Alarm-lane writes (alarms, resets, tamper) go before every other, in the order they came,
///   and are never dropped: an alarm held in memory is bounded only by how often a person can
///   press a button.
/// - Other writes (taps, device states) keep their order and are bounded by `limit`; past it
///   the oldest is dropped and counted, so a reader flooding a dead store cannot exhaust memory.
public struct HeldWrites<Write: Sendable>: Sendable {
    public enum Action: Sendable, Hashable {
        /// Held; nothing was lost.
        case held
        /// Held, and the oldest non-alarm write was dropped to make room.
        case heldDroppingOldest
    }

    /// A held write and its number (for ``removeStored(_:)``).
    public struct Entry: Sendable {
        public var number: UInt64
        public var write: Write
    }

    public let limit: Int
    private var alarms = Deque<Entry>()
    private var others = Deque<Entry>()
    private var nextNumber: UInt64 = 0
    /// Non-alarm writes dropped because the bound was reached, since the start.
    public private(set) var droppedCount = 0

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    public var count: Int { alarms.count + others.count }
    public var alarmCount: Int { alarms.count }
    public var isEmpty: Bool { alarms.isEmpty && others.isEmpty }

    /// Holds `write` at the end of its class.
    public mutating func hold(_ write: Write, alarmLane: Bool) -> Action {
        nextNumber += 1
        let entry = Entry(number: nextNumber, write: write)
        if alarmLane {
            alarms.append(entry)
            return .held
        }
        others.append(entry)
        guard others.count > limit else { return .held }
        others.removeFirst()
        droppedCount += 1
        return .heldDroppingOldest
    }

    /// The write to try next: the oldest alarm, else the oldest other.
    public var next: Entry? { alarms.first ?? others.first }

    /// The entry `number` (returned by ``next``) is stored: forget it. Writes held meanwhile
    /// (an alarm that now goes first, say) stay; an entry already dropped is ignored.
    public mutating func removeStored(_ number: UInt64) {
        if let index = alarms.firstIndex(where: { $0.number == number }) {
            alarms.remove(at: index)
        } else if let index = others.firstIndex(where: { $0.number == number }) {
            others.remove(at: index)
        }
    }
}
