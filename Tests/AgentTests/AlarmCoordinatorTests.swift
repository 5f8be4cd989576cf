import Agent
import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import PlatformAPI
import Testing

@Suite struct AlarmCoordinatorTests {
    let logger = Logger(label: "test.alarms")

    func command(_ id: Int64, _ type: StationCommandType, _ eventID: String) -> StationCommand {
        StationCommand(id: id, type: type, eventId: eventID, operatorName: "op-7", issuedAt: Timestamp.format(Date()))
    }

    @Test func anAlarmIsStoredLatchedAndWalksThroughEveryStage() async throws {
        let store = try EventStore.inMemory()
        let coordinator = AlarmCoordinator(store: store, logger: logger)
        var shown = await coordinator.indications(for: "button-1").makeAsyncIterator()
        #expect(await shown.next() == .idle)

        let alarm = try #require(await coordinator.raise(device: "button-1", purpose: "one-key-alarm", detail: nil))
        #expect(alarm.kind == .alarm && alarm.lane == .alarm)
        #expect(await shown.next() == .stored)
        await coordinator.sending([alarm])
        #expect(await shown.next() == .sent)
        await coordinator.acknowledged([alarm])
        #expect(await shown.next() == .received)
        try await coordinator.apply(command(1, .alarmAcknowledged, alarm.id))
        #expect(await shown.next() == .acknowledged)
        try await coordinator.apply(command(2, .alarmDispatched, alarm.id))
        #expect(await shown.next() == .dispatched)
        #expect(try await store.alarmLatches.latch(alarm.id)?.stage == .dispatched)

        try await coordinator.apply(command(3, .alarmReset, alarm.id))
        #expect(await shown.next() == .idle)
        #expect(try await store.alarmLatches.all().isEmpty)
        let reset = try await store.events().map(\.event).last
        #expect(reset?.kind == .alarmReset)
        #expect(reset?.event.related == alarm.id)
        #expect(reset?.lane == .alarm)
    }

    /// An alarm the platform rejects shows `fault` at its device (it did not get through) until
    /// the platform accepts it on a later attempt.
    @Test func aRejectedAlarmShowsFaultUntilThePlatformAcceptsIt() async throws {
        let store = try EventStore.inMemory()
        let coordinator = AlarmCoordinator(store: store, logger: logger)
        let alarm = try #require(await coordinator.raise(device: "box-1", purpose: "one-key-alarm", detail: nil))
        await coordinator.sending([alarm])
        #expect(await coordinator.indication(for: "box-1") == .sent)
        await coordinator.refused([alarm])
        #expect(await coordinator.indication(for: "box-1") == .fault)
        #expect(await coordinator.hasAlarm(on: "box-1"), "still latched")
        await coordinator.acknowledged([alarm])
        #expect(await coordinator.indication(for: "box-1") == .received)
    }

    @Test func stagesNeverGoBackwards() async throws {
        let store = try EventStore.inMemory()
        let coordinator = AlarmCoordinator(store: store, logger: logger)
        let alarm = try #require(await coordinator.raise(device: "box-1", purpose: "one-key-alarm", detail: nil))
        try await coordinator.apply(command(1, .alarmAcknowledged, alarm.id))
        await coordinator.sending([alarm])  // a resend after the operator already took it
        #expect(await coordinator.indication(for: "box-1") == .acknowledged)
    }

    @Test func aLatchedAlarmSurvivesARestartWithItsStage() async throws {
        let directory = NSTemporaryDirectory() + "alarms-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let alarmID: String
        do {
            let store = try EventStore.open(directory: directory)
            let coordinator = AlarmCoordinator(store: store, logger: logger)
            let alarm = try #require(await coordinator.raise(device: "box-1", purpose: "one-key-alarm", detail: nil))
            try await coordinator.apply(command(1, .alarmAcknowledged, alarm.id))
            alarmID = alarm.id
        }
        let store = try EventStore.open(directory: directory)
        let restarted = AlarmCoordinator(store: store, logger: logger)
        try await restarted.restore()
        #expect(await restarted.latchedAlarms().map(\.eventID) == [alarmID])
        #expect(await restarted.indication(for: "box-1") == .acknowledged)
    }

    @Test func anAlarmIsLatchedInTheCommitThatStoresIt() async throws {
        let store = try EventStore.inMemory()
        // Stored by a process that died the moment after: its latch is there all the same.
        let alarm = try await store.append(NewEvent(kind: .alarm, device: "box-1"))
        #expect(try await store.alarmLatches.latch(alarm.id)?.stage == .stored)
        let coordinator = AlarmCoordinator(store: store, logger: logger)
        try await coordinator.restore()
        #expect(await coordinator.latchedAlarms().map(\.eventID) == [alarm.id])
    }

