import Foundation
import Hummingbird
import HummingbirdTesting
import PlatformAPI
import Testing

@testable import PlatformEmulator

@Suite("Read API: received, stats, health")
struct ReadAPITests {
    /// Stores events 1...5 from station-a and 6...8 from station-b, interleaved, in four batches.
    func fill(_ client: some TestClientProtocol) async throws {
        try await post(client, ingestRequest(station: "station-a", [wireEvent(1), wireEvent(2)]))
        try await post(client, ingestRequest(station: "station-b", [wireEvent(6, seq: 1), wireEvent(7, seq: 2)]))
        try await post(client, ingestRequest(station: "station-a", [wireEvent(3), wireEvent(4), wireEvent(5)]))
        try await post(client, ingestRequest(station: "station-b", [wireEvent(8, seq: 3)]))
    }

    @Test("pages follow receipt order; `next` continues where the page ended")
    func paging() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await fill(client)
            var seen: [Int64] = []
            var after: Int64 = 0
            var pages = 0
            while true {
                let page = try await receivedPage(client, query: "?after=\(after)&limit=3")
                if page.events.isEmpty {
                    #expect(page.next == after)
                    break
                }
                #expect(page.events.count <= 3)
                #expect(page.next == page.events.last?.receipt)
                seen += page.events.map(\.receipt)
                after = page.next
                pages += 1
            }
            #expect(seen == Array(1...8))
            #expect(pages == 3)

            let all = try await receivedPage(client)
            #expect(all.events.map(\.event.id) == [1, 2, 6, 7, 3, 4, 5, 8].map { uuid($0) })
        }
    }

    @Test("`station` filters, and paging works within one station")
    func stationFilter() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await fill(client)
            let stationB = try await receivedPage(client, query: "?station=station-b")
            #expect(stationB.events.map(\.event.id) == [6, 7, 8].map { uuid($0) })
            #expect(stationB.events.allSatisfy { $0.stationID == "station-b" })

            let firstA = try await receivedPage(client, query: "?station=station-a&limit=2")
            #expect(firstA.events.map(\.receipt) == [1, 2])
            let restA = try await receivedPage(client, query: "?station=station-a&after=\(firstA.next)")
            #expect(restA.events.map(\.receipt) == [5, 6, 7])

            #expect(try await receivedPage(client, query: "?station=nobody").events.isEmpty)
        }
    }

    @Test("limit defaults to 1000 and may be up to 10000")
    func limits() async throws {
        let harness = try Harness()
        try await harness.test { client in
            for batch in 0..<2 {
                let events = (1...700).map { wireEvent(batch * 700 + $0) }
                let response = try await post(client, ingestRequest(events))
                #expect(response.status == .ok)
            }
            #expect(try await receivedPage(client).events.count == 1000)
            #expect(try await receivedPage(client, query: "?limit=10000").events.count == 1400)
        }
    }

    @Test("bad paging parameters get 400 naming the parameter", arguments: [
        ("?limit=0", "limit: 0 is outside 1...10000"),
        ("?limit=10001", "limit: 10001 is outside 1...10000"),
        ("?limit=ten", "limit: \"ten\" is not an integer"),
        ("?after=-1", "after: -1 is negative"),
        ("?after=x", "after: \"x\" is not an integer"),
    ])
    func badParameters(query: String, detailPrefix: String) async throws {
        let harness = try Harness()
        try await harness.test { client in
            let response = try await client.execute(uri: PlatformAPI.receivedPath + query, method: .get)
            #expect(response.status == .badRequest)
            let detail = try decode(ErrorBody.self, response).detail
            #expect(detail.hasPrefix(detailPrefix), "detail was: \(detail)")
        }
    }

    @Test("stats count accepted, duplicate and rejected events, 200 batches and 4xx answers")
    func stats() async throws {
        let harness = try Harness(token: "t")
        try await harness.test { client in
            let auth = bearer("t")
            try await post(client, ingestRequest([wireEvent(1), wireEvent(2)]), headers: auth)
            try await post(client, ingestRequest([wireEvent(2), wireEvent(3)]), headers: auth)
            try await post(client, ingestRequest([wireEvent(3, seq: 30)]), headers: auth)
            try await post(client, ingestRequest([wireEvent(4, kind: "foo")]), headers: auth)
            try await post(client, ingestRequest([wireEvent(5)]))
            let stats = try await PlatformEmulatorTests.stats(client)
            #expect(stats == EmulatorStats(accepted: 3, duplicates: 1, rejected: 1, batches: 3, badRequests: 2))
        }
    }

    @Test("health answers {\"status\":\"ok\"}")
    func health() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let response = try await client.execute(uri: PlatformAPI.healthPath, method: .get)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
        }
    }
}
