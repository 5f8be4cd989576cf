import Metrics

/// The per-device series: `station_device_online{device}` (1 online, 0 offline; absent until
/// the device's state is first known) and `station_device_reconnects_total{device}` (offline →
/// online transitions). Labelled by configured device name only, so the set stays bounded.
enum DeviceMetrics {
    static let onlineLabel = "station_device_online"
    static let reconnectsLabel = "station_device_reconnects_total"

    static func online(_ device: String, reconnected: Bool) {
        Gauge(label: onlineLabel, dimensions: [("device", device)]).record(1)
        let reconnects = Counter(label: reconnectsLabel, dimensions: [("device", device)])
        if reconnected { reconnects.increment() }
    }

    static func offline(_ device: String) {
        Gauge(label: onlineLabel, dimensions: [("device", device)]).record(0)
        // Created (at 0) so the series exists before the first reconnect.
        _ = Counter(label: reconnectsLabel, dimensions: [("device", device)])
    }

    /// Drops a device's series (it was removed from the configuration by a reload).
    static func forget(_ device: String) {
        Gauge(label: onlineLabel, dimensions: [("device", device)]).destroy()
        Counter(label: reconnectsLabel, dimensions: [("device", device)]).destroy()
    }
}
