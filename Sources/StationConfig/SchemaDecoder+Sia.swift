import Foundation

/// `[sia]`: the DC-09 receiving centre.
extension SchemaDecoder {
    mutating func decodeSia(_ s: Section?) -> StationConfiguration.Sia? {
        guard let s else { return nil }
        checkUnknown(s, keys: Self.siaKeys)
        var host: String?
        var port: Int?
        if case .present(let value, let line) = string(s, "receiver", required: true) {
            let parts = value.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 2, !parts[0].isEmpty, let number = Int(parts[1]), (1...65_535).contains(number) {
                (host, port) = (String(parts[0]), number)
            } else {
                issue(line, s.key("receiver"), "expected HOST:PORT like \"10.20.0.5:12300\"; got \(Self.quoted(value))")
            }
        }
        func hexField(_ key: String, length: ClosedRange<Int>, required: Bool) -> (ok: Bool, value: String?) {
            switch string(s, key, required: required) {
            case .absent: return (!required, nil)
            case .invalid: return (false, nil)
            case .present(let value, let line):
                if Self.matches(value, length: length, allowed: { $0.properties.isASCIIHexDigit }) { return (true, value.uppercased()) }
                issue(line, s.key(key), "expected \(length.lowerBound) to \(length.upperBound) hex digits; got \(Self.quoted(value))")
                return (false, nil)
            }
        }
        let account = hexField("account", length: 3...16, required: true)
        let receiverNumber = hexField("receiver_number", length: 1...6, required: false)
        let prefix = hexField("prefix", length: 1...6, required: false)
        let format = oneOf(s, "format", options: ["SIA-DCS", "ADM-CID"], required: false)
        let keyFile = path(s, "key_file")
        let retry = integer(s, "retry_seconds", in: 5...60, default: 10)
        let timeout = integer(s, "response_timeout_seconds", in: 1...60, default: 10)
        let linkTest = integer(s, "link_test_seconds", in: 0...86_400, default: 60)
        if let linkTest, (1..<10).contains(linkTest), let line = s.table["link_test_seconds"]?.position.line {
            issue(line, s.key("link_test_seconds"), "expected 0 (off) or at least 10 seconds; got \(linkTest)")
            return nil
        }
        var formatValue = "SIA-DCS"
        switch format {
        case .invalid: return nil
        case .present(let value, _): formatValue = value
        case .absent: break
        }
        guard let host, let port, account.ok, let accountValue = account.value, receiverNumber.ok, prefix.ok, let retry, let timeout,
            let linkTest
        else { return nil }
        return StationConfiguration.Sia(
            host: host, port: port, account: accountValue, receiverNumber: receiverNumber.value, prefix: prefix.value ?? "0",
            format: formatValue, keyFile: keyFile, retryInterval: .seconds(retry), responseTimeout: .seconds(timeout),
            linkTestInterval: linkTest == 0 ? nil : .seconds(linkTest))
    }
}
