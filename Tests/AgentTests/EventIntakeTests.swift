import Agent
import Clocks
import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import SerialTransport
import StationConfig
import TestSupport
import Testing
import Uplink

/// One hold-and-retry path for every device's events: a write the store refuses is held in
/// memory (alarms first, never dropped; others bounded), retried, and never ends a service.
@Suite struct EventIntakeTests {
    // MARK: The pure queue

    @Test func alarmsGoFirstAndOthersKeepTheirOrder() {
        var held = HeldWrites<String>(limit: 10)
        #expect(held.hold("tap-1", alarmLane: false) == .held)
        #expect(held.hold("alarm-1", alarmLane: true) == .held)
        #expect(held.hold("tap-2", alarmLane: false) == .held)
        #expect(held.hold("alarm-2", alarmLane: true) == .held)
        var order: [String] = []
        while let next = held.next {
            order.append(next.write)
            held.removeStored(next.number)
        }
        #expect(order == ["alarm-1", "alarm-2", "tap-1", "tap-2"])
        #expect(held.isEmpty)
    }

    @Test func theBoundDropsTheOldestTapAndNeverAnAlarm() {
        var held = HeldWrites<String>(limit: 2)
        for index in 0..<5 { _ = held.hold("alarm-\(index)", alarmLane: true) }
        #expect(held.hold("tap-0", alarmLane: false) == .held)
        #expect(held.hold("tap-1", alarmLane: false) == .held)
        #expect(held.hold("tap-2", alarmLane: false) == .heldDroppingOldest)
        #expect(held.droppedCount == 1)
        #expect(held.alarmCount == 5)
        #expect(held.count == 7)
        var taps: [String] = []
        while let next = held.next {
            if !next.write.hasPrefix("alarm") { taps.append(next.write) }
            held.removeStored(next.number)
        }
        #expect(taps == ["tap-1", "tap-2"])
    }

    @Test func anAlarmHeldWhileAnotherWriteIsInFlightIsNotForgotten() throws {
        var held = HeldWrites<String>(limit: 10)
        _ = held.hold("tap-1", alarmLane: false)
        let inFlight = try #require(held.next)
        _ = held.hold("alarm-1", alarmLane: true)  // arrives while tap-1 is being written
        held.removeStored(inFlight.number)
        #expect(held.next?.write == "alarm-1")
        #expect(held.count == 1)
    }

    // MARK: Against a store that refuses writes

    /// A file store capped at its current size and filled with alarms: every write fails as on
    /// a full disk, alarms too (there is nothing the budget may evict for them).
    static func refusingStore() async throws -> (EventStore, String) {
        let directory = NSTemporaryDirectory() + "intake-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try EventStore.open(directory: directory)
        try store.capPageCount(1)
        var full = false
        for index in 0..<100_000 where !full {
            do {
                _ = try await store.append(NewEvent(kind: .alarm, device: "filler", detail: String(repeating: "f", count: 200) + "\(index)"))
            } catch {
                full = true
            }
        }
        try #require(full, "the capped store fills up")
        return (store, directory)
    }

    @Test func heldWritesAreStoredAlarmsFirstOnceTheStoreTakesThemAgain() async throws {
        let (store, directory) = try await Self.refusingStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "test")
        let intake = EventIntake(store: store, logger: logger)
        let coordinator = AlarmCoordinator(store: store, intake: intake, logger: logger)

        let tap = NewEvent(kind: .cardTap, device: "reader-1", purpose: "check-in", card: CardRead(uid: "0A0B0C0D0E", format: "em4100"))
        #expect(await intake.append(tap) == nil, "the full store refuses the tap: held")
        #expect(await coordinator.raise(device: "box-1", purpose: "one-key-alarm", detail: "pressed") == nil)
        #expect(intake.heldCount == 2)
        #expect(await coordinator.indication(for: "box-1") == .fault, "the box shows truthfully that the alarm is not yet stored")
        #expect(await coordinator.latchedAlarms().isEmpty)
        #expect(await intake.retryHeld() == false, "still full")

