import Foundation
import Logging
import NIOCore
import NIOPosix
import SIADC09
import Synchronization

/// A simulated alarm receiving centre: a TCP server that decodes DC-09 frames, answers ACK, NAK
/// or DUH (``DC09ReceiverLogic``), and keeps every message for tests.
///
/// It can be told to stay silent (a receiver that is down but accepts connections), to stop
/// reading its connections altogether (a hung receiver: the kernel accepts and buffers, nobody
/// reads), or to NAK the next N messages, to exercise a transmitter's retries and deadlines.
///
/// ```swift
/// let receiver = try await DC09ReceiverServer.start(policy: .init(accounts: [account: nil]), logger: logger)
/// // ... point a transmitter at 127.0.0.1:\(receiver.port) ...
/// let messages = receiver.received
/// await receiver.shutdown()
/// ```
public final class DC09ReceiverServer: Sendable {
    /// The port it listens on (the real one when started with port 0).
    public let port: Int
    public let host: String
    private let channel: any Channel
    private let core: Core

    private init(host: String, port: Int, channel: any Channel, core: Core) {
        self.host = host
        self.port = port
        self.channel = channel
        self.core = core
    }

    /// Starts listening on `host:port` (port 0: any free port).
    ///
    /// - Parameters:
    ///   - clock: the receiver's clock (tests skew it to provoke NAKs).
    ///   - onMessage: called for every frame, after the answer was decided.
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, policy: DC09ReceiverPolicy, clock: @escaping @Sendable () -> Date = { Date() },
        logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onMessage: (@Sendable (DC09ReceivedMessage) -> Void)? = nil
    ) async throws -> DC09ReceiverServer {
        let core = Core(policy: policy, clock: clock, logger: logger, onMessage: onMessage)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ConnectionHandler(core: core))
                    let reading = core.state.withLock { state in
                        state.connections[ObjectIdentifier(child)] = child
                        return state.reading
                    }
                    if !reading { try child.syncOptions?.setOption(ChannelOptions.autoRead, value: false) }
                    child.closeFuture.whenComplete { _ in
                        _ = core.state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(child)) }
                    }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            throw DC09Error(.connectFailed, "the DC-09 receiver cannot listen on \(host):\(port): \(error); choose another port (0 picks a free one)")
        }
        let actualPort = channel.localAddress?.port ?? port
        logger.info("DC-09 receiver listening", metadata: ["dc09.host": "\(host)", "dc09.port": "\(actualPort)"])
        return DC09ReceiverServer(host: host, port: actualPort, channel: channel, core: core)
    }

    /// Every frame received so far, in order.
    public var received: [DC09ReceivedMessage] { core.state.withLock { $0.received } }

    /// When true, frames are recorded but not answered.
    public func setSilent(_ silent: Bool) {
        core.state.withLock { $0.silent = silent }
    }

    /// When false, no connection is read any more (new ones are still accepted): what the
    /// transmitter sends waits in the kernel's buffers, unanswered. When true again, everything
    /// buffered is read and answered.
    public func setReading(_ reading: Bool) {
        let connections = core.state.withLock { state in
            state.reading = reading
            return Array(state.connections.values)
        }
        for connection in connections {
            if reading {
                connection.pipeline.fireUserInboundEventTriggered(ResumeReading())
            } else {
                connection.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            }
        }
    }

    /// Answers the next `count` messages it would acknowledge with NAK (carrying its time),
    /// whatever their content.
    public func nakNext(_ count: Int) {
        core.state.withLock { $0.forcedNAKs = max(0, count) }
    }

    /// Replaces the accounts and tolerances.
    public func setPolicy(_ policy: DC09ReceiverPolicy) {
        core.state.withLock { $0.policy = policy }
    }

    /// Waits until at least `count` frames were received or `timeout` passed; returns what was
    /// received by then.
    public func waitForMessages(count: Int, timeout: Duration) async -> [DC09ReceivedMessage] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let now = received
            if now.count >= count { return now }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return received
    }

    /// Stops listening.
    public func shutdown() async {
        try? await channel.close()
    }

    final class Core: Sendable {
        struct State {
            var policy: DC09ReceiverPolicy
            var received: [DC09ReceivedMessage] = []
            var silent = false
            var reading = true
            var connections: [ObjectIdentifier: any Channel] = [:]
            var forcedNAKs = 0
        }
        let state: Mutex<State>
        let clock: @Sendable () -> Date
        let logger: Logger
        let onMessage: (@Sendable (DC09ReceivedMessage) -> Void)?

        init(policy: DC09ReceiverPolicy, clock: @escaping @Sendable () -> Date, logger: Logger, onMessage: (@Sendable (DC09ReceivedMessage) -> Void)?) {
            self.state = Mutex(State(policy: policy))
            self.clock = clock
            self.logger = logger
            self.onMessage = onMessage
        }

        /// Decides and records the answer to one frame; returns the bytes to send, if any.
        func handle(_ frame: [UInt8]) -> [UInt8]? {
            let now = clock()
            let (response, record) = state.withLock { state -> (DC09Message?, DC09ReceivedMessage) in
                var (response, record) = DC09ReceiverLogic.answer(to: frame, policy: state.policy, now: now)
                if state.silent {
                    response = nil
                    record.answer = nil
                    record.reason = "told to stay silent"
                } else if state.forcedNAKs > 0, record.answer == .ack {
                    state.forcedNAKs -= 1
                    response = .nak(receiverTime: DC09Timestamp(now))
                    record.answer = .nak
                    record.reason = "told to NAK (\(state.forcedNAKs) more to go)"
                }
                state.received.append(record)
                return (response, record)
            }
            logger.debug("DC-09 frame", metadata: ["dc09.message": "\(record)"])
            onMessage?(record)
            guard let response else { return nil }
            let key = response.account.flatMap { account in state.withLock { $0.policy.accounts[account] } } ?? nil
            do {
                return try DC09Frame.encode(response, key: key)
            } catch {
                logger.error("DC-09 receiver cannot encode its answer", metadata: ["dc09.error": "\(error)"])
                return nil
            }
        }
    }

    /// Tells a connection to examine what it kept unread and to read again.
    struct ResumeReading {}

    final class ConnectionHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let core: Core
        private var splitter = DC09FrameSplitter()

        init(core: Core) {
            self.core = core
        }

        /// Bytes read while the receiver was told to stop reading (a read already under way when
        /// it was told): kept unexamined until it reads again.
        private var unread: [UInt8] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            unread += buffer.readBytes(length: buffer.readableBytes) ?? []
            guard core.state.withLock({ $0.reading }) else {
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
                return
            }
            process(context: context)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is ResumeReading {
                process(context: context)
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            } else {
                context.fireUserInboundEventTriggered(event)
            }
        }

        private func process(context: ChannelHandlerContext) {
            let bytes = unread
            unread = []
            for frame in splitter.append(bytes) {
                if let answer = core.handle(frame) {
                    context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: answer)), promise: nil)
                }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            core.logger.debug("DC-09 receiver connection error", metadata: ["dc09.error": "\(error)"])
            context.close(promise: nil)
        }
    }
}