    /// The forwarder sends an alarm the moment it is committed, so the platform's answer can
    /// come before the press's `raise` has latched it here (seen under load: the device stayed
    /// at `stored` after the platform had received the alarm). The progress is kept.
    @Test func progressThatComesBeforeTheRaiseReturnsIsKept() async throws {
        let store = try EventStore.inMemory()
        let coordinator = AlarmCoordinator(store: store, logger: logger)
        // Committed (and latched in the store), not yet latched by the coordinator.
        let alarm = try await store.alarmLatches.raise(NewEvent(kind: .alarm, device: "button-1"))
        #expect(await coordinator.indication(for: "button-1") == .idle)
        await coordinator.sending([alarm])
        await coordinator.acknowledged([alarm])
        #expect(await coordinator.indication(for: "button-1") == .received)
        #expect(try await store.alarmLatches.latch(alarm.id)?.stage == .received)
        try await coordinator.apply(command(1, .alarmAcknowledged, alarm.id))
        #expect(await coordinator.indication(for: "button-1") == .acknowledged)
    }

    /// An alarm reset at the device is not brought back by a late acknowledgement of it.
    @Test func aLateAcknowledgementDoesNotBringBackAResetAlarm() async throws {
        let store = try EventStore.inMemory()
        let coordinator = AlarmCoordinator(store: store, logger: logger)
        let alarm = try #require(await coordinator.raise(device: "box-1", purpose: "p", detail: nil))
        await coordinator.resetAtDevice("box-1")
        await coordinator.acknowledged([alarm])
        #expect(await coordinator.indication(for: "box-1") == .idle)
        #expect(await !coordinator.hasAlarm(on: "box-1"))
    }

    @Test func aKeySwitchResetsEveryAlarmOfThatDeviceOnly() async throws {
        let store = try EventStore.inMemory()
        let coordinator = AlarmCoordinator(store: store, logger: logger)
        let first = try #require(await coordinator.raise(device: "box-1", purpose: "p", detail: nil))
        let second = try #require(await coordinator.raise(device: "box-1", purpose: "p", detail: nil))
        let other = try #require(await coordinator.raise(device: "box-2", purpose: "p", detail: nil))
        let resets = try await coordinator.resetAtDevice("box-1")
        #expect(Set(resets.compactMap(\.event.related)) == [first.id, second.id])
        #expect(await coordinator.latchedAlarms().map(\.eventID) == [other.id])
        #expect(await coordinator.indication(for: "box-1") == .idle)
        #expect(await coordinator.indication(for: "box-2") == .stored)
    }

    @Test func aFaultyDeviceShowsFaultUntilItRecovers() async throws {
        let coordinator = AlarmCoordinator(store: try EventStore.inMemory(), logger: logger)
        await coordinator.setFault("box-1", true)
        #expect(await coordinator.indication(for: "box-1") == .fault)
        await coordinator.setFault("box-1", false)
        #expect(await coordinator.indication(for: "box-1") == .idle)
    }

    @Test func retentionNeverPrunesAlarms() async throws {
        let store = try EventStore.inMemory()
        let coordinator = AlarmCoordinator(store: store, logger: logger)
        let alarm = try #require(await coordinator.raise(device: "box-1", purpose: "p", detail: nil))
        let tap = try await store.append(tap("0102030405"))
        let old = Date().addingTimeInterval(-86_400 * 30)
        try await store.markDelivered([DeliveryOutcome(seq: alarm.seq, status: .accepted), DeliveryOutcome(seq: tap.seq, status: .accepted)], at: old)
        #expect(try await store.prune(deliveredBefore: Date()) == 1)
        #expect(try await store.events().map(\.event.id) == [alarm.id])
    }

    @Test func theTestMarkerTagsAlarmsWhileArmed() async throws {
        let directory = NSTemporaryDirectory() + "alarms-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory)
        let coordinator = AlarmCoordinator(store: store, logger: logger)
        let marker = TestAlarmMarker(stateDirectory: directory)
        try marker.arm(for: .seconds(60))
        let test = try #require(await coordinator.raise(device: "box-1", purpose: "p", detail: "pressed"))
        marker.disarm()
        let real = try #require(await coordinator.raise(device: "box-1", purpose: "p", detail: "pressed"))
        #expect(test.event.detail?.hasPrefix("TEST") == true)
        #expect(real.event.detail == "pressed")
    }
}
