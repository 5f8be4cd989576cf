import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps a port's OS resource alive while calls use it, and releases it exactly once on close.
///
/// Closing an fd while another thread polls it is a classic bug: the number can be reused by a
/// new open and the poller then reads someone else's file. Here every read/write enters the gate;
/// ``close()`` marks the gate closing, waits until no call is inside (calls poll in slices of at
/// most ``PortGate/sliceMilliseconds`` and leave when they see the mark), then releases.
final class PortGate: Sendable {
    /// Longest single poll() inside a read or write, so close() never waits longer than this.
    static let sliceMilliseconds: Int32 = 50

    private struct State {
        var closing = false
        var released = false
        var releaseFinished = false
        var users = 0
    }

    private let state = Mutex(State())
    private let release: @Sendable () -> Void

    init(release: @escaping @Sendable () -> Void) {
        self.release = release
    }

    /// True once close() was called.
    var isClosing: Bool { state.withLock { $0.closing } }

    /// True once the resource was released.
    var isReleased: Bool { state.withLock { $0.released } }

    /// Runs `body` with the resource guaranteed open; throws `.closed` when the port is closing.
    func use<Result>(
        path: String, operation: String, _ body: () throws(SerialError) -> Result
    ) throws(SerialError) -> Result {
        let entered = state.withLock { state -> Bool in
            if state.closing { return false }
            state.users += 1
            return true
        }
        guard entered else { throw SerialError.closed(path: path, operation: operation) }
        defer { state.withLock { $0.users -= 1 } }
        return try body()
    }

    /// Marks the gate closing, waits for calls inside to leave, releases the resource once.
    /// When several threads close at once, all of them return after the release finished.
    func close() {
        state.withLock { $0.closing = true }
        while true {
            let step = state.withLock { state -> CloseStep in
                if state.releaseFinished { return .done }
                if state.released || state.users > 0 { return .wait }
                state.released = true
                return .release
            }
            switch step {
            case .done:
                return
            case .wait:
                usleep(1000)
            case .release:
                release()
                state.withLock { $0.releaseFinished = true }
                return
            }
        }
    }

    private enum CloseStep {
        case done, wait, release
    }
}