        try store.capPageCount(1_000_000)
        #expect(await intake.retryHeld())
        #expect(intake.heldCount == 0)
        let events = try await store.events(limit: 100_000).map(\.event).filter { $0.event.device != "filler" }
        #expect(events.map(\.kind) == [.alarm, .cardTap], "the alarm goes first")
        #expect(events[0].event.occurredAt < events[1].storedAt, "each keeps the time it happened")
        #expect(await coordinator.latchedAlarms().map(\.eventID) == [events[0].id])
        #expect(await coordinator.indication(for: "box-1") == .stored)
        // A new write goes straight in again.
        #expect(await intake.append(tap) != nil)
    }

    @Test func aReaderOnARefusingStoreKeepsReadingAndItsTapsArriveLater() async throws {
        let (store, directory) = try await Self.refusingStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "test")
        let intake = EventIntake(store: store, logger: logger)
        let uids = ["1A002F4B6C", "62E3086CED", "0F00000001"]
        let port = FakeSerialPort(name: "/dev/fake", chunks: try uids.map { try ReaderProfile.rdm6300.encode(uid: $0) })
        let device = CardReaderDevice(
            name: "reader-1", purpose: "check-in", profile: .rdm6300, port: .path("/dev/fake"),
            settings: SerialSettings(baud: 9600), dedupWindow: .seconds(2),
            reopen: RetryPolicy(initial: .seconds(1), maximum: .seconds(1), jitter: 0))
        let clock = TestClock()
        let reader = CardReaderService(device: device, intake: intake, ports: ScriptedPorts([port]), cardIDs: .raw, clock: clock, logger: logger)
        let retry = IntakeRetryService(intake: intake, clock: clock, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await reader.run() }
            group.addTask { try await retry.run() }
            #expect(await eventually { intake.heldCount == 3 }, "every tap is held; the reader did not stop at the first")
            try store.capPageCount(1_000_000)
            #expect(await eventually {
                await clock.advance(by: .seconds(1))
                return try await store.events(limit: 100_000).compactMap(\.event.event.card?.uid) == uids
            }, "held taps are stored in order once the store takes writes again")
            group.cancelAll()
        }
        #expect(intake.heldCount == 0)
    }

    @Test func aButtonPressOnARefusingStoreIsHeldAndLatchedWhenStored() async throws {
        let (store, directory) = try await Self.refusingStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "test")
        let intake = EventIntake(store: store, logger: logger)
        let coordinator = AlarmCoordinator(store: store, intake: intake, logger: logger)
        let lines = FakeModemLines()
        let clock = TestClock()
        let button = AlarmButtonConfiguration(
            name: "button-1", purpose: "one-key-alarm", path: "sim:/fake/button", input: .cts, drive: .dtr, normallyClosed: false,
            debounce: .milliseconds(30), minimumPress: .milliseconds(300), pollInterval: .milliseconds(10),
            reopen: RetryPolicy(initial: .seconds(1), maximum: .seconds(1), jitter: 0))
        let service = AlarmButtonService(button: button, intake: intake, coordinator: coordinator, lines: lines, clock: clock, logger: logger)
        let retry = IntakeRetryService(intake: intake, clock: clock, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            group.addTask { try await retry.run() }
            #expect(await eventually {
                await clock.advance(by: .milliseconds(10))
                return lines.outputs[.dtr] == true
            })
            lines.set(cts: true)
            #expect(await eventually {
                await clock.advance(by: .milliseconds(10))
                return await coordinator.indication(for: "button-1") == .fault
            }, "the press is held, and the button shows it is not yet stored")
            lines.set(cts: false)
            #expect(intake.heldCount >= 1)
            try store.capPageCount(1_000_000)
            #expect(await eventually {
                await clock.advance(by: .milliseconds(100))
                return await coordinator.indication(for: "button-1") == .stored
            }, "stored and latched once the store takes writes")
            group.cancelAll()
        }
        #expect(try await store.events(limit: 100_000).filter { $0.event.kind == .alarm && $0.event.event.device == "button-1" }.count == 1)
    }
}
