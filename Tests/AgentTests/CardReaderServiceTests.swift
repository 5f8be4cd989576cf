import Agent
import Clocks
import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import SerialTransport
import StationConfig
import Synchronization
import TestSupport
import Testing
import Uplink

/// Hands out scripted fake ports in order; when they run out, the device is "not plugged in".
final class ScriptedPorts: SerialPortProvider {
    private let ports: Mutex<[FakeSerialPort]>
    private let opens = Mutex(0)

    init(_ ports: [FakeSerialPort]) {
        self.ports = Mutex(ports)
    }

    var openCount: Int { opens.withLock { $0 } }

    func open(_ port: PortSpec, settings: SerialSettings) throws -> any SerialPort {
        opens.withLock { $0 += 1 }
        guard let next = ports.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else {
            throw SerialError(
                code: .notFound, path: "\(port)", operation: "open", message: "no such device", hint: "plug it in")
        }
        return next
    }
}

@Suite struct CardReaderServiceTests {
    let device = CardReaderDevice(
        name: "reader-1", purpose: "check-in", profile: .rdm6300, port: .path("/dev/fake"),
        settings: SerialSettings(baud: 9600), dedupWindow: .seconds(2),
        reopen: RetryPolicy(initial: .seconds(1), maximum: .seconds(1), jitter: 0))

    func frame(_ uid: String) throws -> [UInt8] { try ReaderProfile.rdm6300.encode(uid: uid) }

    @Test func aHeldCardIsOneTapAndAnUnplugIsReportedAndRecovered() async throws {
        let store = try EventStore.inMemory()
        let held = try frame("1A002F4B6C")
        // A card held on the reader (repeats), a second card, bytes split across reads, garbage,
        // then the cable is pulled.
        let second = try frame("62E3086CED")
        let first = FakeSerialPort(
            name: "/dev/fake", chunks: [held, held, held + held, [0x55, 0xAA], Array(second[0..<5]), Array(second[5...])],
            hangUpWhenDrained: true)
        let afterReplug = FakeSerialPort(name: "/dev/fake", chunks: [try frame("0F00000001")])
        let ports = ScriptedPorts([first, afterReplug])
        let clock = TestClock()
        let service = CardReaderService(device: device, intake: EventIntake(store: store, logger: Logger(label: "test")), ports: ports, cardIDs: .raw, clock: clock, logger: Logger(label: "test"))

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            #expect(await eventually { try await store.events().contains(where: { $0.event.kind == .deviceOffline }) })
            #expect(await eventually {
                await clock.advance(by: .seconds(1))
                return try await store.events().contains(where: { $0.event.event.card?.uid == "0F00000001" })
            })
            group.cancelAll()
        }
        let events = try await store.events().map(\.event)
        #expect(events.map(\.kind) == [.cardTap, .cardTap, .deviceOffline, .deviceOnline, .cardTap])
        #expect(events.compactMap(\.event.card?.uid) == ["1A002F4B6C", "62E3086CED", "0F00000001"])
        #expect(events.allSatisfy { $0.event.device == "reader-1" })
        #expect(events[0].event.purpose == "check-in")
        #expect(try await store.summary().devices.first?.state == .online)
    }

    @Test func aReaderMissingAtStartIsReportedOfflineOnceAndPickedUpWhenItAppears() async throws {
        let store = try EventStore.inMemory()
        let ports = ScriptedPorts([])
        let clock = TestClock()
        let service = CardReaderService(device: device, intake: EventIntake(store: store, logger: Logger(label: "test")), ports: ports, cardIDs: .raw, clock: clock, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            #expect(await eventually { ports.openCount == 1 })
            for attempt in 2...4 {
                #expect(await eventually {
                    await clock.advance(by: .seconds(1))
                    return ports.openCount >= attempt
                })
            }
            group.cancelAll()
        }
        let kinds = try await store.events().map(\.event.kind)
        #expect(kinds == [.deviceOffline], "one offline report, not one per retry")
        let status = try await store.summary().devices.first
        #expect(status?.state == .offline)
        #expect(status?.detail?.contains("/dev/fake") == true)
    }
}
