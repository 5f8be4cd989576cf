import Agent
import EventModel
import EventStore
import Foundation
import PlatformAPI
import Testing
import Uplink

/// The delivery lane's decisions event by event, with no store, platform or clock: every branch
/// the forwarder's loop used to hold (read-ahead, held-over verdicts, store and platform
/// backoff, shutdown) is driven here directly.
@Suite struct DeliveryLaneTests {
    typealias Lane = DeliveryLane<ContinuousClock.Instant>
    let policy = RetryPolicy(initial: .seconds(1), maximum: .seconds(8), jitter: 0)
    let t0 = ContinuousClock.now
    let date = Date(timeIntervalSince1970: 1_800_000_000)

    struct StoreLocked: Error, CustomStringConvertible {
        var description = "database is locked"
    }

    func events(_ range: ClosedRange<Int64>) -> [StoredEvent] {
        range.map { StoredEvent(seq: $0, id: "id-\($0)", event: tap(String(format: "%010d", $0)), storedAt: date) }
    }

    func acceptAll(_ batch: [StoredEvent]) -> Result<[String: IngestResult], UplinkError> {
        .success(Dictionary(uniqueKeysWithValues: batch.map { ($0.id, IngestResult(id: $0.id, status: .accepted)) }))
    }

    func accepted(_ batch: [StoredEvent]) -> [DeliveryOutcome] {
        batch.map { DeliveryOutcome(seq: $0.seq, status: .accepted) }
    }

    func normalLane(batch: Int = 3) -> Lane {
        Lane(lane: .normal, policy: policy, maximumBatch: batch, readsAhead: true, drainLimit: .seconds(20))
    }

    /// Reads `batch` and checks that the lane sends it, with `commit` going along.
    func readAndSend(_ lane: inout Lane, _ batch: [StoredEvent], commit: [DeliveryOutcome] = []) {
        #expect(lane.next(now: t0, shutdown: .running) == .read(limit: lane.planner.batchLimit))
        lane.read(batch)
        guard case .send(let sent, let meanwhile, _) = lane.next(now: t0, shutdown: .running) else {
            Issue.record("a read batch is sent")
            return
        }
        #expect(sent == batch)
        #expect(meanwhile == commit)
    }

    @Test func theNormalLaneSendsWhatItReadAheadAndCommitsTheVerdictsMeanwhile() {
        var lane = normalLane()
        let first = events(1...3), second = events(4...6)
        readAndSend(&lane, first)
        let answer = lane.requestEnded(acceptAll(first), previousCommit: .success(()), following: second, unit: 0.5, at: date)
        #expect(answer.outcomes == accepted(first))
        #expect(answer.failure == nil)
        #expect(lane.next(now: t0, shutdown: .running) == .send(second, commitMeanwhile: accepted(first), readAheadLimit: 3))
        _ = lane.requestEnded(acceptAll(second), previousCommit: .success(()), following: [], unit: 0.5, at: date)
        #expect(lane.next(now: t0, shutdown: .running) == .commit(accepted(second)), "nothing read ahead: commit now")
        lane.committed()
        #expect(lane.next(now: t0, shutdown: .running) == .read(limit: 3))
        lane.read([])
        #expect(lane.next(now: t0, shutdown: .running) == .waitForEvents)
        lane.rang()
        #expect(lane.next(now: t0, shutdown: .running) == .read(limit: 3))
    }

    @Test func theAlarmLaneNeverReadsAheadAndCommitsEachAnswerAtOnce() {
        var lane = Lane(lane: .alarm, policy: policy, maximumBatch: 50, readsAhead: false, drainLimit: .seconds(20))
        let alarm = events(7...7)
        #expect(lane.next(now: t0, shutdown: .running) == .read(limit: 50))
        lane.read(alarm)
        #expect(lane.next(now: t0, shutdown: .running) == .send(alarm, commitMeanwhile: [], readAheadLimit: nil))
        _ = lane.requestEnded(acceptAll(alarm), previousCommit: .success(()), following: [], unit: 0.5, at: date)
        #expect(lane.next(now: t0, shutdown: .running) == .commit(accepted(alarm)))
    }

    @Test func aPartialAnswerDropsTheReadAheadSoTheUnansweredEventGoesFirst() {
        var lane = normalLane()
        let first = events(1...3)
        readAndSend(&lane, first)
        let partial: [String: IngestResult] = ["id-1": IngestResult(id: "id-1", status: .accepted)]
        _ = lane.requestEnded(.success(partial), previousCommit: .success(()), following: events(4...6), unit: 0.5, at: date)
        #expect(lane.next(now: t0, shutdown: .running) == .commit([DeliveryOutcome(seq: 1, status: .accepted)]))
        lane.committed()
        #expect(lane.next(now: t0, shutdown: .running) == .read(limit: 3), "read again from the store, not the read-ahead")
    }

