import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PlatformAPI

extension PlatformClient {
    /// Long-polls the platform for commands newer than `after`, waiting up to `wait` for one.
    public func pollCommands(after: Int64, wait: Duration) async throws(UplinkError) -> CommandPage {
        let seconds = max(1, min(PlatformAPI.maxCommandWaitSeconds, Int(wait.components.seconds)))
        let url = endpoint.baseURL + PlatformAPI.commandsPath(stationID: endpoint.station.id) + "?after=\(after)&waitSeconds=\(seconds)"
        var request = HTTPClientRequest(url: url)
        authorize(&request)
        sign(&request, body: nil)
        let (status, headers, body, _) = try await perform(request, url: url, timeout: .seconds(seconds) + endpoint.timeout)
        try Self.check(status, headers: headers, body: body, method: "GET", url: url)
        do {
            return try JSONDecoder().decode(CommandPage.self, from: body)
        } catch {
            throw UplinkError(.invalidResponse, message: "GET \(url) answered 200 with a body that is not a CommandPage: \(error)")
        }
    }

    /// Sends the agent's heartbeat.
    public func sendHeartbeat(_ heartbeat: Heartbeat) async throws(UplinkError) {
        let url = endpoint.baseURL + PlatformAPI.heartbeatPath(stationID: endpoint.station.id)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        authorize(&request)
        let buffer: ByteBuffer
        do {
            buffer = ByteBuffer(data: try JSONEncoder().encode(heartbeat))
        } catch {
            throw UplinkError(.invalidResponse, message: "cannot encode the heartbeat: \(error)")
        }
        sign(&request, body: buffer)
        request.body = .bytes(buffer)
        let (status, headers, body, _) = try await perform(request, url: url, timeout: endpoint.timeout)
        guard status == .noContent || status == .ok else {
            try Self.check(status, headers: headers, body: body, method: "POST", url: url)
            return
        }
    }

    func authorize(_ request: inout HTTPClientRequest) {
        request.headers.add(name: "User-Agent", value: "station-agent")
        if let token = endpoint.token {
            request.headers.add(name: PlatformAPI.authorizationHeader, value: "Bearer \(token)")
        }
    }

    /// Sends `request` and collects the answer, all of it (connect, status, headers and a body
    /// of at most 16 MiB) within `timeout`: AsyncHTTPClient's own deadline ends when the headers
    /// arrive, so a platform that sends its headers and then stalls the body would hold the
    /// lane for good. Past the deadline the exchange is abandoned (its task cancelled, which
    /// closes the connection). The last value says whether the answer's `Date` corrected the
    /// platform clock (its offset changed).
    func perform(_ request: HTTPClientRequest, url: String, timeout: Duration) async throws(UplinkError) -> (
        HTTPResponseStatus, HTTPHeaders, ByteBuffer, Bool
    ) {
        let http = self.http
        let clock = self.clock
        let exchange: Exchange?
        do {
            exchange = try await withThrowingTaskGroup(of: Exchange?.self) { group in
                group.addTask {
                    let sentAt = clock.localTime()
                    let response = try await http.execute(request, timeout: timeout.timeAmount)
                    let body = try await response.body.collect(upTo: 16 << 20)
                    return Exchange(
                        status: response.status, headers: response.headers, body: body, sentAt: sentAt, answeredAt: clock.localTime())
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
        } catch {
            throw UplinkError(.transport, message: "\(request.method) \(url) failed: \(error)")
        }
        guard let exchange else {
            throw UplinkError(
                .deadline,
                message: "\(request.method) \(url): no complete answer (status, headers and body) within \(timeout); abandoned, "
                    + "the events stay queued")
        }
        let correction = clock.observe(exchange.headers, sentAt: exchange.sentAt, answeredAt: exchange.answeredAt)
        if case .corrected(let from, let to) = correction {
            logger.notice(
                "the platform's clock differs from this kiosk's; requests are signed with the platform's time",
                metadata: ["clock.offset_s": "\(Int(to))", "clock.previous_offset_s": "\(Int(from))"])
        }
        return (exchange.status, exchange.headers, exchange.body, correction != nil)
    }

    /// One complete answer, with this kiosk's times of the request and the answer.
    struct Exchange: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: ByteBuffer
        var sentAt: Date
        var answeredAt: Date
    }

    /// Throws the platform's error for any status but 200.
    static func check(_ status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer, method: String, url: String) throws(UplinkError) {
        guard status != .ok else { return }
        let retryAfter = headers.first(name: "Retry-After").flatMap { RetryPolicy.parseRetryAfter($0) }
        let errorBody = try? JSONDecoder().decode(ErrorBody.self, from: body)
        let detail = errorBody.map { "\($0.error): \($0.detail)" } ?? String(buffer: body).prefix(300).description
        let code = Int(status.code)
        // Only the platform's own refusal, in its own shape, refuses events; the same status
        // from a proxy, a load balancer or a captive portal is a transport failure.
        let refused = errorBody != nil && [400, 413, 422].contains(code)
        throw UplinkError(
            refused ? .refused(code) : .status(code), retryAfter: retryAfter,
            message: "\(method) \(url) answered \(status.code) \(status.reasonPhrase): \(detail)")
    }
}
