import Agent
import Logging
import Metrics
import Prometheus
import StationConfig
import Synchronization
import SystemdNotify

/// The log level every logger of the process follows; a configuration reload changes it.
final class LogLevelSwitch: Sendable {
    private let level: Mutex<Logger.Level>

    init(_ level: Logger.Level) { self.level = Mutex(level) }

    var current: Logger.Level {
        get { level.withLock { $0 } }
        set { level.withLock { $0 = newValue } }
    }
}

/// A stream log handler whose level is read from a ``LogLevelSwitch`` at each message.
struct SwitchableLogHandler: LogHandler {
    var inner: StreamLogHandler
    let level: LogLevelSwitch

    func log(event: LogEvent) { inner.log(event: event) }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { level.current }
        set { level.current = newValue }
    }
}

extension Logger.Level {
    init(_ level: StationConfiguration.LogLevel) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}

enum AgentMetrics {
    /// Buckets of `station_delivery_latency_seconds`: from a prompt delivery (tens of ms) to a
    /// backlog sent after a day offline.
    static let deliveryLatencyBuckets: [Duration] = [
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600), .seconds(6 * 3600),
        .seconds(86_400),
    ]

    /// Bootstraps swift-metrics with a Prometheus registry (once per process) and returns the
    /// registry's renderer for the `/metrics` endpoint.
    static func bootstrap() -> @Sendable () -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["station_delivery_latency_seconds"] = deliveryLatencyBuckets
        MetricsSystem.bootstrap(factory)
        return { registry.emitToBuffer() }
    }
}

/// What systemd is told about reloads (`Type=notify`): `RELOADING=1` with the monotonic time
/// when one starts, `READY=1` and a status line when it is applied or rejected.
enum ReloadNotification {
    static func states(for event: ReloadEvent, monotonicMicroseconds: UInt64) -> [NotifyState] {
        switch event {
        case .reloading:
            return [.reloading, .monotonicMicroseconds(monotonicMicroseconds), .status("reloading the configuration")]
        case .applied(let settings):
            return [.ready, .status("running: \(settings.readers.count) reader(s); configuration reloaded")]
        case .rejected(let reason):
            let first = reason.split(separator: "\n").first.map(String.init) ?? reason
            return [.ready, .status("running the previous configuration; reload rejected: \(first)")]
        }
    }
}
