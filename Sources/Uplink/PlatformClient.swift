import AsyncHTTPClient
import EventModel
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import PlatformAPI

/// Where and as whom the agent delivers.
public struct PlatformEndpoint: Sendable, Hashable {
    /// The platform's base URL (`https://platform.example.cn/api`); API paths are appended.
    public var baseURL: String
    public var station: WireStation
    /// Bearer token, if the platform requires one.
    public var token: String?
    /// Deadline for one request, connect to last byte.
    public var timeout: Duration

    public init(baseURL: String, station: WireStation, token: String?, timeout: Duration) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.station = station
        self.token = token
        self.timeout = timeout
    }

    var ingestURL: String { baseURL + PlatformAPI.ingestPath(stationID: station.id) }
}

/// Why a delivery attempt failed.
public struct UplinkError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No answer: connection refused or reset, DNS, TLS, timeout.
        case transport
        /// The platform answered with a non-200 status.
        case status(Int)
        /// A 200 whose body is not an `IngestResponse`.
        case invalidResponse
    }

    public var kind: Kind
    /// The platform's `Retry-After`, if it sent one.
    public var retryAfter: Duration?
    public var message: String

    public init(_ kind: Kind, retryAfter: Duration? = nil, message: String) {
        self.kind = kind
        self.retryAfter = retryAfter
        self.message = message
    }

    /// The request itself is unacceptable (400, 413, 422, ...): sending the same batch again
    /// cannot succeed. Authentication failures (401, 403) are not in this class: they are a
    /// configuration problem that an operator fixes, and the events must wait for it.
    public var isRequestRejected: Bool {
        if case .status(let code) = kind {
            return (400..<500).contains(code) && ![401, 403, 408, 429].contains(code)
        }
        return false
    }

    public var description: String { message }
}

/// Sends batches of stored events to the platform's ingest API and returns its per-event
/// verdicts. One instance per station; it does not retry (the forwarder decides that).
public final class PlatformClient: Sendable {
    let http: HTTPClient
    public let endpoint: PlatformEndpoint
    private let logger: Logger
    /// Signs every request when the station has a signing key (`RequestSigner.swift`).
    let signer: RequestSigner?

    public init(http: HTTPClient, endpoint: PlatformEndpoint, logger: Logger, signer: RequestSigner? = nil) {
        self.http = http
        self.endpoint = endpoint
        self.logger = logger
        self.signer = signer
    }

    /// An HTTP client for the uplink: TLS with full server verification, trusting the system's
    /// roots or only the PEM bundle at `caFile`, and presenting `clientCertificate` (mutual TLS)
    /// when given.
    public static func makeHTTPClient(
        caFile: String?, clientCertificate: ClientCertificateFiles? = nil, connectTimeout: Duration
    ) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        if let clientCertificate { try clientCertificate.apply(to: &tls) }
        if let caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw UplinkError(
                    .transport, message: "\(caFile): the platform CA file (platform.ca_file) is missing or unreadable")
            }
            tls.trustRoots = .file(caFile)
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: connectTimeout.timeAmount, read: nil)
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Sends `events` as one ingest request.
    ///
    /// - Returns: the platform's results keyed by event id (events missing from the answer were
    ///   not acknowledged).
    public func send(_ events: [StoredEvent]) async throws(UplinkError) -> [String: IngestResult] {
        let body = IngestRequest(
            station: endpoint.station, sentAt: Timestamp.format(Date()), events: events.map(WireEvent.init))
        let data: [UInt8]
        do {
            data = try body.encodedJSON()
        } catch {
            throw UplinkError(.invalidResponse, message: "cannot encode the batch: \(error)")
        }
        var request = HTTPClientRequest(url: endpoint.ingestURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        authorize(&request)
        let buffer = ByteBuffer(bytes: data)
        sign(&request, body: buffer)
        request.body = .bytes(buffer)
        let (status, headers, responseBody) = try await perform(request, url: endpoint.ingestURL, timeout: endpoint.timeout)
        try Self.check(status, headers: headers, body: responseBody, method: "POST", url: endpoint.ingestURL)
        let decoded: IngestResponse
        do {
            decoded = try JSONDecoder().decode(IngestResponse.self, from: responseBody)
        } catch {
            throw UplinkError(
                .invalidResponse, message: "POST \(endpoint.ingestURL) answered 200 with a body that is not an IngestResponse: \(error)")
        }
        var results: [String: IngestResult] = [:]
        results.reserveCapacity(decoded.results.count)
        for result in decoded.results { results[result.id] = result }
        return results
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
