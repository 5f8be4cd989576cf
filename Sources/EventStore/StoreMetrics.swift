import EventModel
import Metrics

/// Counts events as their commit returns: `station_events_total{kind, outcome="stored"}`, one
/// series per kind (all present from the start, at 0). The forwarder counts the other outcomes
/// (`delivered`, `rejected`) under the same name.
///
/// The counters are made when the store is opened, so they report to whatever metrics backend
/// was bootstrapped before that (none in tests: then they cost nothing).
struct StoreMetrics: Sendable {
    private let stored: [EventKind: Counter]

    init() {
        var stored: [EventKind: Counter] = [:]
        for kind in EventKind.allCases {
            stored[kind] = Counter(label: "station_events_total", dimensions: [("kind", kind.rawValue), ("outcome", "stored")])
        }
        self.stored = stored
    }

    /// Called after the commit that stored `events` is durable.
    func committed(_ events: [StoredEvent]) {
        var counts: [EventKind: Int] = [:]
        for event in events { counts[event.kind, default: 0] += 1 }
        for (kind, count) in counts { stored[kind]?.increment(by: count) }
    }
}
