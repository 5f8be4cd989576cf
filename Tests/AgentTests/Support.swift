import Agent
import EventModel
import EventStore
import Foundation
import PlatformAPI
import Synchronization
import Uplink

/// A platform stand-in whose answers a test scripts, recording every batch it was sent.
final class ScriptedSender: EventUplink {
    typealias Script = @Sendable (_ call: Int, _ batch: [StoredEvent]) async -> Result<[String: IngestResult], UplinkError>

    private let calls = Mutex<[[StoredEvent]]>([])
    private let script: Script

    init(_ script: @escaping Script) {
        self.script = script
    }

    var batches: [[StoredEvent]] { calls.withLock { $0 } }

    func send(_ events: [StoredEvent]) async throws(UplinkError) -> [String: IngestResult] {
        let index = calls.withLock { calls -> Int in
            calls.append(events)
            return calls.count - 1
        }
        return try await script(index, events).get()
    }

    static func acceptAll(_ batch: [StoredEvent]) -> Result<[String: IngestResult], UplinkError> {
        .success(Dictionary(uniqueKeysWithValues: batch.map { ($0.id, IngestResult(id: $0.id, status: .accepted)) }))
    }
}

func tap(_ uid: String, device: String = "reader-1") -> NewEvent {
    NewEvent(kind: .cardTap, device: device, purpose: "check-in", card: CardRead(uid: uid, format: "em4100"))
}

/// Set once from any task, read from any other.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// A clock that records how long each sleep on it was asked to last, around another clock
/// (a `TestClock` the test advances): what a service waited is read exactly, not inferred from
/// what did not happen within some wall-clock time.
final class RecordingClock<Base: Clock>: Clock, Sendable where Base.Duration == Duration {
    typealias Instant = Base.Instant
    let base: Base
    private let recorded = Mutex<[Duration]>([])

    init(_ base: Base) { self.base = base }

    var now: Instant { base.now }
    var minimumResolution: Duration { base.minimumResolution }
    /// Each sleep's length, in the order they began.
    var sleeps: [Duration] { recorded.withLock { $0 } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let length = base.now.duration(to: deadline)
        recorded.withLock { $0.append(length) }
        try await base.sleep(until: deadline, tolerance: tolerance)
    }
}
