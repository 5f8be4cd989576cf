import Foundation

/// `[metrics]`.
extension SchemaDecoder {
    mutating func decodeMetrics(_ s: Section?) -> StationConfiguration.Metrics? {
        guard let s else { return nil }
        checkUnknown(s, keys: Self.metricsKeys)
        switch string(s, "listen") {
        case .absent:
            return StationConfiguration.Metrics()
        case .invalid:
            return nil
        case .present(let value, let line):
            if value.isEmpty { return StationConfiguration.Metrics(listen: nil) }
            guard let address = StationConfiguration.ListenAddress(parsing: value) else {
                issue(
                    line, s.key("listen"),
                    "expected HOST:PORT like \"127.0.0.1:9464\" or \"[::1]:9464\" (port 0 to 65535), or \"\" for no endpoint; got \(Self.quoted(value))")
                return nil
            }
            return StationConfiguration.Metrics(listen: address)
        }
    }
}
