import Foundation

/// `[store]` and `[log]`.
extension SchemaDecoder {
    mutating func decodeStore(_ s: Section?) -> StationConfiguration.Store? {
        guard let s else { return StationConfiguration.Store() }
        checkUnknown(s, keys: Self.storeKeys)
        let hours = integer(s, "retention_hours", in: 0...87_600, default: 168)
        let maxMB = integer(s, "max_mb", in: 0...1_048_576, default: 0)
        let reserveMB = integer(s, "alarm_reserve_mb", in: 1...1024, default: 8)
        guard let hours, let maxMB, let reserveMB else { return nil }
        if maxMB > 0, maxMB < reserveMB * 4, let line = s.table["max_mb"]?.position.line {
            issue(line, s.key("max_mb"), "\(maxMB) MiB leaves too little room: it must be at least 4 × alarm_reserve_mb (\(reserveMB * 4)), or 0 for no budget")
            return nil
        }
        return StationConfiguration.Store(retention: .seconds(hours * 3600), maxBytes: maxMB << 20, alarmReserveBytes: reserveMB << 20)
    }

    mutating func decodeLog(_ s: Section?) -> StationConfiguration.Log? {
        guard let s else { return StationConfiguration.Log() }
        checkUnknown(s, keys: Self.logKeys)
        let options = StationConfiguration.LogLevel.allCases.map(\.rawValue)
        switch oneOf(s, "level", options: options, required: false) {
        case .absent: return StationConfiguration.Log()
        case .invalid: return nil
        case .present(let value, _): return StationConfiguration.LogLevel(rawValue: value).map { StationConfiguration.Log(level: $0) }
        }
    }
}
