import NIOCore
import NIOPosix

/// A TCP connection to a DC-09 receiver: write a frame, read the answer up to its `<CR>`.
///
/// ```swift
/// let answer = try await DC09Connection.exchange(frame, host: "10.0.0.5", port: 9000)
/// let response = try DC09Response.parse(answer, key: key)
/// ```
public final class DC09Connection: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<DC09FrameHandler>
    /// `host:port`, for messages.
    public let endpoint: String

    private init(channel: any Channel, handler: NIOLoopBound<DC09FrameHandler>, endpoint: String) {
        self.channel = channel
        self.handler = handler
        self.endpoint = endpoint
    }

    /// Opens a connection, failing with ``DC09Error/Code/connectFailed`` after `timeout`.
    public static func connect(
        host: String, port: Int, timeout: Duration = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(DC09Error) -> DC09Connection {
        let endpoint = "\(host):\(port)"
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeAmount(timeout))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DC09FrameHandler(eventLoop: channel.eventLoop))
                }
            }
        do {
            let channel = try await bootstrap.connect(host: host, port: port).get()
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: DC09FrameHandler.self), eventLoop: channel.eventLoop)
            }.get()
            return DC09Connection(channel: channel, handler: handler, endpoint: endpoint)
        } catch {
            throw DC09Error(
                .connectFailed,
                "cannot connect to the DC-09 receiver at \(endpoint): \(error); check the address, the port and that the receiver is listening")
        }
    }

    /// Writes one frame.
    public func write(_ frame: [UInt8]) async throws(DC09Error) {
        do {
            try await channel.writeAndFlush(channel.allocator.buffer(bytes: frame)).get()
        } catch {
            throw DC09Error(.connectionClosed, "cannot write to the DC-09 receiver at \(endpoint): \(error)")
        }
    }

    /// The next frame the receiver sends (with its `<LF>` and `<CR>`), waiting at most `timeout`.
    /// Cancelling the calling task closes the connection.
    public func readFrame(timeout: Duration) async throws(DC09Error) -> [UInt8] {
        let handler = self.handler
        let endpoint = self.endpoint
        let channel = self.channel
        do {
            // Cancelling the caller closes the connection, which ends the wait at once.
            return try await withTaskCancellationHandler {
                try await channel.eventLoop.flatSubmit {
                    handler.value.nextFrame(timeout: timeAmount(timeout), endpoint: endpoint)
                }.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch let error as DC09Error {
            throw error
        } catch {
            throw DC09Error(.connectionClosed, "reading from the DC-09 receiver at \(endpoint) failed: \(error)")
        }
    }

    /// Closes the connection (safe to call more than once).
    public func close() async {
        try? await channel.close()
    }

    /// Connects, writes `frame`, reads one answer and closes: one DC-09 exchange.
    public static func exchange(
        _ frame: [UInt8], host: String, port: Int, connectTimeout: Duration = .seconds(5), responseTimeout: Duration = .seconds(10),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(DC09Error) -> [UInt8] {
        let connection = try await connect(host: host, port: port, timeout: connectTimeout, group: group)
        do {
            try await connection.write(frame)
            let answer = try await connection.readFrame(timeout: responseTimeout)
            await connection.close()
            return answer
        } catch {
            await connection.close()
            throw error
        }
    }
}

func timeAmount(_ duration: Duration) -> TimeAmount {
    let (seconds, attoseconds) = duration.components
    return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
}

/// Collects the frames a receiver sends and hands them out one at a time. Lives on its channel's
/// event loop.
final class DC09FrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private var splitter = DC09FrameSplitter()
    private var frames: [[UInt8]] = []
    private var waiter: (promise: EventLoopPromise<[UInt8]>, timeout: Scheduled<Void>, token: UInt64)?
    private var nextToken: UInt64 = 0
    private var closedReason: String?
    private let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        frames += splitter.append(bytes)
        deliver()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if closedReason == nil { closedReason = "the receiver closed the connection before answering" }
        deliver()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closedReason = "connection error: \(error)"
        deliver()
        context.close(promise: nil)
    }

    func nextFrame(timeout: TimeAmount, endpoint: String) -> EventLoopFuture<[UInt8]> {
        if !frames.isEmpty { return eventLoop.makeSucceededFuture(frames.removeFirst()) }
        if let closedReason {
            return eventLoop.makeFailedFuture(DC09Error(.connectionClosed, "\(endpoint): \(closedReason)"))
        }
        if let previous = waiter {
            previous.timeout.cancel()
            previous.promise.fail(DC09Error(.connectionClosed, "\(endpoint): a newer read replaced this one"))
        }
        nextToken += 1
        let token = nextToken
        let promise = eventLoop.makePromise(of: [UInt8].self)
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let scheduled = eventLoop.scheduleTask(in: timeout) {
            bound.value.timedOut(token: token, endpoint: endpoint, timeout: timeout)
        }
        waiter = (promise, scheduled, token)
        return promise.futureResult
    }

    private func timedOut(token: UInt64, endpoint: String, timeout: TimeAmount) {
        guard let waiter, waiter.token == token else { return }
        self.waiter = nil
        waiter.promise.fail(
            DC09Error(.timedOut, "the DC-09 receiver at \(endpoint) sent no answer within \(Double(timeout.nanoseconds) / 1e9) s"))
    }

    private func deliver() {
        guard let current = waiter else { return }
        if !frames.isEmpty {
            waiter = nil
            current.timeout.cancel()
            current.promise.succeed(frames.removeFirst())
        } else if let closedReason {
            waiter = nil
            current.timeout.cancel()
            current.promise.fail(DC09Error(.connectionClosed, closedReason))
        }
    }
}
