import EventModel
import EventStore
import Foundation
import Testing

/// The clock of a kiosk without a real-time clock: the pure status and jump logic, and the
/// store's correction on a real SQLite file.
@Suite struct ClockCorrectionTests {
    // MARK: Pure

    @Test func synchronisedOnlyWithoutUnsyncBitAndWithoutTimeError() {
        // STA_UNSYNC = 0x40, TIME_ERROR = 5 on Linux.
        #expect(ClockStatus.isSynchronized(status: 0x2001, state: 0, staUnsync: 0x40, timeError: 5))
        #expect(!ClockStatus.isSynchronized(status: 0x40, state: 0, staUnsync: 0x40, timeError: 5))
        #expect(!ClockStatus.isSynchronized(status: 0x41, state: 5, staUnsync: 0x40, timeError: 5))
        #expect(!ClockStatus.isSynchronized(status: 0, state: 5, staUnsync: 0x40, timeError: 5))
    }

    @Test func offsetIsWallMinusMonotonicInMilliseconds() {
        #expect(ClockSample(wallMs: 10_000, monotonicNanos: 3_999_999_999).offsetMs == 6_001)
        #expect(ClockSample(wallMs: 1_000, monotonicNanos: 5_000_000_000).offsetMs == -4_000)
    }

    @Test func detectorReportsStepsBeyondTheThresholdAndFollowsDrift() {
        var detector = ClockJumpDetector(thresholdMs: 2000)
        // First sample: reference only.
        #expect(detector.observe(ClockSample(wallMs: 1_000_000, monotonicNanos: 5_000_000_000)) == nil)
        #expect(detector.offsetMs == 995_000)
        // Drift of 2 s exactly is not a jump; the reference follows it.
        #expect(detector.observe(ClockSample(wallMs: 1_003_000, monotonicNanos: 6_000_000_000)) == nil)
        #expect(detector.offsetMs == 997_000)
        // NTP steps the clock forward by an hour.
        let forward = detector.observe(ClockSample(wallMs: 1_004_000 + 3_600_000, monotonicNanos: 7_000_000_000))
        #expect(forward == ClockJump(oldOffsetMs: 997_000, newOffsetMs: 4_597_000, seenAtMonotonicNanos: 7_000_000_000))
        #expect(forward?.deltaMs == 3_600_000)
        // And back by 2.001 s.
        let back = detector.observe(ClockSample(wallMs: 4_605_000 - 2_001, monotonicNanos: 8_000_000_000))
        #expect(back?.deltaMs == -2_001)
        #expect(forward?.description == "old_offset_ms=997000 new_offset_ms=4597000 delta_ms=3600000 seen_at_monotonic_ns=7000000000")
    }

    @Test func eventsNearerTheOldOffsetAndNotLaterThanTheJumpAreStampedBefore() {
        let jump = ClockJump(oldOffsetMs: 1_000, newOffsetMs: 3_601_000, seenAtMonotonicNanos: 50_000_000_000)
        // Stamped with the old offset (monotonic 10 s, wall 11 s).
        #expect(jump.stampedBefore(occurredAtMs: 11_000, monotonicNanos: 10_000_000_000))
        #expect(jump.correctedMs(monotonicNanos: 10_000_000_000) == 3_611_000)
        // Stamped after the step but before it was seen: already right.
        #expect(!jump.stampedBefore(occurredAtMs: 3_641_000, monotonicNanos: 40_000_000_000))
        // Later than the detection: never touched.
        #expect(!jump.stampedBefore(occurredAtMs: 61_000, monotonicNanos: 60_000_000_000))
    }

    // MARK: Store

    static let bootOffsetMs: Int64 = 1_700_000_000_000  // the kiosk believes it is Nov 2023

    static func tap(_ index: Int, monotonicSeconds: UInt64) -> NewEvent {
        let mono = monotonicSeconds * 1_000_000_000 + 123_000_000
        return NewEvent(
            kind: .cardTap, device: "reader-1", purpose: "check-in", card: CardRead(uid: "\(index)", format: "decimal"),
            occurredAt: Date(timeIntervalSince1970: Double(Int64(mono / 1_000_000) + bootOffsetMs) / 1000), monotonicNanos: mono)
    }

