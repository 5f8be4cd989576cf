import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PlatformAPI
import Testing

@testable import PlatformEmulator

func putFaults(_ client: some TestClientProtocol, _ json: String) async throws -> TestResponse {
    try await client.execute(
        uri: "/v1/control/faults", method: .put, headers: jsonHeaders, body: ByteBuffer(string: json)
    )
}

@Suite("Fault injection")
struct FaultInjectionTests {
    @Test("503 with Retry-After for `count` requests, storing nothing, then normal answers")
    func statusForCountRequests() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let set = try await putFaults(
                client, #"{"status": 503, "count": 3, "retryAfterSeconds": 2, "delayMs": 0, "acknowledgeOnly": null}"#
            )
            #expect(set.status == .ok)
            let state = try decode(FaultState.self, set)
            #expect(state.active)
            #expect(state.remaining == 3)
            #expect(state.settings == FaultSettings(status: 503, count: 3, retryAfterSeconds: 2, delayMs: 0))

            let request = ingestRequest([wireEvent(1), wireEvent(2)])
            for attempt in 1...3 {
                let response = try await post(client, request)
                #expect(response.status == .serviceUnavailable, "attempt \(attempt)")
                #expect(response.headers[.retryAfter] == "2")
                #expect(try decode(ErrorBody.self, response).error == "injected_fault")
            }
            #expect(try await receivedPage(client).events.isEmpty)

            let fourth = try await post(client, request)
            #expect(fourth.status == .ok)
            #expect(fourth.headers[.retryAfter] == nil)
            #expect(try decode(IngestResponse.self, fourth).results.map(\.status) == [.accepted, .accepted])
            #expect(try await receivedPage(client).events.map(\.deliveries) == [1, 1])

