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

    /// The endpoint for events recorded under `stationID` (nil: this station): after a change of
    /// `[station] id`, older events still go out as the station that recorded them.
    func recordedUnder(_ stationID: String?) -> PlatformEndpoint {
        guard let stationID, stationID != station.id else { return self }
        var other = self
        other.station = WireStation(id: stationID, location: nil)
        return other
    }
}

/// Why a delivery attempt failed, classified once for every caller (docs/platform-api.md,
/// "How the kiosk reads your answers"): only ``Kind/refused(_:)`` may cost an event its place
/// in the queue; every other kind keeps the events and backs off.
public struct UplinkError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No answer: connection refused or reset, DNS, TLS.
        case transport
        /// No complete answer (status, headers and body) within the request's deadline: a
        /// platform or proxy that stalls. The request is abandoned.
        case deadline
        /// The platform (or something in front of it) answered with a status that does not refuse
        /// the events: 3xx, 401, 403, 404, 405, 5xx, or a 400/413/422 without the platform's
        /// `ErrorBody` (a proxy's or captive portal's page).
        case status(Int)
        /// 400, 413 or 422 with a body in the platform's `ErrorBody` shape: the platform read the
        /// request and refuses it as such.
        case refused(Int)
        /// A 200 whose body is not an `IngestResponse`.
        case invalidResponse
        /// A 200 whose verdicts name events that are not in the batch.
        case mismatchedAnswer
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

    /// The platform refused the request as such (400, 413 or 422 in its own `ErrorBody`):
    /// sending the same batch again cannot succeed, so the forwarder splits it until the refused
    /// event is alone. Nothing else refuses events: authentication failures, wrong URLs, proxies'
    /// pages and redirects are configuration or network problems that must not cost an event.
    public var isRequestRejected: Bool {
        if case .refused = kind { return true }
        return false
    }

    /// The request was too large for something on the way (413), whoever said so: a smaller
    /// batch may pass, and splitting loses nothing.
    public var isTooLarge: Bool {
        switch kind {
        case .status(413), .refused(413): return true
        default: return false
        }
    }

    /// What the platform is doing, in a few words after "platform", for `status` and one log
    /// line per change: "unreachable", "refusing: 404 Not Found", ...
    public var summary: String {
        switch kind {
        case .transport: return "unreachable"
        case .deadline: return "not answering within the deadline"
        case .status(let code), .refused(let code):
            return "refusing: \(code) \(HTTPResponseStatus(statusCode: code).reasonPhrase)"
        case .invalidResponse: return "answering with a body that is not an IngestResponse"
        case .mismatchedAnswer: return "answering with verdicts for events not in the batch"
        }
    }

    public var description: String { message }
}

/// Sends batches of stored events to the platform's ingest API and returns its per-event
/// verdicts. One instance per station; it does not retry (the forwarder decides that).
public final class PlatformClient: Sendable {
    let http: HTTPClient
    public let endpoint: PlatformEndpoint
    let logger: Logger
    /// Signs every request when the station has a signing key (`RequestSigner.swift`).
    let signer: RequestSigner?
    /// The platform's time, learnt from its answers (`PlatformClock.swift`).
    public let clock: PlatformClock

    /// - Parameter clock: shared with `signer`'s `now` so that requests are signed with the
    ///   platform's time; a client of its own when nil.
    public init(http: HTTPClient, endpoint: PlatformEndpoint, logger: Logger, signer: RequestSigner? = nil, clock: PlatformClock? = nil) {
        self.http = http
        self.endpoint = endpoint
        self.logger = logger
        self.signer = signer
        self.clock = clock ?? PlatformClock(bootID: nil)
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
        // A redirect is not followed: AsyncHTTPClient would turn the POST into a GET and drop
        // the batch. It is a transport failure (a misconfigured URL or proxy), shown in `status`.
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Sends `events` as one ingest request.
    ///
    /// - Returns: the platform's results keyed by event id (events missing from the answer were
    ///   not acknowledged).
    public func send(_ events: [StoredEvent]) async throws(UplinkError) -> [String: IngestResult] {
        var status = HTTPResponseStatus.ok
        var headers = HTTPHeaders()
        var responseBody = ByteBuffer()
        // A second attempt only when the first was refused (401) with a `Date` that corrected
        // the clock: a kiosk whose clock is off signs a stale timestamp, and the corrected
        // signature goes at once instead of after a backoff.
        // The batch is one station's (`EventStore.nextBatch`): the one that recorded it.
        let endpoint = self.endpoint.recordedUnder(events.first?.stationID)
        for attempt in 1...2 {
            let offset = clock.offset
            let body = IngestRequest(
                station: endpoint.station, sentAt: Timestamp.format(clock.now()),
                events: events.map { WireEvent($0).correctingClock(by: offset, bootID: clock.bootID) })
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
            let corrected: Bool
            (status, headers, responseBody, corrected) = try await perform(request, url: endpoint.ingestURL, timeout: endpoint.timeout)
            guard attempt == 1, status == .unauthorized, corrected, signer != nil else { break }
            logger.notice("the platform refused a signature made with this kiosk's wrong clock; sending again at once with the platform's time")
        }
        try Self.check(status, headers: headers, body: responseBody, method: "POST", url: endpoint.ingestURL)
        let decoded: IngestResponse
        do {
            decoded = try JSONDecoder().decode(IngestResponse.self, from: responseBody)
        } catch {
            throw UplinkError(
                .invalidResponse, message: "POST \(endpoint.ingestURL) answered 200 with a body that is not an IngestResponse: \(error)")
        }
        let matched = IngestAnswer(decoded.results, batchIDs: events.map(\.id))
        if let stranger = matched.unknownIDs.first {
            throw UplinkError(
                .mismatchedAnswer,
                message: "POST \(endpoint.ingestURL) answered 200 with verdicts for \(matched.unknownIDs.count) event(s) not in the batch "
                    + "(for example \"\(stranger)\"); the whole answer is ignored and the batch is sent again")
        }
        if let repeated = matched.repeatedIDs.first {
            logger.warning(
                "the platform answered one event more than once; its first verdict counts",
                metadata: ["event.id": "\(repeated)", "uplink.repeated_ids": "\(matched.repeatedIDs.count)"])
        }
        return matched.results
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
