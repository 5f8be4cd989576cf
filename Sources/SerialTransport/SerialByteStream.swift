import Foundation
import Logging
import Synchronization

/// Turns a blocking ``SerialPort`` into an `AsyncThrowingStream` of byte chunks.
///
/// The read loop runs on its own `Thread`, never on Swift's cooperative pool (2 threads on a
/// 2-core kiosk board: one blocked `read` there stalls half of all async work). Each read waits
/// at most `readTimeout` (100 ms by default), so when the consuming task is cancelled, or
/// ``stop()`` is called, the thread notices within one timeout, closes the port (unless told not
/// to) and ends. A hang-up ends the stream by throwing the ``SerialError`` (code
/// ``SerialError/Code/hangup``).
///
/// At most `maxBufferedChunks` chunks wait for a slow consumer; newer chunks are then dropped and
/// counted in ``droppedChunks``, so a stuck consumer cannot grow memory without bound.
///
/// ```swift
/// let port = try SerialPortOpener.open(path: path, settings: .default9600_8N1)
/// let stream = SerialByteStream(port: port)
/// for try await chunk in stream.chunks {
///     decoder.feed(chunk)
/// }
/// ```
public final class SerialByteStream: Sendable {
    /// The byte chunks, in arrival order. Iterate it once.
    public let chunks: AsyncThrowingStream<[UInt8], any Error>
    /// The port being read.
    public let port: any SerialPort

    private let control: Control

    /// Starts the reader thread.
    /// - Parameters:
    ///   - port: an open port; by default it is closed when the stream ends.
    ///   - readTimeout: longest single blocking read; bounds how long stopping takes.
    ///   - readSize: bytes requested per read.
    ///   - maxBufferedChunks: chunks kept for a slow consumer before new ones are dropped.
    ///   - closesPortOnFinish: close `port` when the reader thread ends.
    ///   - marksIdleLine: after bytes, the first read that times out with none yields an empty
    ///     chunk: the line went quiet for `readTimeout`, a frame boundary for decoders that have
    ///     no start byte (`CardFrameDecoder.noteLineIdle()`).
    ///   - logger: receives hang-up and drop warnings with `serial.path` metadata.
    public init(
        port: any SerialPort,
        readTimeout: Duration = .milliseconds(100),
        readSize: Int = 4096,
        maxBufferedChunks: Int = 256,
        closesPortOnFinish: Bool = true,
        marksIdleLine: Bool = false,
        logger: Logger = Logger(label: "station.serial")
    ) {
        precondition(readSize > 0, "readSize must be positive")
        precondition(maxBufferedChunks > 0, "maxBufferedChunks must be positive")
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream(
            bufferingPolicy: .bufferingOldest(maxBufferedChunks))
        let control = Control()
        self.chunks = stream
        self.port = port
        self.control = control

        continuation.onTermination = { _ in control.requestStop() }

        let thread = Thread {
            Self.readLoop(
                port: port, continuation: continuation, control: control, readTimeout: readTimeout,
                readSize: readSize, closesPort: closesPortOnFinish, marksIdleLine: marksIdleLine, logger: logger)
        }
        thread.name = "serial-reader \(port.name)"
        thread.start()
    }

    /// Asks the reader thread to end; it does within one read timeout and finishes the stream.
    public func stop() {
        control.requestStop()
    }

    /// True until the reader thread has ended (and closed the port, when it owns it).
    public var isReading: Bool { control.snapshot.running }

    /// Chunks dropped because the consumer fell `maxBufferedChunks` behind.
    public var droppedChunks: Int { control.snapshot.dropped }

    /// Bytes handed to the stream (not counting dropped chunks).
    public var deliveredBytes: Int { control.snapshot.delivered }

    // MARK: - Reader thread

    private static func readLoop(
        port: any SerialPort, continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation, control: Control,
        readTimeout: Duration, readSize: Int, closesPort: Bool, marksIdleLine: Bool, logger: Logger
    ) {
        var buffer = [UInt8](repeating: 0, count: readSize)
        var failure: SerialError?
        var bytesSinceQuiet = false
        while !control.stopRequested {
            let outcome = buffer.withUnsafeMutableBytes { raw in
                Result { () throws(SerialError) -> Int in try port.read(into: raw, timeout: readTimeout) }
            }
            guard case .success(let count) = outcome else {
                if case .failure(let error) = outcome { failure = error }
                break
            }
            guard count > 0 else {
                if marksIdleLine && bytesSinceQuiet {
                    bytesSinceQuiet = false
                    continuation.yield([])
                }
                continue
            }
            bytesSinceQuiet = true
            // Counted before yielding so a consumer that just received the bytes sees them counted.
            control.recordDelivered(count)
            switch continuation.yield(Array(buffer[0..<count])) {
            case .enqueued:
                break
            case .dropped:
                let dropped = control.recordDropped(bytes: count)
                if dropped == 1 || dropped % 100 == 0 {
                    logger.warning(
                        "serial consumer is behind, dropping data",
                        metadata: ["serial.path": "\(port.name)", "serial.dropped_chunks": "\(dropped)"])
                }
            case .terminated:
                control.recordDelivered(-count)
                control.requestStop()
            @unknown default:
                control.requestStop()
            }
        }
        if let failure {
            if failure.code == .hangup {
                logger.warning("serial device hung up", metadata: ["serial.path": "\(port.name)"])
            } else if failure.code != .closed {
                logger.error("serial read failed", metadata: ["serial.path": "\(port.name)", "serial.error": "\(failure)"])
            }
        }
        if closesPort {
            port.close()
        }
        control.markStopped()
        continuation.finish(throwing: failure)
    }

    private final class Control: Sendable {
        struct Snapshot {
            var stopRequested = false
            var running = true
            var dropped = 0
            var delivered = 0
        }

        private let state = Mutex(Snapshot())

        var snapshot: Snapshot { state.withLock { $0 } }
        var stopRequested: Bool { state.withLock { $0.stopRequested } }

        func requestStop() { state.withLock { $0.stopRequested = true } }
        func markStopped() { state.withLock { $0.running = false } }
        func recordDelivered(_ count: Int) { state.withLock { $0.delivered += count } }
        func recordDropped(bytes: Int) -> Int {
            state.withLock {
                $0.delivered -= bytes
                $0.dropped += 1
                return $0.dropped
            }
        }
    }
}
