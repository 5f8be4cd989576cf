import Agent
import EventModel
import EventStore
import Foundation
import PlatformAPI
import Testing
import Uplink

@Suite struct DeliveryPlannerTests {
    let policy = RetryPolicy(initial: .seconds(1), maximum: .seconds(8), jitter: 0)

    func batch(_ count: Int) -> [StoredEvent] {
        (1...count).map { StoredEvent(seq: Int64($0), id: "id-\($0)", event: tap("000000000\($0 % 10)"), storedAt: Date()) }
    }

    @Test func acknowledgedEventsAreRecordedAndTheNextBatchGoesAtOnce() {
        var planner = DeliveryPlanner(policy: policy, maximumBatch: 100)
        let events = batch(3)
        let results: [String: IngestResult] = [
            "id-1": IngestResult(id: "id-1", status: .accepted),
            "id-2": IngestResult(id: "id-2", status: .duplicate),
            "id-3": IngestResult(id: "id-3", status: .rejected, reason: "unknown purpose"),
        ]
        let action = planner.answered(results, for: events, unit: 0.5)
        #expect(action.next == .sendNow)
        #expect(action.outcomes == [
            DeliveryOutcome(seq: 1, status: .accepted),
            DeliveryOutcome(seq: 2, status: .duplicate),
            DeliveryOutcome(seq: 3, status: .rejected, reason: "unknown purpose"),
        ])
    }

    @Test func eventsLeftOutOfTheAnswerStayQueued() {
        var planner = DeliveryPlanner(policy: policy, maximumBatch: 100)
        let action = planner.answered(["id-2": IngestResult(id: "id-2", status: .accepted)], for: batch(3), unit: 0.5)
        #expect(action.outcomes.map(\.seq) == [2])
        #expect(action.next == .sendNow)
    }

    @Test func anAnswerAcknowledgingNothingBacksOff() {
        var planner = DeliveryPlanner(policy: policy, maximumBatch: 100)
        #expect(planner.answered([:], for: batch(3), unit: 0.5).next == .wait(.seconds(1)))
        #expect(planner.answered([:], for: batch(3), unit: 0.5).next == .wait(.seconds(2)))
        #expect(planner.failures == 2)
    }

    @Test func serverErrorsBackOffExponentiallyAndHonourRetryAfter() {
        var planner = DeliveryPlanner(policy: policy, maximumBatch: 100)
        let unavailable = UplinkError(.status(503), message: "503")
        #expect(planner.failed(unavailable, for: batch(2), unit: 0.5) == .init(outcomes: [], next: .wait(.seconds(1))))
        #expect(planner.failed(unavailable, for: batch(2), unit: 0.5).next == .wait(.seconds(2)))
        let slowDown = UplinkError(.status(429), retryAfter: .seconds(60), message: "429")
        #expect(planner.failed(slowDown, for: batch(2), unit: 0.5).next == .wait(.seconds(60)))
        // Success resets the backoff.
        _ = planner.answered(["id-1": IngestResult(id: "id-1", status: .accepted)], for: batch(1), unit: 0.5)
        #expect(planner.failures == 0)
        #expect(planner.failed(unavailable, for: batch(2), unit: 0.5).next == .wait(.seconds(1)))
    }

    @Test func authenticationFailuresNeverDropEvents() {
        var planner = DeliveryPlanner(policy: policy, maximumBatch: 100)
        for code in [401, 403] {
            let action = planner.failed(UplinkError(.status(code), message: "\(code)"), for: batch(1), unit: 0.5)
            #expect(action.outcomes.isEmpty)
            if case .wait = action.next {} else { Issue.record("\(code) must back off, got \(action.next)") }
        }
    }

    @Test func aRefusedRequestIsSplitUntilTheRefusedEventIsAloneThenRejected() {
        var planner = DeliveryPlanner(policy: policy, maximumBatch: 8)
        let badRequest = UplinkError(.refused(400), message: "events[0].kind is unknown")
        #expect(planner.failed(badRequest, for: batch(8), unit: 0.5) == .init(outcomes: [], next: .sendNow))
        #expect(planner.batchLimit == 4)
        _ = planner.failed(badRequest, for: batch(4), unit: 0.5)
        _ = planner.failed(badRequest, for: batch(2), unit: 0.5)
        #expect(planner.batchLimit == 1)
        let alone = planner.failed(badRequest, for: batch(1), unit: 0.5)
        #expect(alone.outcomes == [DeliveryOutcome(seq: 1, status: .rejected, reason: "events[0].kind is unknown")])
        #expect(alone.next == .sendNow)
        // Batches grow back after successes.
        _ = planner.answered(["id-1": IngestResult(id: "id-1", status: .accepted)], for: batch(1), unit: 0.5)
        #expect(planner.batchLimit == 2)
    }

    @Test func answersThatDoNotRefuseEventsNeverRejectOne() {
        var planner = DeliveryPlanner(policy: policy, maximumBatch: 8)
        let answers = [
            UplinkError(.status(404), message: "wrong path"), UplinkError(.status(400), message: "a proxy's page"),
            UplinkError(.status(302), message: "redirect"), UplinkError(.status(502), message: "bad gateway"),
            UplinkError(.invalidResponse, message: "html"), UplinkError(.mismatchedAnswer, message: "wrong ids"),
            UplinkError(.transport, message: "reset"),
        ]
        for error in answers {
            for size in [8, 1] {
                let action = planner.failed(error, for: batch(size), unit: 0.5)
                #expect(action.outcomes.isEmpty, "\(error.message) must keep the events")
                if case .wait = action.next {} else { Issue.record("\(error.message) must back off, got \(action.next)") }
            }
        }
    }

    @Test func aProxysTooLargeSplitsTheBatchButNeverRejects() {
        var planner = DeliveryPlanner(policy: policy, maximumBatch: 8)
        let tooLarge = UplinkError(.status(413), message: "413 Request Entity Too Large (nginx)")
        #expect(planner.failed(tooLarge, for: batch(8), unit: 0.5) == .init(outcomes: [], next: .sendNow))
        #expect(planner.batchLimit == 4)
        let alone = planner.failed(tooLarge, for: batch(1), unit: 0.5)
        #expect(alone.outcomes.isEmpty)
        #expect(alone.next == .wait(.seconds(1)))
    }

    @Test func theFaultTrackerActsOncePerChangeOfFault() {
        var tracker = PlatformFaultTracker(lane: .normal)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(tracker.answered() == nil, "nothing to clear while healthy")
        let notFound = UplinkError(.status(404), message: "POST http://p/wrong/v1/stations/S/events answered 404 Not Found")
        guard case .record(let first) = tracker.failed(notFound, at: start) else {
            Issue.record("the first failure is recorded")
            return
        }
        #expect(first.summary == "refusing: 404 Not Found")
        #expect(first.since == start)
        #expect(tracker.failed(notFound, at: start.addingTimeInterval(5)) == nil, "the same fault again changes nothing")
        let unreachable = UplinkError(.transport, message: "connection refused")
        guard case .record(let second) = tracker.failed(unreachable, at: start.addingTimeInterval(9)) else {
            Issue.record("another kind of failure is recorded")
            return
        }
        #expect(second.summary == "unreachable")
        #expect(tracker.answered() == .clear(second))
        #expect(tracker.current == nil)
    }
}
