import DeviceProtocols
import Foundation
import SerialTransport
import Synchronization
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

// The virtual alarm box over a real pseudo-terminal, talking to the host side of the protocol
// (AlarmBoxLink) driven by a TermiosSerialPort and a SerialByteStream, as the agent drives it.
// Helper names carry an `AlarmBox` prefix so they cannot collide with the target's other helpers.

/// A fresh directory for device links, removed at deinit.
final class AlarmBoxTwinDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/alarm-box-twin-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw AlarmBoxTwinFailure(what: "mkdtemp failed with errno \(errno)")
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct AlarmBoxTwinFailure: Error, CustomStringConvertible {
    let what: String
    var description: String { what }
}

/// The host: an AlarmBoxLink fed by a SerialByteStream, writing to the port, with a record of
/// everything it reported.
final class AlarmBoxTestHost: Sendable {
    struct Record: Sendable {
        var link: AlarmBoxLink
        var events: [AlarmBoxEvent] = []
        var delivered: [AlarmBoxCommand] = []
        var failed: [AlarmBoxCommand] = []
        var lineError: String?
    }

    let port: any SerialPort
    let record: Mutex<Record>
    private let origin = ContinuousClock.now

    init(path: String, link: AlarmBoxLink) throws {
        port = try SerialPortOpener.open(path: path, settings: .default115200_8N1)
        record = Mutex(Record(link: link))
    }

    private func now() -> Duration { origin.duration(to: .now) }

    /// Events other than heartbeats.
    var events: [AlarmBoxEvent] {
        record.withLock {
            $0.events.filter {
                if case .heartbeat = $0 { return false }
                return true
            }
        }
    }

    /// Heartbeat statuses (a box HELLO is reported as one too).
    var heartbeats: [AlarmBoxStatus] {
        record.withLock {
            $0.events.compactMap {
                if case .heartbeat(let status) = $0 { return status }
                return nil
            }
        }
    }

    var delivered: [AlarmBoxCommand] { record.withLock { $0.delivered } }
    var failed: [AlarmBoxCommand] { record.withLock { $0.failed } }
    var counters: AlarmBoxCounters { record.withLock { $0.link.counters } }
    var lastFrameAt: Duration? { record.withLock { $0.link.lastFrameAt } }
    var lineError: String? { record.withLock { $0.lineError } }

    func send(_ command: AlarmBoxCommand) {
        let now = now()
        perform(record.withLock { $0.link.send(command, now: now) })
    }

    private func perform(_ outputs: [AlarmBoxLink.Action]) {
        var writes: [[UInt8]] = []
        record.withLock { record in
            for output in outputs {
                switch output {
                case .write(let bytes): writes.append(bytes)
                case .event(let event): record.events.append(event)
                case .commandDelivered(let command): record.delivered.append(command)
                case .commandFailed(let command): record.failed.append(command)
                }
            }
        }
        for bytes in writes {
            do {
                try port.write(bytes)
            } catch {
                record.withLock { $0.lineError = "\(error)" }
            }
        }
    }

    /// Runs the host until the body returns (or the line is lost): the byte stream feeds the
    /// link, a ticker drives retransmissions.
    func run(_ body: @Sendable () async throws -> Void) async throws {
        let stream = SerialByteStream(port: port)
        defer { stream.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                do {
                    for try await chunk in stream.chunks {
                        let now = now()
                        perform(record.withLock { $0.link.received(chunk, now: now) })
                    }
                } catch {
                    record.withLock { $0.lineError = "\(error)" }
                }
            }
            group.addTask { [self] in
                while !Task.isCancelled {
                    guard (try? await Task.sleep(for: .milliseconds(10))) != nil else { return }
                    let now = now()
                    perform(record.withLock { $0.link.tick(now: now) })
                }
            }
            defer { group.cancelAll() }
            try await body()
        }
    }
}

