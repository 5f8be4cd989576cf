import EventModel
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PlatformAPI

/// Builds the platform emulator as a Hummingbird application (a `Service`: run it with
/// `runService()` or put it in a `ServiceGroup`).
///
/// Routes, as `docs/platform-api.yaml` describes them:
/// - `POST /v1/stations/{stationId}/events`: ingest a batch (bearer token when configured);
/// - `GET /v1/stations/{stationId}/commands`: the station's long-poll for commands (token);
/// - `POST /v1/stations/{stationId}/heartbeat`: the station's heartbeat (token);
/// - `GET /v1/received`, `GET /v1/stats`, `GET /v1/health`: read what arrived;
/// - `GET /v1/operator/alarms`, `POST /v1/operator/alarms/{eventId}/{acknowledge|dispatch|reset}`,
///   `GET /v1/stations`: the operator's console (emulator only);
/// - `GET`/`PUT`/`DELETE /v1/control/faults`: fault injection (emulator only).
///
/// ```swift
/// let store = try EmulatorStore(path: configuration.databasePath)
/// let app = buildEmulatorApplication(configuration: configuration, store: store, logger: logger) { port in
///     print("listening on http://\(configuration.host):\(port)")
/// }
/// try await app.runService()
/// ```
/// - Parameters:
///   - faults: the fault setting the control routes change; pass your own to steer it from code.
///   - onListening: called once with the bound port (the real one when `configuration.port` is 0).
public func buildEmulatorApplication(
    configuration: EmulatorConfiguration,
    store: EmulatorStore,
    logger: Logger,
    faults: FaultInjector = FaultInjector(),
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    var routes = EmulatorRoutes(configuration: configuration, store: store, faults: faults, logger: logger)
    if !configuration.signingKeys.isEmpty {
        routes.signatures = SignatureGate(keys: configuration.signingKeys)
    }
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ErrorBodyMiddleware(store: store, logger: logger))
    routes.register(on: router)
    return Application(
        router: router,
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "station-platform-emulator"
        ),
        onServerRunning: { channel in
            await onListening(channel.localAddress?.port ?? 0)
        },
        logger: logger
    )
}

/// The route handlers, with what they share.
struct EmulatorRoutes: Sendable {
    let configuration: EmulatorConfiguration
    let store: EmulatorStore
    let faults: FaultInjector
    let logger: Logger
    /// Verifies station request signatures when the configuration has signing keys.
    var signatures: SignatureGate?

