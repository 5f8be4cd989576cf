import EventModel
import EventStore
import Foundation
import Testing

/// Each event keeps the station id it was recorded under; a batch is one station's.
@Suite struct StationIDTests {
    @Test func eventsKeepTheirStationAndABatchEndsAtTheFirstOtherStation() async throws {
        let store = try EventStore.inMemory()
        let before = try await store.append(EventStoreTests.tap("0000000001"))  // no id kept: sent as the current station
        store.stationID = "ST-OLD"
        let old = try await store.append(contentsOf: [EventStoreTests.tap("0000000002"), EventStoreTests.tap("0000000003")])
        store.stationID = "ST-NEW"
        let new = try await store.append(EventStoreTests.tap("0000000004"))
        #expect(before.stationID == nil && old.allSatisfy { $0.stationID == "ST-OLD" } && new.stationID == "ST-NEW")

        #expect(try await store.nextBatch(lane: .normal, limit: 10).map(\.seq) == [before.seq])
        #expect(try await store.nextBatch(lane: .normal, limit: 10, afterSeq: before.seq).map(\.seq) == old.map(\.seq))
        #expect(try await store.nextBatch(lane: .normal, limit: 10, afterSeq: old[1].seq).map(\.stationID) == ["ST-NEW"])
        #expect(try await store.undeliveredUnderOtherStations(current: "ST-NEW") == ["ST-OLD": 2])

        #expect(try await store.relabelUndelivered(as: "ST-NEW") == 2)
        #expect(try await store.undeliveredUnderOtherStations(current: "ST-NEW").isEmpty)
        #expect(try await store.nextBatch(lane: .normal, limit: 10, afterSeq: before.seq).map(\.seq) == old.map(\.seq) + [new.seq])
    }
}
