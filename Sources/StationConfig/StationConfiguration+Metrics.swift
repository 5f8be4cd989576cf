extension StationConfiguration {
    /// `[metrics]`: where the agent serves its metrics in the Prometheus text format.
    public struct Metrics: Sendable, Hashable {
        /// The default endpoint: loopback only, the port Prometheus exporters commonly use.
        public static let defaultListen = ListenAddress(host: "127.0.0.1", port: 9464)

        /// `listen`: the address `GET /metrics` is served on; nil (`listen = ""`) serves none.
        public var listen: ListenAddress?

        public init(listen: ListenAddress? = Metrics.defaultListen) {
            self.listen = listen
        }
    }

    /// A TCP address to listen on: `HOST:PORT`, an IPv6 host in brackets (`[::1]:9464`).
    /// Port 0 asks the system for a free port (tests use it; the agent logs the port it got).
    public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Reads `HOST:PORT` or `[IPV6]:PORT`; nil when it is neither.
        public init?(parsing text: String) {
            let host: Substring
            let portText: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
                host = text[text.index(after: text.startIndex)..<close]
                portText = text[text.index(close, offsetBy: 2)...]
                guard host.contains(":") else { return nil }
            } else {
                let parts = text.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2 else { return nil }
                (host, portText) = (parts[0], parts[1])
            }
            guard !host.isEmpty, host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "/" }),
                !portText.isEmpty, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
                let port = Int(portText), (0...65_535).contains(port)
            else { return nil }
            self.init(host: String(host), port: port)
        }

        /// `HOST:PORT`, with an IPv6 host in brackets.
        public var description: String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }

        /// True for `127.0.0.0/8`, `::1` and `localhost`: only this machine can connect.
        public var isLoopback: Bool {
            host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }
}
