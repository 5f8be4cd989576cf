import Foundation
import SerialTransport
import Testing

#if canImport(Glibc)
import Glibc
#endif

struct POSIXFailure: Error, CustomStringConvertible {
    let call: String
    let code: Int32
    var description: String { "\(call) failed with errno \(code)" }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Reads from `port` until `count` bytes arrived or `timeout` passed; returns what arrived.
func readBytes(from port: any SerialPort, count: Int, timeout: Duration = .seconds(2)) throws -> [UInt8] {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    var received: [UInt8] = []
    while received.count < count, clock.now < deadline {
        received += try port.read(maxCount: count - received.count, timeout: .milliseconds(100))
    }
    return received
}

/// Collects chunks from `stream` until `count` bytes arrived; throws ``TimedOut`` after `timeout`.
func collect(
    _ stream: AsyncThrowingStream<[UInt8], any Error>, count: Int, timeout: Duration = .seconds(3)
) async throws -> [[UInt8]] {
    try await withThrowingTaskGroup(of: [[UInt8]]?.self) { group in
        group.addTask {
            var chunks: [[UInt8]] = []
            var total = 0
            for try await chunk in stream {
                chunks.append(chunk)
                total += chunk.count
                if total >= count { break }
            }
            return chunks
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let chunks = first else {
            throw TimedOut(what: "\(count) bytes from the stream")
        }
        return chunks
    }
}

/// Runs `body` on a new thread after `delay` (never on the cooperative pool).
func onThread(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread {
        let (seconds, attoseconds) = delay.components
        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
        body()
    }
    thread.start()
}

/// The SerialError thrown by `body`, or nil when it returned normally.
func serialError<T>(_ body: () throws(SerialError) -> T) -> SerialError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// What ``drain(_:timeout:)`` saw.
struct Drained {
    var bytes: [UInt8] = []
    var error: (any Error)?
    var timedOut = false
}

/// Consumes `stream` to its end, for at most `timeout` (then cancels the consumer).
func drain(_ stream: AsyncThrowingStream<[UInt8], any Error>, timeout: Duration = .seconds(3)) async -> Drained {
    await withTaskGroup(of: Drained?.self) { group in
        group.addTask {
            var result = Drained()
            do {
                for try await chunk in stream { result.bytes += chunk }
            } catch {
                result.error = error
            }
            return result
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = await group.next(), let drained = first else {
            return Drained(timedOut: true)
        }
        return drained
    }
}
