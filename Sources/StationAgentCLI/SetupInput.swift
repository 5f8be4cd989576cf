import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The technician's answers, line by line from standard input (a terminal, or a script's pipe).
///
/// Read with `poll(2)` and `read(2)` on descriptor 0 in slices of 100 ms rather than with
/// `readLine()`: a wait for Enter can then end at a deadline or on cancellation (while the
/// readers are being listened to), and no line is held in a stdio buffer out of sight of `poll`.
final class SetupInput: @unchecked Sendable {
    // @unchecked: only the wizard's one sequential flow reads; no two reads overlap.
    private var buffer: [UInt8] = []
    private var ended = false

    /// The next line without its newline; nil when the input ended (or `deadline` passed, or the
    /// task was cancelled) before a whole line came.
    func line(until deadline: ContinuousClock.Instant? = nil) async -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line.hasSuffix("\r") ? String(line.dropLast()) : line
            }
            if ended {
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            if Task.isCancelled { return nil }
            if let deadline, ContinuousClock.now >= deadline { return nil }
            var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            if ready < 0 {
                if errno == EINTR { continue }
                ended = true
                continue
            }
            guard ready > 0 else {
                // Nothing yet: give the other tasks their turn before the next slice.
                await Task.yield()
                continue
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(0, &chunk, chunk.count)
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            if count <= 0 {
                ended = true
            } else {
                buffer += chunk[..<count]
            }
        }
    }
}

/// Why the wizard stopped before it wrote anything.
struct SetupStopped: Error, CustomStringConvertible {
    var description: String
}
