import EventModel
import EventStore
import Metrics

/// `station_events_total{kind, outcome}` for the platform's verdicts: `delivered` (accepted, or
/// a duplicate the platform already had) and `rejected`. `stored` is counted by the store.
enum DeliveryMetrics {
    static func record(_ outcomes: [DeliveryOutcome], batch: [StoredEvent]) {
        var kinds: [Int64: EventKind] = [:]
        for event in batch { kinds[event.seq] = event.kind }
        var counts: [String: [EventKind: Int]] = [:]
        for outcome in outcomes {
            guard let kind = kinds[outcome.seq] else { continue }
            counts[outcome.status == .rejected ? "rejected" : "delivered", default: [:]][kind, default: 0] += 1
        }
        for (outcome, byKind) in counts {
            for (kind, count) in byKind {
                Counter(label: "station_events_total", dimensions: [("kind", kind.rawValue), ("outcome", outcome)]).increment(by: count)
            }
        }
    }
}
