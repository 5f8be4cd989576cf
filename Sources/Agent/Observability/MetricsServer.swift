import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import StationConfig

/// A minimal HTTP/1.1 server for Prometheus: `GET /metrics` answers the text exposition format
/// (after `refresh` has brought the sampled gauges up to date), `GET /` a pointer to it, anything
/// else 404 or 405. One request per connection (`Connection: close`).
///
/// It runs on NIO's shared event loops (the ones the uplink's HTTP client uses): no thread of
/// its own. A port that cannot be bound is logged as an error and the agent runs on without
/// metrics: delivering events matters more than being watched.
public struct MetricsServer: Service {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    let address: StationConfiguration.ListenAddress
    let refresh: @Sendable () async -> Void
    let render: @Sendable () -> [UInt8]
    let logger: Logger
    let onListening: @Sendable (Int) -> Void

    /// - Parameters:
    ///   - refresh: brings sampled gauges up to date before each scrape.
    ///   - render: the exposition text (e.g. `PrometheusCollectorRegistry.emitToBuffer`).
    ///   - onListening: called with the bound port (useful with port 0).
    public init(
        address: StationConfiguration.ListenAddress, refresh: @escaping @Sendable () async -> Void = {},
        render: @escaping @Sendable () -> [UInt8], logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.address = address
        self.refresh = refresh
        self.render = render
        self.logger = logger
        self.onListening = onListening
    }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    public func run() async throws {
        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            logger.error(
                "cannot serve metrics; running on without them",
                metadata: ["metrics.listen": "\(address)", "error": "\(error)",
                           "hint": "another process holds the port? change [metrics] listen, or set it to \"\" to turn the endpoint off"])
            try? await gracefulShutdown()
            return
        }
        let port = server.channel.localAddress?.port ?? address.port
        logger.info(
            "metrics endpoint listening",
            metadata: ["metrics.url": "http://\(StationConfiguration.ListenAddress(host: address.host, port: port))/metrics"])
        onListening(port)
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    try await server.executeThenClose { connections in
                        for try await connection in connections {
                            group.addTask { await serve(connection) }
                        }
                    }
                }
            }
        } catch {
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            throw error
        }
    }

    private func serve(_ connection: Connection) async {
        do {
            try await connection.executeThenClose { requests, responses in
                var head: HTTPRequestHead?
                for try await part in requests {
                    switch part {
                    case .head(let received):
                        head = received
                    case .body:
                        continue
                    case .end:
                        guard let request = head else { return }
                        let (status, type, body) = await answer(request)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: type)
                        headers.add(name: "Content-Length", value: String(body.count))
                        headers.add(name: "Connection", value: "close")
                        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
                        try await responses.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                        if request.method != .HEAD {
                            try await responses.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                        }
                        try await responses.write(.end(nil))
                        return
                    }
                }
            }
        } catch {
            logger.debug("metrics connection failed", metadata: ["error": "\(error)"])
        }
    }

    private func answer(_ request: HTTPRequestHead) async -> (HTTPResponseStatus, String, [UInt8]) {
        guard request.method == .GET || request.method == .HEAD else {
            return (.methodNotAllowed, "text/plain; charset=utf-8", Array("only GET is served here\n".utf8))
        }
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        switch path {
        case "/metrics":
            await refresh()
            return (.ok, Self.contentType, render())
        case "/":
            return (.ok, "text/plain; charset=utf-8", Array("station-agent: metrics at /metrics\n".utf8))
        default:
            return (.notFound, "text/plain; charset=utf-8", Array("not found; metrics are at /metrics\n".utf8))
        }
    }
}