    static let faultsPath = "/v1/control/faults"

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/stations/:stationId/events") { request, context in
            try await ingest(request, context: context)
        }
        router.get(RouterPath(PlatformAPI.receivedPath)) { request, _ in
            try await received(request)
        }
        router.get(RouterPath(PlatformAPI.statsPath)) { _, _ in
            try jsonResponse(try await store.stats())
        }
        router.get(RouterPath(PlatformAPI.healthPath)) { _, _ in
            try jsonResponse(["status": "ok"])
        }
        router.get(RouterPath(Self.faultsPath)) { _, _ in
            try jsonResponse(await faults.state)
        }
        router.put(RouterPath(Self.faultsPath)) { request, _ in
            try await putFaults(request)
        }
        router.delete(RouterPath(Self.faultsPath)) { _, _ in
            logger.info("fault injection cleared")
            return try jsonResponse(await faults.clear())
        }
        registerAlarmLoop(on: router)
    }

    // MARK: Ingest

    func ingest(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try authorize(request)
        let request = try await checkSignature(request, context: context, bodyLimit: configuration.maxBodyBytes)
        let stationID = stationID(in: context)
        guard let fault = await faults.takeForRequest() else {
            return try await storeBatch(request, stationID: stationID, acknowledgeOnly: nil)
        }
        logger.notice(
            "injecting fault into ingest request",
            metadata: [
                "station": "\(stationID)", "fault.status": "\(fault.status.map(String.init) ?? "none")",
                "fault.delayMs": "\(fault.delayMs ?? 0)",
                "fault.acknowledgeOnly": "\(fault.acknowledgeOnly.map(String.init) ?? "all")",
                "fault.dropConnection": "\(fault.dropConnection?.rawValue ?? "no")",
            ]
        )
        let outcome: Result<Response, any Error>
        if let drop = fault.dropConnection {
            do {
                if drop == .afterStore {
                    _ = try await storeBatch(request, stationID: stationID, acknowledgeOnly: nil)
                }
                outcome = .success(Self.droppedAnswer())
            } catch {
                outcome = .failure(error)
            }
        } else if let status = fault.status, let shaped = Self.shapedAnswer(status: status, body: fault.body, path: request.uri.path) {
            outcome = .success(shaped)
        } else if let answer = fault.answer {
            do {
                outcome = .success(try await wrongAnswer(answer, request: request, stationID: stationID))
            } catch {
                outcome = .failure(error)
            }
        } else if let status = fault.status {
            outcome = .failure(
                EmulatorRequestError(
                    status: status, error: "injected_fault",
                    detail: "the emulator was told to answer \(status) (PUT \(Self.faultsPath)); nothing was stored, "
                        + "send the batch again" + (fault.retryAfterSeconds.map { " after \($0) s" } ?? ""),
                    retryAfterSeconds: fault.retryAfterSeconds
                )
            )
        } else {
            do {
                outcome = .success(
                    try await storeBatch(request, stationID: stationID, acknowledgeOnly: fault.acknowledgeOnly)
                )
            } catch {
                outcome = .failure(error)
            }
        }
        if let delayMs = fault.delayMs, delayMs > 0 {
            try await Task.sleep(for: .milliseconds(delayMs))
        }
        return try outcome.get()
    }

    /// An answer that promises a body and breaks off before it: the server closes the
    /// connection, and the client sees it end in the middle of the response.
    static func droppedAnswer() -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(contentLength: 64) { writer in
                try await writer.write(ByteBuffer(string: #"{"results":["#))
                throw DroppedConnection()
            })
    }

    /// An injected status that is not the platform's own refusal: a redirect, or an answer
    /// with a proxy's HTML page or no body. `nil` for the platform's `ErrorBody` (the default).
    static func shapedAnswer(status: Int, body: FaultSettings.FaultBody?, path: String) -> Response? {
        var headers: HTTPFields = [:]
        if (300..<400).contains(status) { headers[.location] = "/moved" + path }
        let text: String
        switch body {
        case .html:
            headers[.contentType] = "text/html"
            text = "<html><head><title>\(status)</title></head><body><h1>\(status)</h1><p>nginx</p></body></html>"
        case .empty:
            text = ""
        case .errorBody, nil:
            guard (300..<400).contains(status) else { return nil }
            text = ""
        }
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A 200 that does not say what it should (``FaultSettings/FaultAnswer``).
    private func wrongAnswer(_ answer: FaultSettings.FaultAnswer, request: Request, stationID: String) async throws -> Response {
        switch answer {
        case .wrongIDs:
            let verdicts = (0..<3).map { _ in IngestResult(id: UUID().uuidString.lowercased(), status: .accepted) }
            return try jsonResponse(IngestResponse(results: verdicts))
        case .stalled:
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(contentLength: 100_000) { writer in
                    try await writer.write(ByteBuffer(string: #"{"results":["#))
                    // A platform or proxy that stalls after its headers: the client must not wait
                    // for the rest. Ends early when the client goes (the write fails then).
                    try await Task.sleep(for: .seconds(60))
                    throw DroppedConnection()
                })
        case .truncated:
            _ = try await storeBatch(request, stationID: stationID, acknowledgeOnly: nil)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"results":[{"id":"#)))
        case .upperCaseIDs, .answeredTwice:
            let results = try await storeBatchResults(request, stationID: stationID, acknowledgeOnly: nil)
            let verdicts: [IngestResult] =
                answer == .upperCaseIDs
                ? results.map { IngestResult(id: $0.id.uppercased(), status: $0.status, reason: $0.reason) }
                : results + results.map { IngestResult(id: $0.id, status: .rejected, reason: "answered twice (fault injection)") }
            return try jsonResponse(IngestResponse(results: verdicts))
        }
    }

    struct DroppedConnection: Error, CustomStringConvertible {
        var description: String { "fault injection: connection dropped in the middle of the answer" }
    }

    private func storeBatch(_ request: Request, stationID: String, acknowledgeOnly: Int?) async throws -> Response {
        let results = try await storeBatchResults(request, stationID: stationID, acknowledgeOnly: acknowledgeOnly)
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: IngestResponse(results: results).encodedJSON())))
    }

    private func storeBatchResults(_ request: Request, stationID: String, acknowledgeOnly: Int?) async throws -> [IngestResult] {
        try checkContentType(request)
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw EmulatorRequestError.tooLarge(
                "request body: larger than \(configuration.maxBodyBytes) bytes; send fewer events per request"
            )
        }
        let ingest = try RequestValidation.ingestRequest(from: Data(body.readableBytesView), pathStationID: stationID)
        let results = try await store.ingest(stationID: stationID, validated: ingest, acknowledgeOnly: acknowledgeOnly)
        var accepted = 0
        var duplicates = 0
        var rejected = 0
        for result in results {
            switch result.status {
            case .accepted: accepted += 1
            case .duplicate: duplicates += 1
            case .rejected: rejected += 1
            }
        }
        logger.info(
            "stored ingest batch",
            metadata: [
                "station": "\(stationID)", "count": "\(ingest.events.count)", "accepted": "\(accepted)",
                "duplicates": "\(duplicates)", "rejected": "\(rejected)", "acknowledged": "\(results.count)",
                "cards.raw": "\(ingest.events.count { $0.card != nil && ($0.card?.uidKind ?? "raw") == "raw" })",
                "cards.pseudonym": "\(ingest.events.count { $0.card?.uidKind == CardUIDKind.pseudonymHMACSHA256.rawValue })",
            ]
        )
        for (event, result) in zip(ingest.events, results) where result.status == .accepted && event.kind == "alarm" {
            logger.notice(
                "alarm received",
                metadata: ["station": "\(stationID)", "alarm": "\(event.id.lowercased())", "device": "\(event.device)"]
            )
        }
        return results
    }

    /// The `stationId` path parameter, percent-decoded.
    func stationID(in context: BasicRequestContext) -> String {
        let rawStation = context.parameters.get("stationId") ?? ""
        return rawStation.removingPercentEncoding ?? rawStation
    }

    /// Checks the bearer token when one is configured (the station routes).
    func authorize(_ request: Request) throws(EmulatorRequestError) {
        guard let token = configuration.requiredToken else { return }
        guard let header = request.headers[.authorization] else {
            throw .unauthorized("Authorization header missing; send `Authorization: Bearer <station token>`")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw .unauthorized("Authorization header is not a bearer token; send `Authorization: Bearer <station token>`")
        }
        guard constantTimeEqual(Array(parts[1].utf8), Array(token.utf8)) else {
            throw .unauthorized("bearer token is not the one configured for this platform; check the station's token")
        }
    }

    func checkContentType(_ request: Request) throws(EmulatorRequestError) {
        let declared = request.headers[.contentType] ?? ""
        let mediaType = declared.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard mediaType == "application/json" else {
            let shown = declared.isEmpty ? "no Content-Type" : "Content-Type \"\(declared)\""
            throw .unsupportedMediaType("request has \(shown); send the body as `Content-Type: application/json`")
        }
    }

    // MARK: Read API

    private func received(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let station = query["station"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let after = try integerParameter("after", in: query, default: 0)
        let limit = try integerParameter("limit", in: query, default: Int64(EmulatorStore.defaultPageLimit))
        guard let pageLimit = Int(exactly: limit) else {
            throw EmulatorRequestError.badRequest("limit: \(limit) is outside 1...\(EmulatorStore.maxPageLimit)")
        }
        return try jsonResponse(try await store.received(station: station, after: after, limit: pageLimit))
    }

    func integerParameter(
        _ name: String, in query: FlatDictionary<Substring, Substring>, default value: Int64
    ) throws(EmulatorRequestError) -> Int64 {
        guard let text = query[Substring(name)] else { return value }
        guard let number = Int64(text) else {
            throw .badRequest("\(name): \"\(text)\" is not an integer")
        }
        return number
    }

    // MARK: Control

    private func putFaults(_ request: Request) async throws -> Response {
        try checkContentType(request)
        let body = try await request.body.collect(upTo: 64 * 1024)
        let settings = try RequestValidation.decodeJSON(
            FaultSettings.self, from: Data(body.readableBytesView), integerFields: FaultSettings.integerFields
        )
        let state = try await faults.set(settings)
        logger.notice(
            "fault injection set",
            metadata: [
                "fault.status": "\(settings.status.map(String.init) ?? "none")",
                "fault.count": "\(settings.count.map(String.init) ?? "until cleared")",
                "fault.delayMs": "\(settings.delayMs ?? 0)",
                "fault.acknowledgeOnly": "\(settings.acknowledgeOnly.map(String.init) ?? "all")",
            ]
        )
        return try jsonResponse(state)
    }
}

