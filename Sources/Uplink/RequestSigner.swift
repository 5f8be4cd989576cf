import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PlatformAPI

/// Signs every request the agent makes to the platform (ingest, heartbeat, command long-poll)
/// with the station's HMAC key, as ``PlatformAPI/RequestSignature`` describes: a fresh
/// timestamp and nonce per request, so a retry is a new request and a captured one cannot be
/// replayed.
///
/// ```swift
/// let signer = RequestSigner(key: key)
/// let headers = signer.headers(method: "POST", url: "https://p.example/v1/stations/ST-1/events", body: bytes)
/// ```
public struct RequestSigner: Sendable {
    let key: HMACKey
    let now: @Sendable () -> Date
    let nonce: @Sendable () -> String

    /// - Parameters:
    ///   - now: the clock the timestamp comes from (injected in tests).
    ///   - nonce: a new nonce per call (injected in tests); 32 random hex digits by default.
    public init(
        key: HMACKey, now: @escaping @Sendable () -> Date = Date.init, nonce: @escaping @Sendable () -> String = RequestSigner.randomNonce
    ) {
        self.key = key
        self.now = now
        self.nonce = nonce
    }

    /// The request target of `url` as it goes on the wire: its path (`/` if empty) and query.
    public static func target(of url: String) -> String {
        guard let components = URLComponents(string: url) else { return url }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        return components.percentEncodedQuery.map { path + "?" + $0 } ?? path
    }

    /// The four `X-Station-*` headers for a request with exactly these body bytes.
    public func headers(method: String, url: String, body: some DataProtocol) -> [(name: String, value: String)] {
        let timestamp = Int64(now().timeIntervalSince1970.rounded(.down))
        let nonce = nonce()
        let contentHash = RequestSignature.contentHash(body)
        let signature = RequestSignature.signature(
            key: key, timestamp: timestamp, nonce: nonce, method: method, target: Self.target(of: url), contentHash: contentHash)
        return [
            (RequestSignature.timestampHeader, String(timestamp)),
            (RequestSignature.nonceHeader, nonce),
            (RequestSignature.contentHashHeader, contentHash),
            (RequestSignature.signatureHeader, signature),
        ]
    }

    /// 16 random bytes as 32 lower-case hex digits.
    public static func randomNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

extension PlatformClient {
    /// Adds the signature headers for `body` (the exact bytes sent; nil for no body) when the
    /// station has a signing key.
    func sign(_ request: inout HTTPClientRequest, body: ByteBuffer?) {
        guard let signer else { return }
        let bytes = body?.readableBytesView ?? ByteBuffer().readableBytesView
        for header in signer.headers(method: request.method.rawValue, url: request.url, body: bytes) {
            request.headers.replaceOrAdd(name: header.name, value: header.value)
        }
    }
}
