import Agent
import Clocks
import EventModel
import EventStore
import Foundation
import Logging
import Synchronization
import Testing

/// A clock the test sets by hand: both readings and the synchronisation state.
final class HandClock: ClockSource {
    let state = Mutex<(sample: ClockSample, synchronized: Bool?)>((ClockSample(wallMs: 0, monotonicNanos: 0), nil))

    func set(wallMs: Int64, monotonicNanos: UInt64, synchronized: Bool?) {
        state.withLock { $0 = (ClockSample(wallMs: wallMs, monotonicNanos: monotonicNanos), synchronized) }
    }

    func sample() -> ClockSample { state.withLock { $0.sample } }
    func isSynchronized() -> Bool? { state.withLock { $0.synchronized } }
}

@Suite struct ClockWatchServiceTests {
    let logger = Logger(label: "test.clock")

    @Test func aStepOfTheWallClockCorrectsQueuedEventsAndIsReported() async throws {
        let directory = NSTemporaryDirectory() + "clockwatch-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory)
        let source = HandClock()
        // Boot on a kiosk without RTC: the clock says 1970 + 10 s at monotonic 10 s.
        source.set(wallMs: 10_000, monotonicNanos: 10_000_000_000, synchronized: false)
        let service = ClockWatchService(store: store, source: source, clock: TestClock(), logger: logger)
        var state = try await service.start()
        #expect(store.clockSynchronized == false)
        #expect(try await store.clockReferenceOffset() == 0)

        let early = try await store.append(
            NewEvent(kind: .cardTap, device: "reader-1", occurredAt: Date(timeIntervalSince1970: 12.5), monotonicNanos: 12_500_000_000))
        #expect(early.event.clockSynchronized == false)

        // 1.5 s of drift: followed, no jump.
        source.set(wallMs: 21_500, monotonicNanos: 20_000_000_000, synchronized: false)
        #expect(try await service.tick(&state) == nil)

        // NTP sets the clock to 2027-01-15T08:00:00Z at monotonic 30 s.
        source.set(wallMs: 1_800_000_000_000, monotonicNanos: 30_000_000_000, synchronized: true)
        let correction = try #require(try await service.tick(&state))
        #expect(correction.corrected == 1)
        #expect(store.clockSynchronized == true)
        let records = try await store.events()
        let corrected = try #require(records.first { $0.event.id == early.id })
        // 12.5 s monotonic + (1_800_000_000_000 - 30_000) ms offset.
        #expect(corrected.event.event.occurredAt == Date(timeIntervalSince1970: 1_799_999_982.5))
        #expect(corrected.event.event.originalOccurredAt == Date(timeIntervalSince1970: 12.5))
        let jump = try #require(records.first { $0.event.kind == .clockJump })
        #expect(jump.event.event.detail?.contains("old_offset_ms=1500 new_offset_ms=1799999970000 delta_ms=1799999968500") == true)
        #expect(jump.event.event.occurredAt == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(try await store.clockReferenceOffset() == 1_799_999_970_000)

        // Events stored from now on say the clock is synchronised.
        let later = try await store.append(NewEvent(kind: .cardTap, device: "reader-1"))
        #expect(later.event.clockSynchronized == true)
    }

    @Test func aJumpWhileTheAgentWasDownIsFoundAtTheNextStart() async throws {
        let directory = NSTemporaryDirectory() + "clockwatch-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = HandClock()
        var earlyID = ""
        do {
            let store = try EventStore.open(directory: directory)
            source.set(wallMs: 5_000, monotonicNanos: 5_000_000_000, synchronized: false)
            _ = try await ClockWatchService(store: store, source: source, clock: TestClock(), logger: logger).start()
            earlyID = try await store.append(
                NewEvent(kind: .alarm, device: "button-1", occurredAt: Date(timeIntervalSince1970: 6), monotonicNanos: 6_000_000_000)
            ).id
        }
        // The agent was stopped; NTP stepped the clock; the agent starts again in the same boot.
        source.set(wallMs: 1_800_000_000_000, monotonicNanos: 100_000_000_000, synchronized: true)
        let store = try EventStore.open(directory: directory)
        _ = try await ClockWatchService(store: store, source: source, clock: TestClock(), logger: logger).start()
        let records = try await store.events()
        let alarm = try #require(records.first { $0.event.id == earlyID })
        #expect(alarm.event.event.occurredAt == Date(timeIntervalSince1970: 6 + (1_800_000_000 - 100)))
        #expect(alarm.event.event.originalOccurredAt == Date(timeIntervalSince1970: 6))
        #expect(records.contains { $0.event.kind == .clockJump })
    }

    @Test func theKernelSourceAnswersOnLinux() {
        // adjtimex in read-only mode is allowed for every user; whatever the VM's NTP state,
        // the answer is a definite true or false.
        #expect(SystemClockSource().isSynchronized() != nil)
        let sample = SystemClockSource().sample()
        #expect(sample.monotonicNanos > 0)
        #expect(sample.wallMs > 1_600_000_000_000)
    }
}