/// Compares two byte strings in time that depends only on their lengths.
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices {
        difference |= lhs[index] ^ rhs[index]
    }
    return difference == 0
}

/// A JSON response with `Content-Type: application/json`.
func jsonResponse(
    _ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
}

/// Turns every failure into an ``ErrorBody`` JSON answer and counts 4xx answers in the stats.
struct ErrorBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    let store: EmulatorStore
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as EmulatorRequestError {
            response = try Self.response(for: error)
        } catch let error as any HTTPResponseError {
            let status = error.status
            let detail: String
            switch status.code {
            case 404: detail = "\(request.method) \(request.uri.path) is not a route of the platform API; see docs/platform-api.yaml"
            case 413: detail = "request body is too large"
            default: detail = "\(request.method) \(request.uri.path): \(status.reasonPhrase)"
            }
            response = try jsonResponse(
                ErrorBody(error: Self.code(for: status.code), detail: detail), status: status
            )
        } catch {
            logger.error(
                "request failed inside the emulator",
                metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"]
            )
            response = try jsonResponse(
                ErrorBody(error: "internal", detail: "the emulator failed to handle \(request.uri.path): \(error)"),
                status: .internalServerError
            )
        }
        if (400..<500).contains(response.status.code) {
            do {
                try await store.recordBadRequest()
            } catch {
                logger.error("could not count a 4xx answer", metadata: ["error": "\(error)"])
            }
        }
        return response
    }

    static func response(for error: EmulatorRequestError) throws -> Response {
        var headers: HTTPFields = [:]
        if let seconds = error.retryAfterSeconds {
            headers[.retryAfter] = String(seconds)
        }
        if error.status == 401 {
            headers[.wwwAuthenticate] = "Bearer realm=\"station-platform\""
        }
        return try jsonResponse(error.body, status: HTTPResponse.Status(code: error.status), headers: headers)
    }

    static func code(for status: Int) -> String {
        switch status {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "too_large"
        case 415: "unsupported_media_type"
        case 500..<600: "internal"
        default: "http_\(status)"
        }
    }
}