            let after = try decode(FaultState.self, try await client.execute(uri: "/v1/control/faults", method: .get))
            #expect(after == FaultState(active: false, settings: nil, remaining: nil, applied: 3))
        }
    }

    @Test("GET shows how many requests the fault still affects")
    func remainingCountsDown() async throws {
        let harness = try Harness()
        try await harness.test { client in
            _ = try await putFaults(client, #"{"status": 429, "count": 2}"#)
            let response = try await post(client, ingestRequest([wireEvent(1)]))
            #expect(response.status == .tooManyRequests)
            #expect(response.headers[.retryAfter] == nil)
            let state = try decode(FaultState.self, try await client.execute(uri: "/v1/control/faults", method: .get))
            #expect(state.active)
            #expect(state.remaining == 1)
            #expect(state.applied == 1)
        }
    }

    @Test("acknowledgeOnly stores and answers only the first k events; a resend completes the batch")
    func partialAcknowledgement() async throws {
        let harness = try Harness()
        let request = ingestRequest((1...5).map { wireEvent($0) })
        try await harness.test { client in
            #expect(try await putFaults(client, #"{"acknowledgeOnly": 2, "count": 1}"#).status == .ok)
            let partial = try await post(client, request)
            #expect(partial.status == .ok)
            #expect(
                try decode(IngestResponse.self, partial).results == [
                    IngestResult(id: uuid(1), status: .accepted), IngestResult(id: uuid(2), status: .accepted),
                ]
            )
            #expect(try await receivedPage(client).events.map(\.event.id) == [uuid(1), uuid(2)])

            let resend = try await post(client, request)
            #expect(
                try decode(IngestResponse.self, resend).results.map(\.status)
                    == [.duplicate, .duplicate, .accepted, .accepted, .accepted]
            )
            #expect(try await receivedPage(client).events.count == 5)
        }
    }

    @Test("acknowledgeOnly 0 answers 200 with no results and stores nothing")
    func acknowledgeNothing() async throws {
        let harness = try Harness()
        try await harness.test { client in
            _ = try await putFaults(client, #"{"acknowledgeOnly": 0}"#)
            let response = try await post(client, ingestRequest([wireEvent(1), wireEvent(2)]))
            #expect(response.status == .ok)
            #expect(try decode(IngestResponse.self, response).results.isEmpty)
            #expect(try await receivedPage(client).events.isEmpty)
        }
    }

    @Test("a fault without count lasts until DELETE clears it")
    func clearing() async throws {
        let harness = try Harness()
        let request = ingestRequest([wireEvent(1)])
        try await harness.test { client in
            _ = try await putFaults(client, #"{"status": 500}"#)
            for _ in 1...4 {
                #expect(try await post(client, request).status == .internalServerError)
            }
            let cleared = try await client.execute(uri: "/v1/control/faults", method: .delete)
            #expect(cleared.status == .ok)
            #expect(try decode(FaultState.self, cleared).active == false)
            #expect(try await post(client, request).status == .ok)
            #expect(try await stats(client).batches == 1)
        }
    }

    @Test("delayMs holds the answer back, after storing")
    func delay() async throws {
        let harness = try Harness()
        try await harness.test { client in
            // 1.5 s, so that a loaded machine's slow answer cannot pass for the delay.
            _ = try await putFaults(client, #"{"delayMs": 1500, "count": 1}"#)
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await post(client, ingestRequest([wireEvent(1)]))
            let elapsed = clock.now - start
            #expect(response.status == .ok)
            #expect(elapsed >= .milliseconds(1500))

            let quickStart = clock.now
            #expect(try await post(client, ingestRequest([wireEvent(2)])).status == .ok)
            #expect(clock.now - quickStart < .milliseconds(1500), "only the first answer is held back")
        }
    }

    @Test("the token is still checked while a fault is set, and a refused request does not use up the fault")
    func authBeforeFault() async throws {
        let harness = try Harness(token: "s3cret")
        try await harness.test { client in
            _ = try await putFaults(client, #"{"status": 503, "count": 1}"#)
            #expect(try await post(client, ingestRequest([wireEvent(1)])).status == .unauthorized)
            #expect(try await post(client, ingestRequest([wireEvent(1)]), headers: bearer("s3cret")).status == .serviceUnavailable)
            #expect(try await post(client, ingestRequest([wireEvent(1)]), headers: bearer("s3cret")).status == .ok)
        }
    }

    @Test("invalid fault settings get 400 naming the field", arguments: [
        (#"{"status": 200}"#, "status:"),
        (#"{"status": 503, "count": 0}"#, "count:"),
        (#"{"status": 503, "retryAfterSeconds": -1}"#, "retryAfterSeconds:"),
        (#"{"delayMs": 1000, "retryAfterSeconds": 1}"#, "retryAfterSeconds:"),
        (#"{"delayMs": 600000}"#, "delayMs:"),
        (#"{"acknowledgeOnly": -1}"#, "acknowledgeOnly:"),
        (#"{"status": 503, "acknowledgeOnly": 1}"#, "acknowledgeOnly:"),
        (#"{"count": 3}"#, "status, delayMs, acknowledgeOnly, dropConnection, answer:"),
        (#"{"status": 200, "body": "html"}"#, "status:"),
        (#"{"body": "html"}"#, "body:"),
        (#"{"answer": "wrong-ids", "status": 503}"#, "answer:"),
        (#"{"answer": "sometimes"}"#, "answer"),
        (#"{"dropConnection": "after-store", "status": 503}"#, "dropConnection:"),
        (#"{"dropConnection": "sometimes"}"#, "dropConnection"),
        (#"{"status": "503"}"#, "status: wrong type"),
        (#"{"status": 503, "count": 1.5}"#, "count: 1.5 is not an integer"),
        (#"{"status": 503"#, "request body is not valid JSON"),
    ])
    func invalidSettings(json: String, detailPrefix: String) async throws {
        let harness = try Harness()
        try await harness.test { client in
            let response = try await putFaults(client, json)
            #expect(response.status == .badRequest)
            let detail = try decode(ErrorBody.self, response).detail
            #expect(detail.hasPrefix(detailPrefix), "detail was: \(detail)")
            let state = try decode(FaultState.self, try await client.execute(uri: "/v1/control/faults", method: .get))
            #expect(state.active == false)
        }
    }

    @Test("a shaped status answers like a proxy: HTML, no body, or a redirect with a Location")
    func shapedStatuses() async throws {
        let harness = try Harness()
        try await harness.test { client in
            _ = try await putFaults(client, #"{"status": 502, "body": "html", "count": 1}"#)
            let html = try await post(client, ingestRequest([wireEvent(1)]))
            #expect(html.status == .badGateway)
            #expect(html.headers[.contentType] == "text/html")
            #expect(String(buffer: html.body).hasPrefix("<html>"))
            _ = try await putFaults(client, #"{"status": 404, "body": "empty", "count": 1}"#)
            let empty = try await post(client, ingestRequest([wireEvent(1)]))
            #expect(empty.status == .notFound)
            #expect(empty.body.readableBytes == 0)
            _ = try await putFaults(client, #"{"status": 307, "count": 1}"#)
            let redirect = try await post(client, ingestRequest([wireEvent(1)]))
            #expect(redirect.status == .temporaryRedirect)
            #expect(redirect.headers[.location]?.hasPrefix("/moved/") == true)
            #expect(try await receivedPage(client).events.isEmpty, "nothing was stored")
        }
    }

    @Test("a wrong 200: truncated, verdicts for other ids, upper-case ids, each id answered twice")
    func wrongAnswers() async throws {
        let harness = try Harness()
        try await harness.test { client in
            _ = try await putFaults(client, #"{"answer": "wrong-ids", "count": 1}"#)
            let strangers = try decode(IngestResponse.self, try await post(client, ingestRequest([wireEvent(1)])))
            #expect(!strangers.results.isEmpty)
            #expect(!strangers.results.contains { $0.id.lowercased() == wireEvent(1).id.lowercased() })
            #expect(try await receivedPage(client).events.isEmpty, "wrong-ids stores nothing")

            _ = try await putFaults(client, #"{"answer": "truncated", "count": 1}"#)
            let truncated = try await post(client, ingestRequest([wireEvent(1)]))
            #expect(truncated.status == .ok)
            #expect((try? decode(IngestResponse.self, truncated)) == nil)
            #expect(try await receivedPage(client).events.count == 1, "truncated stores the batch")

            _ = try await putFaults(client, #"{"answer": "upper-case-ids", "count": 1}"#)
            var lettered = wireEvent(2)
            lettered.id = "abcdef00-0000-4000-8000-00000000beef"
            let upper = try decode(IngestResponse.self, try await post(client, ingestRequest([lettered])))
            #expect(upper.results.map(\.id) == ["ABCDEF00-0000-4000-8000-00000000BEEF"])

            _ = try await putFaults(client, #"{"answer": "answered-twice", "count": 1}"#)
            let twice = try decode(IngestResponse.self, try await post(client, ingestRequest([wireEvent(3)])))
            #expect(twice.results.map(\.status) == [.accepted, .rejected])
        }
    }

    @Test("the injector counts down and clears itself")
    func injectorCountsDown() async throws {
        let faults = FaultInjector()
        #expect(await faults.takeForRequest() == nil)
        try await faults.set(FaultSettings(status: 503, count: 2))
        #expect(await faults.takeForRequest()?.status == 503)
        #expect(await faults.state.remaining == 1)
        #expect(await faults.takeForRequest()?.status == 503)
        #expect(await faults.takeForRequest() == nil)
        #expect(await faults.state == FaultState(active: false, settings: nil, remaining: nil, applied: 2))
    }
}
