import Foundation

/// `[platform]` and `[privacy]`.
extension SchemaDecoder {
    mutating func decodePlatform(_ s: Section?) -> StationConfiguration.Platform? {
        guard let s else { return nil }
        checkUnknown(s, keys: Self.platformKeys)
        var url: URL?
        if case .present(let value, let line) = string(s, "url", required: true) {
            switch Self.platformURL(value) {
            case .success(let valid): url = valid
            case .failure(let problem): issue(line, s.key("url"), problem.message)
            }
        }
        var credential: StationConfiguration.Credential?
        let token = optionalText(s, "token")
        let tokenFile = path(s, "token_file")
        if let tokenLine = s.table["token"]?.position.line, let fileEntry = s.table["token_file"] {
            issue(fileEntry.position.line, s.key("token_file"), "`token` (line \(tokenLine)) and `token_file` are two ways to give the token; keep one of them")
        } else if let token {
            credential = .token(StationConfiguration.Secret(token))
        } else if let tokenFile {
            credential = .tokenFile(tokenFile)
        }
        let caFile = path(s, "ca_file")
        let timeout = integer(s, "timeout_ms", in: 100...600_000, default: 5000)
        let batchSize = integer(s, "batch_size", in: 1...1000, default: 200)
        let retryInitial = integer(s, "retry_initial_ms", in: 10...60_000, default: 500)
        let retryMax = orderedMaximum(s, initialKey: "retry_initial_ms", initial: retryInitial, absoluteMinimum: 10, key: "retry_max_ms", upper: 3_600_000, default: 30_000)
        let heartbeat = integer(s, "heartbeat_seconds", in: 1...3600, default: 30)
        let signingKeyFile = fileReference(s, "signing_key_file")
        let clientCertificate = decodeClientCertificate(s)
        var certificate: StationConfiguration.ClientCertificate?
        switch clientCertificate {
        case .invalid: return nil
        case .absent: break
        case .present(let value, _): certificate = value
        }
        guard let url, let timeout, let batchSize, let retryInitial, let retryMax, let heartbeat else { return nil }
        var platform = StationConfiguration.Platform(
            url: url, credential: credential, caFile: caFile, timeout: .milliseconds(timeout), batchSize: Int(batchSize),
            retryInitial: .milliseconds(retryInitial), retryMax: .milliseconds(retryMax), heartbeatInterval: .seconds(heartbeat)
        )
        platform.signingKeyFile = signingKeyFile
        platform.clientCertificate = certificate
        return platform
    }

    /// `client_certificate_file` and `client_key_file`: both or neither.
    mutating func decodeClientCertificate(_ s: Section) -> Field<StationConfiguration.ClientCertificate> {
        let certificateKey = "client_certificate_file", keyKey = "client_key_file"
        let certificate = fileReference(s, certificateKey)
        let key = fileReference(s, keyKey)
        if let certificate, let key {
            return .present(StationConfiguration.ClientCertificate(certificateFile: certificate, keyFile: key), line: certificate.line ?? 0)
        }
        if let certificate, s.table[keyKey] == nil {
            issue(certificate.line, s.key(certificateKey), "needs `\(keyKey)` too (the certificate's private key, PEM, mode 0600)")
        } else if let key, s.table[certificateKey] == nil {
            issue(key.line, s.key(keyKey), "needs `\(certificateKey)` too (the station's certificate, PEM)")
        }
        return s.table[certificateKey] == nil && s.table[keyKey] == nil ? .absent : .invalid
    }

    /// An optional path with the line that names it.
    mutating func fileReference(_ s: Section, _ key: String) -> StationConfiguration.FileReference? {
        path(s, key).map { StationConfiguration.FileReference($0, line: s.table[key]?.position.line) }
    }

    mutating func decodePrivacy(_ s: Section?) -> StationConfiguration.Privacy? {
        guard let s else { return nil }
        guard s.present else { return StationConfiguration.Privacy() }
        checkUnknown(s, keys: Self.privacyKeys)
        var mode = StationConfiguration.CardIDMode.pseudonym
        switch oneOf(s, "card_ids", options: StationConfiguration.CardIDMode.allCases.map(\.rawValue), required: false) {
        case .absent: break
        case .invalid: return nil
        case .present(let value, _): mode = StationConfiguration.CardIDMode(rawValue: value) ?? .pseudonym
        }
        let keyFile = fileReference(s, "district_key_file")
        if s.table["district_key_file"] != nil, keyFile == nil { return nil }
        return StationConfiguration.Privacy(cardIDs: mode, districtKeyFile: keyFile, line: s.table.position?.line)
    }

    struct URLProblem: Error {
        var message: String
    }

    /// Checks a platform URL: `http` or `https`, a host, no credentials, query or fragment.
    static func platformURL(_ text: String) -> Result<URL, URLProblem> {
        let example = "like \"https://platform.example.cn/api\""
        guard !text.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }),
              let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let url = URL(string: text)
        else {
            return .failure(URLProblem(message: "expected an http:// or https:// URL \(example); got \(quoted(text))"))
        }
        guard let host = components.host, !host.isEmpty else {
            return .failure(URLProblem(message: "expected a URL with a host, \(example); got \(quoted(text))"))
        }
        if components.user != nil || components.password != nil {
            return .failure(URLProblem(message: "the URL must not contain a user name or password; put the credential in `token` or `token_file`"))
        }
        if components.query != nil || components.fragment != nil {
            return .failure(URLProblem(message: "expected a URL without a query (?…) or fragment (#…); got \(quoted(text))"))
        }
        return .success(url)
    }
}
