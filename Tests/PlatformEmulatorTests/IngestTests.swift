import Foundation
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import PlatformAPI
import Testing

@testable import PlatformEmulator

@Suite("Ingest: accepted, duplicate, atomic")
struct IngestTests {
    @Test("first delivery is accepted, the same ids again are duplicates and not stored twice")
    func acceptedThenDuplicate() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let request = ingestRequest([wireEvent(1), wireEvent(2, kind: "alarm")])
            let first = try await post(client, request)
            #expect(first.status == .ok)
            #expect(first.headers[.contentType] == "application/json")
            #expect(
                try decode(IngestResponse.self, first).results == [
                    IngestResult(id: uuid(1), status: .accepted), IngestResult(id: uuid(2), status: .accepted),
                ]
            )

            let second = try await post(client, request)
            #expect(second.status == .ok)
            #expect(
                try decode(IngestResponse.self, second).results == [
                    IngestResult(id: uuid(1), status: .duplicate), IngestResult(id: uuid(2), status: .duplicate),
                ]
            )

            let page = try await receivedPage(client)
            #expect(page.events.map(\.event.id) == [uuid(1), uuid(2)])
            #expect(page.events.map(\.receipt) == [1, 2])
        }
    }

    @Test("every delivery of an event counts in `deliveries`, also a repeat inside one batch")
    func deliveriesCount() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(1)]))
            try await post(client, ingestRequest([wireEvent(1), wireEvent(2)]))
            let repeated = try await post(client, ingestRequest([wireEvent(1), wireEvent(3), wireEvent(3)]))
            #expect(
                try decode(IngestResponse.self, repeated).results.map(\.status) == [.duplicate, .accepted, .duplicate]
            )

            let page = try await receivedPage(client)
            let deliveries = Dictionary(uniqueKeysWithValues: page.events.map { ($0.event.id, $0.deliveries) })
            #expect(deliveries == [uuid(1): 3, uuid(2): 1, uuid(3): 2])
        }
    }

    @Test("the stored event reads back exactly as it was sent")
    func roundTrip() async throws {
        let harness = try Harness()
        var event = wireEvent(7, kind: "device_offline")
        event.detail = "EIO on /dev/ttyUSB0"
        event.purpose = nil
        event.monotonicNanos = UInt64.max - 5
        let offline = event
        let tap = wireEvent(8)
        try await harness.test { client in
            try await post(client, ingestRequest(station: "kiosk-7", [offline, tap]))
            let page = try await receivedPage(client)
            #expect(page.events.map(\.event) == [offline, tap])
            #expect(page.events.allSatisfy { $0.stationID == "kiosk-7" })
            #expect(page.events.allSatisfy { $0.deliveries == 1 })
        }
    }

    @Test("ids are de-duplicated regardless of letter case")
    func caseInsensitiveIDs() async throws {
        let harness = try Harness()
        var upper = wireEvent(1)
        upper.id = "ABCDEF01-2345-4678-89AB-CDEF01234567"
        var lower = upper
        lower.id = upper.id.lowercased()
        let first = upper
        let second = lower
        try await harness.test { client in
            try await post(client, ingestRequest([first]))
            let again = try await post(client, ingestRequest([second]))
            #expect(try decode(IngestResponse.self, again).results == [IngestResult(id: second.id, status: .duplicate)])
        }
    }

    @Test("an id already used by a different event is rejected with a reason, and not counted as a delivery")
    func conflictingIDIsRejected() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(1)]))
            let other = wireEvent(1, seq: 99)
            let response = try await post(client, ingestRequest([other]))
            #expect(response.status == .ok)
            let result = try #require(try decode(IngestResponse.self, response).results.first)
            #expect(result.status == .rejected)
            #expect(result.reason?.contains("seq 1") == true)
            let page = try await receivedPage(client)
            #expect(page.events.map(\.deliveries) == [1])
            #expect(page.events.map(\.event.seq) == [1])
            #expect(try await stats(client).rejected == 1)
        }
    }

    @Test("a batch with one invalid event stores nothing of it")
    func invalidEventStoresNothing() async throws {
        let harness = try Harness()
        let events = [wireEvent(1), wireEvent(2), wireEvent(3), wireEvent(4, seq: 0)]
        try await harness.test { client in
            let response = try await post(client, ingestRequest(events))
            #expect(response.status == .badRequest)
            #expect(try decode(ErrorBody.self, response).detail.hasPrefix("events[3].seq:"))
            #expect(try await receivedPage(client).events.isEmpty)
            #expect(try await stats(client).accepted == 0)
        }
    }

    @Test("a batch is one transaction: a database failure on its last event rolls back the others")
    func storeTransactionIsAtomic() throws {
        let store = try EmulatorStore(path: nil)
        // seq 0 passes no validation here and trips the schema's CHECK constraint on the fourth row.
        let events = [wireEvent(1), wireEvent(2), wireEvent(3), wireEvent(4, seq: 0)]
        #expect(throws: (any Error).self) {
            try store.storeUnvalidated(events, stationID: "station-1")
        }
        #expect(try store.received(station: nil, after: 0, limit: 100).events.isEmpty)
        #expect(try store.stats() == EmulatorStats(accepted: 0, duplicates: 0, rejected: 0, batches: 0, badRequests: 0))

        let results = try store.storeUnvalidated(Array(events.prefix(3)), stationID: "station-1")
        #expect(results.map(\.status) == [.accepted, .accepted, .accepted])
    }

    @Test("each stored batch is logged with station, count, accepted and duplicates")
    func batchIsLogged() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await post(client, ingestRequest(station: "station-9", [wireEvent(1)]))
            try await post(client, ingestRequest(station: "station-9", [wireEvent(1), wireEvent(2), wireEvent(3)]))
        }
        let batches = harness.logs.entries.filter { $0.message == "stored ingest batch" }
        #expect(batches.count == 2)
        let last = try #require(batches.last)
        #expect(last.level == .info)
        #expect(last.metadata["station"] == "station-9")
        #expect(last.metadata["count"] == "3")
        #expect(last.metadata["accepted"] == "2")
        #expect(last.metadata["duplicates"] == "1")
    }

    @Test("without a configured token, requests need no Authorization header")
    func noTokenConfigured() async throws {
        let harness = try Harness(token: nil)
        try await harness.test { client in
            let response = try await post(client, ingestRequest([wireEvent(1)]))
            #expect(response.status == .ok)
        }
    }

    @Test("with a token configured, only `Bearer <token>` is let in", arguments: [
        ("Bearer s3cret", true), ("bearer s3cret", true), ("Bearer wrong", false), ("Bearer s3cre", false),
        ("Basic czNjcmV0", false), ("s3cret", false), ("", false),
    ])
    func tokenRequired(header: String, allowed: Bool) async throws {
        let harness = try Harness(token: "s3cret")
        var headers = jsonHeaders
        if !header.isEmpty {
            headers[.authorization] = header
        }
        let sent = headers
        try await harness.test { client in
            let response = try await post(client, ingestRequest([wireEvent(1)]), headers: sent)
            if allowed {
                #expect(response.status == .ok)
            } else {
                #expect(response.status == .unauthorized)
                let body = try decode(ErrorBody.self, response)
                #expect(body.error == "unauthorized")
                #expect(body.detail.contains("Authorization") || body.detail.contains("bearer token"))
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(try await receivedPage(client).events.isEmpty)
            }
        }
    }

    @Test("the read API needs no token, so tests can look at what arrived")
    func readAPIOpenWithToken() async throws {
        let harness = try Harness(token: "s3cret")
        try await harness.test { client in
            let response = try await post(client, ingestRequest([wireEvent(1)]), headers: bearer("s3cret"))
            #expect(response.status == .ok)
            #expect(try await receivedPage(client).events.count == 1)
        }
    }
}