/// Polls `condition` every 10 ms for at most `timeout`; returns whether it became true.
func alarmBoxEventually(timeout: Duration = .seconds(15), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

@Suite("Virtual alarm box over a pseudo-terminal", .serialized)
struct VirtualAlarmBoxTests {
    /// Fast timing so lossy runs finish quickly; the protocol's own values are tested in DeviceProtocolsTests.
    static let quick = AlarmBoxDevice.Configuration(retransmitAfter: .milliseconds(80), slowRetransmitAfter: .milliseconds(300))

    @Test("a press reaches the host once; the indication the host sends comes back to the box")
    func pressAndIndication() async throws {
        let directory = try AlarmBoxTwinDirectory()
        let box = try VirtualAlarmBox(linkPath: directory.file("by-id/alarm-1"))
        defer { box.stop() }
        let host = try AlarmBoxTestHost(path: box.linkPath, link: AlarmBoxLink())
        try await host.run {
            #expect(await alarmBoxEventually { box.isHelloAcknowledged }, "the box's HELLO is acknowledged")
            #expect(host.heartbeats.count == 1, "the HELLO is reported as a heartbeat")
            #expect(box.currentIndication == .idle)

            box.press()
            #expect(box.currentIndication == .stored, "the box shows `stored` at once")
            #expect(await alarmBoxEventually { host.events == [.pressed] })
            #expect(await box.waitUntilAcknowledged(timeout: .seconds(30)))
            #expect(box.acknowledgedEvents == [.pressed])

            for indication in [AlarmIndication.stored, .sent, .received, .acknowledged] {
                host.send(.indicate(indication))
            }
            #expect(await box.waitForIndication(.acknowledged, timeout: .seconds(30)))
            #expect(await alarmBoxEventually { host.delivered.count == 4 })
            #expect(box.indicationHistory == [.stored, .sent, .received, .acknowledged])
            #expect(box.displayedIndication == .acknowledged)
            #expect(box.isLatched)

            box.release()
            #expect(await alarmBoxEventually { host.events == [.pressed, .released] })
            // (Duplicates are possible even here: a starved host answers late and the box repeats.)
            #expect(host.counters.crcErrors == 0 && host.counters.garbageBytes == 0)
            #expect(host.failed.isEmpty)
        }
    }

    @Test("every input is reported in order; reset, status request and key switch work both ways")
    func inputsAndCommands() async throws {
        let directory = try AlarmBoxTwinDirectory()
        let box = try VirtualAlarmBox(linkPath: directory.file("alarm"), configuration: Self.quick)
        defer { box.stop() }
        let host = try AlarmBoxTestHost(path: box.linkPath, link: AlarmBoxLink(retransmitAfter: .milliseconds(100)))
        try await host.run {
            box.press()
            box.tamper(open: true)
            box.tamper(open: true)  // no change, no event
            box.lowBattery()
            box.powerLoss()
            box.powerRestored()
            box.batteryOK()
            box.tamper(open: false)
            box.keySwitchReset()
            let expected: [AlarmBoxEvent] = [
                .pressed, .tamperOpened, .lowBattery, .powerLost, .powerRestored, .batteryOK, .tamperClosed, .keySwitchReset,
            ]
            #expect(await alarmBoxEventually { host.events == expected }, "got \(host.events)")
            #expect(!box.isLatched && box.currentIndication == .idle)

            box.press()
            #expect(await alarmBoxEventually { host.events.count == expected.count + 1 })
            host.send(.resetLatch)
            #expect(await alarmBoxEventually { host.delivered == [.resetLatch] })
            #expect(!box.isLatched && box.currentIndication == .idle)

            let beats = host.heartbeats.count
            host.send(.requestStatus)
            #expect(await alarmBoxEventually { host.heartbeats.count > beats })
            let status = try #require(host.heartbeats.last)
            #expect(!status.latched && status.buttonDown && status.indication == .idle)
            #expect(box.commandHistory == [.resetLatch, .requestStatus])
        }
    }

    @Test("heartbeats arrive every interval; stopHeartbeats silences the box; resume brings them back")
    func heartbeatsAndSilence() async throws {
        let directory = try AlarmBoxTwinDirectory()
        let box = try VirtualAlarmBox(linkPath: directory.file("alarm"), heartbeatInterval: .milliseconds(200))
        defer { box.stop() }
        let host = try AlarmBoxTestHost(path: box.linkPath, link: AlarmBoxLink())
        try await host.run {
            #expect(await alarmBoxEventually { host.heartbeats.count >= 4 })
            let status = try #require(host.heartbeats.last)
            #expect(status.heartbeatIntervalSeconds == 1, "200 ms is sent as the minimum, 1 s")
            #expect(status.firmwareVersion == AlarmBoxFirmwareVersion(major: 1, minor: 0))

            box.stopHeartbeats()
            // Wait until the host has answered everything the box sent, then watch the box.
            // (Every frame the box wrote is a HELLO or heartbeat, and each gets an ACK.)
            #expect(await alarmBoxEventually { box.counters.frames == box.framesWritten })
            let written = box.framesWritten
            let heard = host.heartbeats.count
            let lastFrame = host.lastFrameAt
            try await Task.sleep(for: .seconds(1))
            #expect(box.framesWritten == written, "the box sends nothing while its heartbeats are stopped")
            #expect(host.lastFrameAt == lastFrame, "so the host's supervision sees silence")

            box.resumeHeartbeats()
            #expect(await alarmBoxEventually { host.heartbeats.count >= heard + 2 })
            #expect(box.framesWritten > written)
        }
    }

    @Test("a noisy line (drops and CRC errors): every press and release arrives exactly once, every command runs once")
    func noisyLine() async throws {
        let directory = try AlarmBoxTwinDirectory()
        let box = try VirtualAlarmBox(linkPath: directory.file("alarm"), configuration: Self.quick)
        defer { box.stop() }
        box.dropEveryNthFrame = 3
        box.corruptEveryNthFrame = 4
        let host = try AlarmBoxTestHost(path: box.linkPath, link: AlarmBoxLink(retransmitAfter: .milliseconds(100), maxAttempts: 20))
        try await host.run {
            var expected: [AlarmBoxEvent] = []
            for _ in 0..<10 {
                box.press()
                box.release()
                expected += [.pressed, .released]
                try await Task.sleep(for: .milliseconds(20))
            }
            // 14 commands: with every 3rd frame dropped and every 4th damaged, some of the box's
            // ACKs are lost for sure, so the host repeats and the box must recognise repetitions.
            let indications = AlarmIndication.allCases + AlarmIndication.allCases
            let commands = indications.map { AlarmBoxCommand.indicate($0) }
            for command in commands { host.send(command) }

            #expect(await alarmBoxEventually(timeout: .seconds(20)) { host.events.count >= expected.count && box.unacknowledgedEvents.isEmpty })
            #expect(host.events == expected)
            #expect(await alarmBoxEventually(timeout: .seconds(20)) { host.delivered.count + host.failed.count == commands.count })
            #expect(host.delivered == commands)
            #expect(box.indicationHistory == indications, "each command carried out once")
            #expect(box.framesDropped > 0 && box.framesCorrupted > 0)
            #expect(host.counters.crcErrors > 0)
            #expect(box.counters.retransmits > 0)
            #expect(host.counters.retransmits > 0, "the box's lost ACKs made the host repeat commands")
            #expect(box.counters.duplicates > 0, "and the box recognised the repetitions")
        }
    }

    @Test("a press while unplugged is shown as a fault, then delivered once after replug")
    func unplugAndReplug() async throws {
        let directory = try AlarmBoxTwinDirectory()
        let box = try VirtualAlarmBox(linkPath: directory.file("alarm"), configuration: Self.quick)
        defer { box.stop() }
        let first = try AlarmBoxTestHost(path: box.linkPath, link: AlarmBoxLink())
        try await first.run {
            #expect(await alarmBoxEventually { box.isHelloAcknowledged })
            box.device.unplug()
            #expect(await alarmBoxEventually { first.lineError != nil }, "the host sees the hang-up")
        }
        box.press()
        #expect(box.currentIndication == .stored)
        // 8 fast attempts at 80 ms go unanswered: link fault.
        #expect(await alarmBoxEventually { box.displayedIndication == .fault })
        #expect(box.status.linkFault)
        #expect(box.writeFailures > 0)

        try box.device.replug()
        let second = try AlarmBoxTestHost(path: box.linkPath, link: AlarmBoxLink())
        try await second.run {
            #expect(await alarmBoxEventually { second.events == [.pressed] })
            #expect(await box.waitUntilAcknowledged(timeout: .seconds(30)))
            #expect(await alarmBoxEventually { box.displayedIndication == .stored }, "the fault clears with the first answer")
            // The release goes after the press on the same link: once it is in, so is any
            // repeat of the press.
            box.release()
            #expect(await alarmBoxEventually { second.events.count >= 2 })
            #expect(second.events == [.pressed, .released], "the press exactly once")
        }
    }

    @Test("a restarted box says HELLO, resends an unacknowledged press, and gets its indication back")
    func restart() async throws {
        let directory = try AlarmBoxTwinDirectory()
        let box = try VirtualAlarmBox(linkPath: directory.file("alarm"), configuration: Self.quick)
        defer { box.stop() }
        let host = try AlarmBoxTestHost(path: box.linkPath, link: AlarmBoxLink())
        try await host.run {
            box.press()
            #expect(await alarmBoxEventually { host.events == [.pressed] })
            host.send(.indicate(.acknowledged))
            #expect(await box.waitForIndication(.acknowledged, timeout: .seconds(30)))

            box.restart()
            #expect(await alarmBoxEventually { host.counters.peerRestarts == 2 }, "power-on HELLO and restart HELLO")
            // The latch survived; the link restores the last indication it delivered.
            #expect(box.isLatched)
            #expect(await box.waitForIndication(.acknowledged, timeout: .seconds(30)))
            #expect(await alarmBoxEventually { host.delivered == [.indicate(.acknowledged), .indicate(.acknowledged)] })
            #expect(host.events == [.pressed], "the press was acknowledged before the restart: not sent again")
        }
    }
}