    @Test func aFailedRequestWaitsTheBackoffAndRecordsTheFaultOnce() {
        var lane = normalLane()
        let batch = events(1...2)
        let refused = UplinkError(.status(503), message: "503 Service Unavailable")
        readAndSend(&lane, batch)
        let first = lane.requestEnded(.failure(refused), previousCommit: .success(()), following: events(3...3), unit: 0.5, at: date)
        #expect(first.outcomes.isEmpty)
        #expect(first.failures == 1)
        guard case .record(let fault)? = first.fault else {
            Issue.record("the first failure is recorded for status")
            return
        }
        #expect(lane.next(now: t0, shutdown: .running) == .sleep(.seconds(1), .platform))
        readAndSend(&lane, batch)
        let second = lane.requestEnded(.failure(refused), previousCommit: .success(()), following: [], unit: 0.5, at: date)
        #expect(second.fault == nil, "the same fault again is not recorded again")
        #expect(lane.next(now: t0, shutdown: .running) == .sleep(.seconds(2), .platform))
        readAndSend(&lane, batch)
        let third = lane.requestEnded(acceptAll(batch), previousCommit: .success(()), following: [], unit: 0.5, at: date)
        #expect(third.fault == .clear(fault))
        #expect(lane.next(now: t0, shutdown: .running) == .commit(accepted(batch)))
    }

    /// The install test on a booted system found it: a fault recorded before a restart stayed in
    /// `status` and `doctor` for ever when the restarted agent's first request succeeded.
    @Test func aFaultAnEarlierRunRecordedIsClearedByThisRunsFirstAnswerOrKeptWhileItStillFails() {
        let earlier = PlatformFault(lane: .normal, summary: "unreachable", message: "connection refused", since: date - 600)
        var lane = Lane(lane: .normal, policy: policy, maximumBatch: 3, readsAhead: true, drainLimit: .seconds(20), recordedFault: earlier)
        let batch = events(1...2)
        readAndSend(&lane, batch)
        let answer = lane.requestEnded(acceptAll(batch), previousCommit: .success(()), following: [], unit: 0.5, at: date)
        #expect(answer.fault == .clear(earlier))

        var failing = Lane(lane: .normal, policy: policy, maximumBatch: 3, readsAhead: true, drainLimit: .seconds(20), recordedFault: earlier)
        readAndSend(&failing, batch)
        let refused = UplinkError(.transport, message: "connection refused")
        let failed = failing.requestEnded(.failure(refused), previousCommit: .success(()), following: [], unit: 0.5, at: date)
        #expect(refused.summary == earlier.summary)
        #expect(failed.fault == nil, "the same fault goes on with its first `since`")
        #expect(failing.faults.current?.since == earlier.since)
    }

    @Test func verdictsTheStoreRefusedGoWithTheNextRequestAfterTheStoresBackoff() {
        var lane = normalLane()
        let first = events(1...3), second = events(4...6)
        readAndSend(&lane, first)
        _ = lane.requestEnded(acceptAll(first), previousCommit: .success(()), following: second, unit: 0.5, at: date)
        #expect(lane.next(now: t0, shutdown: .running) == .send(second, commitMeanwhile: accepted(first), readAheadLimit: 3))
        // The platform fails the second batch and the store refused the first's verdicts.
        _ = lane.requestEnded(
            .failure(UplinkError(.transport, message: "reset")), previousCommit: .failure(StoreLocked()), following: [], unit: 0.5,
            at: date)
        #expect(lane.pending == accepted(first), "held over, not lost")
        guard case .sleep(let delay, .store(let failure)) = lane.next(now: t0, shutdown: .running) else {
            Issue.record("the store's backoff replaces the platform's")
            return
        }
        #expect(delay == .milliseconds(250))
        #expect(failure.isNew && failure.count == 1)
        #expect(failure.doing == "record what the platform answered")
        // The store still holds events 1...6 as queued: read again, send with the held verdicts.
        readAndSend(&lane, events(1...3), commit: accepted(first))
        _ = lane.requestEnded(.success([:]), previousCommit: .success(()), following: [], unit: 0.5, at: date)
        #expect(lane.next(now: t0, shutdown: .running) == .storeAnswersAgain(failures: 1))
    }

    @Test func whenTheStoreRefusedTheLastVerdictsTheyAreCommittedWithTheNewOnesAtOnce() {
        var lane = normalLane()
        let first = events(1...3), second = events(4...6)
        readAndSend(&lane, first)
        _ = lane.requestEnded(acceptAll(first), previousCommit: .success(()), following: second, unit: 0.5, at: date)
        _ = lane.next(now: t0, shutdown: .running)
        _ = lane.requestEnded(acceptAll(second), previousCommit: .failure(StoreLocked()), following: events(7...9), unit: 0.5, at: date)
        #expect(lane.next(now: t0, shutdown: .running) == .commit(accepted(first) + accepted(second)), "no read-ahead over unrecorded verdicts")
        lane.commitFailed(StoreLocked())
        guard case .sleep(_, .store(let failure)) = lane.next(now: t0, shutdown: .running) else {
            Issue.record("a refused commit backs off")
            return
        }
        #expect(failure.count == 1)
        #expect(lane.next(now: t0, shutdown: .running) == .read(limit: 3))
        lane.readFailed(StoreLocked())
        guard case .sleep(let delay, .store(let again)) = lane.next(now: t0, shutdown: .running) else {
            Issue.record("a refused read backs off")
            return
        }
        #expect(delay == .milliseconds(500), "the store's backoff doubles")
        #expect(!again.isNew, "the same error is logged once")
        #expect(lane.pending == accepted(first) + accepted(second))
    }

