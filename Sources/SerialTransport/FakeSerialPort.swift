import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A scripted ``SerialPort`` for unit tests: hands out queued chunks, then optionally hangs up,
/// and records everything written.
///
/// ```swift
/// let port = FakeSerialPort(chunks: [[0x02, 0x31], [0x32, 0x03]], hangUpWhenDrained: true)
/// // read -> [0x02, 0x31], read -> [0x32, 0x03], read -> throws .hangup
/// ```
///
/// A chunk larger than the caller's buffer is handed out over several reads. With an empty queue
/// and no hang-up, a read waits up to its timeout (polling every 2 ms for ``enqueue(_:)``).
public final class FakeSerialPort: SerialPort {
    private struct State {
        var chunks: [[UInt8]]
        var hangUpWhenDrained: Bool
        var writeFailure: SerialError?
        var written: [[UInt8]] = []
        var closeCount = 0
        var readCount = 0
        var closed = false
    }

    public let name: String
    private let state: Mutex<State>

    /// Creates a fake port.
    /// - Parameters:
    ///   - name: the path reported in ``name`` and errors.
    ///   - chunks: byte chunks returned by successive reads.
    ///   - hangUpWhenDrained: throw ``SerialError/Code/hangup`` once every chunk was read.
    public init(name: String = "/dev/fake-serial", chunks: [[UInt8]] = [], hangUpWhenDrained: Bool = false) {
        self.name = name
        self.state = Mutex(State(chunks: chunks.filter { !$0.isEmpty }, hangUpWhenDrained: hangUpWhenDrained))
    }

    /// Appends a chunk for later reads (as if the device sent it now).
    public func enqueue(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        state.withLock { $0.chunks.append(bytes) }
    }

    /// Makes reads throw ``SerialError/Code/hangup`` once the queued chunks are drained.
    public func hangUp() {
        state.withLock { $0.hangUpWhenDrained = true }
    }

    /// Makes every later write throw `error` (nil restores normal writes).
    public func failWrites(with error: SerialError?) {
        state.withLock { $0.writeFailure = error }
    }

    /// Each successful ``write(_:)`` call's bytes, in order.
    public var writes: [[UInt8]] { state.withLock { $0.written } }

    /// All bytes written, concatenated.
    public var writtenBytes: [UInt8] { state.withLock { $0.written.flatMap { $0 } } }

    /// How many times ``close()`` was called.
    public var closeCount: Int { state.withLock { $0.closeCount } }

    /// True after ``close()``.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// How many reads were attempted.
    public var readCount: Int { state.withLock { $0.readCount } }

    /// Chunks not read yet.
    public var pendingChunkCount: Int { state.withLock { $0.chunks.count } }

    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(SerialError) -> Int {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        state.withLock { $0.readCount += 1 }
        guard buffer.count > 0 else { return 0 }
        while true {
            let outcome = state.withLock { state -> Result<Int?, SerialError> in
                if state.closed { return .failure(SerialError.closed(path: name, operation: "read")) }
                if let first = state.chunks.first {
                    let count = min(first.count, buffer.count)
                    first.withUnsafeBytes { source in
                        buffer.baseAddress?.copyMemory(from: source.baseAddress!, byteCount: count)
                    }
                    if count == first.count {
                        state.chunks.removeFirst()
                    } else {
                        state.chunks[0].removeFirst(count)
                    }
                    return .success(count)
                }
                if state.hangUpWhenDrained {
                    return .failure(
                        SerialError.hangup(path: name, operation: "read", detail: "the fake port was hung up"))
                }
                return .success(nil)
            }
            switch outcome {
            case .failure(let error):
                throw error
            case .success(let count?):
                return count
            case .success(nil):
                if clock.now >= deadline { return 0 }
                usleep(2000)
            }
        }
    }

    public func write(_ bytes: [UInt8]) throws(SerialError) {
        let failure = state.withLock { state -> SerialError? in
            if state.closed { return SerialError.closed(path: name, operation: "write") }
            if let failure = state.writeFailure { return failure }
            state.written.append(bytes)
            return nil
        }
        if let failure { throw failure }
    }

    public func close() {
        state.withLock {
            $0.closed = true
            $0.closeCount += 1
        }
    }
}
