import Agent
import EventModel
import EventStore
import Testing

/// Where the DC-09 lane begins (`DC09Service.prepareCursor`), fixed before the devices start.
@Suite struct DC09CursorTests {
    @Test func theFirstStartBeginsAfterWhatIsStoredAndLaterStartsKeepTheCursor() async throws {
        let store = try EventStore.inMemory()
        _ = try await store.append(NewEvent(kind: .alarm, device: "box-1"))
        _ = try await store.append(NewEvent(kind: .cardTap, device: "reader-1"))
        let before = try await store.summary().lastSeq

        // First start with [sia]: earlier events went to the platform only.
        #expect(try await DC09Cursor.prepare(in: store) == before)

        // An alarm stored after that point (a device that starts right after) is ahead of the
        // cursor, so the DC-09 lane sends it.
        let alarm = try await store.append(NewEvent(kind: .alarm, device: "box-1"))
        #expect(try await DC09Cursor.prepare(in: store) == before)
        let pending = try await store.laneEvents(.alarm, afterSeq: before, limit: 20)
        #expect(pending.map(\.id) == [alarm.id])
    }
}