    @Test func aJumpCorrectsUndeliveredEventsOfThisBootAndReportsTheDeliveredOnes() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory)
        store.clockSynchronized = false
        let stored = try await store.append(contentsOf: (0..<10).map { Self.tap($0, monotonicSeconds: 100 + UInt64($0)) })
        #expect(stored.allSatisfy { $0.event.clockSynchronized == false && $0.bootID == store.bootID })
        // The platform already has the first four.
        try await store.markDelivered(stored.prefix(4).map { DeliveryOutcome(seq: $0.seq, status: .accepted) })

        // NTP syncs at monotonic 200 s: the clock steps forward by about a year.
        store.clockSynchronized = true
        let newOffset = Self.bootOffsetMs + 31_536_000_000
        let jump = ClockJump(oldOffsetMs: Self.bootOffsetMs, newOffsetMs: newOffset, seenAtMonotonicNanos: 200_000_000_000)
        // An event stamped after the step but before detection keeps its (right) time.
        let late = try await store.append(
            NewEvent(
                kind: .cardTap, device: "reader-1", occurredAt: Date(timeIntervalSince1970: Double(199_000 + newOffset) / 1000),
                monotonicNanos: 199_000_000_000))
        let correction = try await store.applyClockJump(
            jump, occurredAt: Date(timeIntervalSince1970: Double(200_000 + newOffset) / 1000), monotonicNanos: 200_000_000_000)
        #expect(correction.corrected == 6)
        #expect(correction.alreadyDelivered == 4)
        #expect(correction.report.kind == .clockJump)
        #expect(
            correction.report.event.detail
                == "boot=\(store.bootID ?? "unknown") old_offset_ms=1700000000000 new_offset_ms=1731536000000 delta_ms=31536000000 seen_at_monotonic_ns=200000000000 corrected=6 delivered_uncorrected=4"
        )
        #expect(correction.report.event.clockSynchronized == true)

        let records = try await StorageFaultTests.allRecords(store)
        #expect(records.map(\.event.seq) == Array(1...12))
        for record in records.prefix(10) {
            let index = Int(record.event.seq - 1)
            let monoMs = Int64(100_000 + index * 1000 + 123)
            if index < 4 {
                // Delivered: left as the platform has it.
                #expect(EventStoreMs(record.event.event.occurredAt) == monoMs + Self.bootOffsetMs)
                #expect(record.event.event.originalOccurredAt == nil)
            } else {
                #expect(EventStoreMs(record.event.event.occurredAt) == monoMs + newOffset)
                #expect(EventStoreMs(try #require(record.event.event.originalOccurredAt)) == monoMs + Self.bootOffsetMs)
                #expect(record.event.event.clockSynchronized == false)
            }
        }
        let lateRecord = try #require(records.first { $0.event.id == late.id })
        #expect(EventStoreMs(lateRecord.event.event.occurredAt) == 199_000 + newOffset)
        #expect(lateRecord.event.event.originalOccurredAt == nil)
        // The boot's reference is the new offset, kept across reopening.
        #expect(try await store.clockReferenceOffset() == newOffset)
        // A second, smaller step corrects again, from the latest offset; the first time stays.
        let again = try await store.applyClockJump(
            ClockJump(oldOffsetMs: newOffset, newOffsetMs: newOffset + 5_000, seenAtMonotonicNanos: 300_000_000_000))
        #expect(again.corrected == 8)  // six corrected taps, the late one, and the first clock_jump event
        let fifth = try #require(try await StorageFaultTests.allRecords(store).first { $0.event.seq == 5 })
        #expect(EventStoreMs(fifth.event.event.occurredAt) == 104_123 + newOffset + 5_000)
        #expect(EventStoreMs(try #require(fifth.event.event.originalOccurredAt)) == 104_123 + Self.bootOffsetMs)
    }

    @Test func theClockReferenceBelongsToTheBoot() async throws {
        let directory = try EventStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try EventStore.open(directory: directory)
            #expect(try await store.clockReferenceOffset() == nil)
            try await store.setClockReferenceOffset(42_000)
        }
        let reopened = try EventStore.open(directory: directory)
        #expect(try await reopened.clockReferenceOffset() == 42_000)
        try await reopened.meta.set("clock_reference", "another-boot 42000")
        #expect(try await reopened.clockReferenceOffset() == nil)
    }
}

func EventStoreMs(_ date: Date) -> Int64 {
    Int64((date.timeIntervalSince1970 * 1000).rounded())
}