    @Test func theStoreBackoffDoublesToTenSecondsAndLogsEachDifferentError() {
        var backoff = StoreFailureBackoff()
        let delays = (0..<8).map { _ in backoff.failed(StoreLocked(), doing: "read the queue").delay }
        #expect(delays == [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000].map { Duration.milliseconds($0) })
        #expect(backoff.failed(StoreLocked(description: "disk I/O error"), doing: "read the queue").isNew)
        #expect(backoff.succeeded() == 9)
        #expect(backoff.succeeded() == nil)
        #expect(backoff.failed(StoreLocked(description: "disk I/O error"), doing: "read the queue").isNew, "new again after a success")
    }

    @Test func aReloadStopsAfterTheRequestInFlightWithTheHeldVerdicts() {
        var lane = normalLane()
        let first = events(1...3)
        readAndSend(&lane, first)
        _ = lane.requestEnded(acceptAll(first), previousCommit: .success(()), following: events(4...6), unit: 0.5, at: date)
        #expect(lane.next(now: t0, shutdown: .reloading) == .stop(.reloading, commit: accepted(first)))
        #expect(lane.next(now: t0, shutdown: .running) == .stop(.reloading, commit: []), "a stopped lane stays stopped")
    }

    @Test func theShutdownDrainSendsUntilTheQueueIsEmpty() {
        var lane = normalLane()
        let batch = events(1...2)
        #expect(lane.next(now: t0, shutdown: .draining) == .read(limit: 3))
        lane.read(batch)
        #expect(lane.next(now: t0, shutdown: .draining) == .send(batch, commitMeanwhile: [], readAheadLimit: 3))
        _ = lane.requestEnded(acceptAll(batch), previousCommit: .success(()), following: [], unit: 0.5, at: date)
        #expect(lane.next(now: t0, shutdown: .draining) == .commit(accepted(batch)))
        lane.committed()
        #expect(lane.next(now: t0, shutdown: .draining) == .read(limit: 3))
        lane.read([])
        #expect(lane.next(now: t0, shutdown: .draining) == .stop(.drained, commit: []))
    }

    @Test func theShutdownDrainStopsAtItsLimitAndAtTheFirstFailure() {
        var lane = normalLane()
        #expect(lane.next(now: t0, shutdown: .draining) == .read(limit: 3), "the drain's clock starts now")
        lane.read(events(1...3))
        _ = lane.next(now: t0.advanced(by: .seconds(19)), shutdown: .draining)
        _ = lane.requestEnded(acceptAll(events(1...3)), previousCommit: .success(()), following: events(4...6), unit: 0.5, at: date)
        #expect(
            lane.next(now: t0.advanced(by: .seconds(20)), shutdown: .draining)
                == .stop(.drainLimitReached, commit: accepted(events(1...3))))

        var failing = normalLane()
        readAndSend(&failing, events(1...3))
        _ = failing.requestEnded(
            .failure(UplinkError(.transport, message: "refused")), previousCommit: .success(()), following: [], unit: 0.5, at: date)
        #expect(failing.next(now: t0, shutdown: .draining) == .stop(.failingAtShutdown, commit: []))

        var sleeping = normalLane()
        sleeping.readFailed(StoreLocked())
        guard case .sleep = sleeping.next(now: t0, shutdown: .running) else {
            Issue.record("a refused read backs off")
            return
        }
        sleeping.interrupted()
        #expect(sleeping.next(now: t0, shutdown: .draining) == .stop(.failingAtShutdown, commit: []))
    }

    @Test func cancellationAndAClosedDoorbellStopTheLane() {
        var cancelled = normalLane()
        #expect(cancelled.next(now: t0, shutdown: .cancelled) == .stop(.cancelled, commit: []))
        var closed = normalLane()
        _ = closed.next(now: t0, shutdown: .running)
        closed.read([])
        #expect(closed.next(now: t0, shutdown: .running) == .waitForEvents)
        closed.doorbellClosed()
        #expect(closed.next(now: t0, shutdown: .running) == .stop(.doorbellClosed, commit: []))
    }

    @Test func aRefusedBatchIsSplitAndSentAgainAtOnce() {
        var lane = normalLane(batch: 4)
        let batch = events(1...4)
        readAndSend(&lane, batch)
        let answer = lane.requestEnded(
            .failure(UplinkError(.refused(400), message: "events[2].kind is unknown")), previousCommit: .success(()),
            following: events(5...8), unit: 0.5, at: date)
        #expect(answer.fault == nil, "a split is not a platform fault")
        #expect(answer.failure != nil)
        #expect(lane.next(now: t0, shutdown: .running) == .read(limit: 2))
    }
}
