import DeviceProtocols
import Testing

/// The box side: power-on, event queue, retransmission forever, link fault, host commands.
@Suite("Alarm box device (box side)")
struct AlarmBoxDeviceTests {
    static let firmware = AlarmBoxFirmwareVersion(major: 1, minor: 2)

    /// A box powered on at t = 0 whose HELLO the host acknowledged at 1 ms.
    func runningBox(_ configuration: AlarmBoxDevice.Configuration = .init(firmwareVersion: firmware)) throws -> AlarmBoxDevice {
        var box = AlarmBoxDevice(configuration: configuration, poweredOnAt: .zero)
        let hello = try #require(alarmBoxWrittenFrames(box.tick(now: .zero)).first)
        #expect(hello.messageType == .hello)
        #expect(box.received(alarmBoxAck(for: hello), now: .milliseconds(1)).isEmpty)
        #expect(box.isHelloAcknowledged)
        return box
    }

    @Test("power-on: the HELLO is due at once and is the documented frame")
    func powerOn() {
        var box = AlarmBoxDevice(configuration: .init(firmwareVersion: Self.firmware), poweredOnAt: .zero)
        #expect(box.nextDeadline == .zero)
        #expect(box.displayedIndication == .idle)
        let outputs = box.tick(now: .zero)
        #expect(outputs == [.write(alarmBoxHex("7E 10 00 0A 01 00 00 01 02 0A 00 00 00 00 26 4F 7E"))])
        #expect(box.nextDeadline == .milliseconds(250))
        #expect(!box.isHelloAcknowledged)
        #expect(box.received(alarmBoxHex("7E 01 00 02 10 00 D6 4E 7E"), now: .milliseconds(2)).isEmpty)
        #expect(box.isHelloAcknowledged)
        #expect(box.nextDeadline == .seconds(10), "next: the first heartbeat")
    }

    @Test("a press latches, shows `stored` at once and waits behind an unacknowledged HELLO")
    func pressBehindHello() throws {
        var box = AlarmBoxDevice(poweredOnAt: .zero)
        let hello = try #require(alarmBoxWrittenFrames(box.tick(now: .zero)).first)
        let press = box.press(now: .milliseconds(100))
        #expect(press == [.displayChanged(.stored)], "nothing written while the HELLO is in flight")
        #expect(box.latched && box.buttonDown)
        #expect(box.unacknowledgedEvents == [.pressed])
        let afterHello = box.received(alarmBoxAck(for: hello), now: .milliseconds(120))
        let pressed = try #require(alarmBoxWrittenFrames(afterHello).first)
        #expect(pressed.messageType == .pressed)
        #expect(pressed.sequence == 1)
        let status = try #require(AlarmBoxStatus(encoded: pressed.payload))
        #expect(status.latched && status.buttonDown && status.indication == .stored)
        #expect(box.received(alarmBoxAck(for: pressed), now: .milliseconds(130)) == [.acknowledged(.pressed)])
        #expect(box.unacknowledgedEvents.isEmpty)
    }

    @Test("retransmission: 8 at 250 ms, then link fault and every second, forever, until the ACK")
    func retransmitForever() throws {
        var box = try runningBox(.init(heartbeatInterval: .seconds(1000), hostSilenceLimit: .seconds(1000)))
        let start = Duration.seconds(1)
        let pressedBytes = try #require(alarmBoxWrites(box.press(now: start)).first)
        var sent = [start]
        var faultAt: Duration?
        var time = start
        while time <= start + .seconds(60) {
            let outputs = box.tick(now: time)
            sent += alarmBoxWrites(outputs).filter { $0 == pressedBytes }.map { _ in time }
            if outputs.contains(.displayChanged(.fault)) { faultAt = time }
            time += .milliseconds(10)
        }
        let fast = (0..<8).map { start + .milliseconds(250 * $0) }
        // The 8th transmission also gets 250 ms; then link fault, and one transmission a second.
        let slow = (0...58).map { start + .seconds(2) + .seconds($0) }
        #expect(Array(sent.prefix(8)) == fast)
        #expect(Array(sent.dropFirst(8)) == slow)
        #expect(faultAt == start + .milliseconds(2000), "fault when the 8th transmission went unanswered")
        #expect(box.displayedIndication == .fault && box.indication == .stored)
        #expect(box.status(at: time).linkFault)

        let frame = try #require(alarmBoxFrames(pressedBytes).first)
        let ack = box.received(alarmBoxAck(for: frame), now: time)
        #expect(ack == [.acknowledged(.pressed), .displayChanged(.stored)])
        #expect(!box.linkFault)
    }

    @Test("commands are acknowledged and carried out once; repetitions are acknowledged, not repeated")
    func commands() throws {
        var box = try runningBox()
        let hostHello = AlarmBoxFrame.hostHello(sequence: 0)
        #expect(box.received(hostHello.encoded(), now: .seconds(1)) == [.write(alarmBoxAck(for: hostHello))])

        let indicate = alarmBoxHex("7E 91 01 01 03 00 89 7E")
        let first = box.received(indicate, now: .seconds(1))
        #expect(first == [.write(alarmBoxHex("7E 01 01 02 91 00 88 53 7E")), .executed(.indicate(.received)), .displayChanged(.received)])
        #expect(box.indication == .received)
        let again = box.received(indicate, now: .seconds(2))
        #expect(again == [.write(alarmBoxHex("7E 01 01 02 91 00 88 53 7E"))])
        #expect(box.counters.duplicates == 1)

        _ = box.press(now: .seconds(3))
        let reset = AlarmBoxFrame.command(.resetLatch, sequence: 2)
        let resetOutputs = box.received(reset.encoded(), now: .seconds(4))
        #expect(resetOutputs == [.write(alarmBoxAck(for: reset)), .executed(.resetLatch), .displayChanged(.idle)])
        #expect(!box.latched && box.indication == .idle)

        let request = AlarmBoxFrame.command(.requestStatus, sequence: 3)
        let statusOutputs = box.received(request.encoded(), now: .seconds(5))
        let frames = alarmBoxWrittenFrames(statusOutputs)
        #expect(frames.map(\.messageType) == [.ack, .heartbeat])
        #expect(AlarmBoxStatus(encoded: frames[1].payload)?.latched == false)
        #expect(statusOutputs.last == .executed(.requestStatus))
    }

    @Test("a host HELLO resets duplicate suppression: a restarted agent's seq 1 is new")
    func hostRestart() throws {
        var box = try runningBox()
        let sent = AlarmBoxFrame.command(.indicate(.sent), sequence: 1)
        let received = AlarmBoxFrame.command(.indicate(.received), sequence: 1)
        _ = box.received(AlarmBoxFrame.hostHello(sequence: 0).encoded(), now: .seconds(1))
        _ = box.received(sent.encoded(), now: .seconds(1))
        // The agent restarts: HELLO 0 again (last accepted was a command, so it is new), then seq 1.
        _ = box.received(AlarmBoxFrame.hostHello(sequence: 0).encoded(), now: .seconds(2))
        let outputs = box.received(received.encoded(), now: .seconds(2))
        #expect(outputs.contains(.executed(.indicate(.received))))
        #expect(box.counters.peerRestarts == 2)
        #expect(box.counters.duplicates == 0)
    }

    @Test("bad commands are acknowledged with their result; reserved and box types are ignored")
    func badCommands() throws {
        var box = try runningBox()
        let badCode = AlarmBoxFrame(type: 0x91, sequence: 1, payload: [0x42])
        #expect(box.received(badCode.encoded(), now: .seconds(1)) == [.write(alarmBoxAck(for: badCode, .badPayload))])
        let future = AlarmBoxFrame(type: 0xA0, sequence: 2)
        #expect(box.received(future.encoded(), now: .seconds(1)) == [.write(alarmBoxAck(for: future, .unsupportedType))])
        let version = AlarmBoxFrame.hostHello(sequence: 3, protocolVersion: 9)
        #expect(box.received(version.encoded(), now: .seconds(1)) == [.write(alarmBoxAck(for: version, .unsupportedVersion))])
        #expect(box.received(AlarmBoxFrame(type: 0x70, sequence: 1).encoded(), now: .seconds(1)).isEmpty)
        #expect(box.received(AlarmBoxFrame.event(.pressed, sequence: 1, status: AlarmBoxStatus()).encoded(), now: .seconds(1)).isEmpty)
        #expect(box.indication == .idle)
        #expect(box.counters.unsupportedFrames == 3)
        #expect(box.counters.malformedFrames == 2)
    }

    @Test("heartbeats every interval with a fresh status; stop and resume")
    func heartbeats() throws {
        var box = try runningBox(.init(heartbeatInterval: .seconds(5), hostSilenceLimit: .seconds(1000)))
        var beats: [(Duration, AlarmBoxStatus)] = []
        var time = Duration.zero
        func run(until end: Duration) {
            while time <= end {
                for frame in alarmBoxWrittenFrames(box.tick(now: time)) where frame.messageType == .heartbeat {
                    beats.append((time, AlarmBoxStatus(encoded: frame.payload)!))
                }
                time += .milliseconds(100)
            }
        }
        run(until: .seconds(16))
        #expect(beats.map(\.0) == [.seconds(5), .seconds(10), .seconds(15)])
        #expect(beats.map(\.1.uptimeSeconds) == [5, 10, 15])
        #expect(beats.allSatisfy { $0.1.heartbeatIntervalSeconds == 5 })
        box.stopHeartbeats()
        run(until: .seconds(40))
        #expect(beats.count == 3)
        box.resumeHeartbeats(now: time)
        let resumedAt = time
        run(until: resumedAt + .seconds(6))
        #expect(beats.count == 4)
        #expect(beats.last?.0 == resumedAt + .seconds(5))
    }

    @Test("no frame from the host for the silence limit is a link fault; any valid frame clears it")
    func hostSilence() throws {
        var box = try runningBox()
        var faultAt: Duration?
        var time = Duration.zero
        while time < .seconds(40), faultAt == nil {
            if box.tick(now: time).contains(.displayChanged(.fault)) { faultAt = time }
            time += .milliseconds(100)
        }
        // The host's last frame (the HELLO's ACK) came at 1 ms: the first tick at or after 30.001 s.
        #expect(faultAt == .seconds(30) + .milliseconds(100))
        #expect(box.displayedIndication == .fault)
        let cleared = box.received(AlarmBoxFrame.ack(type: 0x40, sequence: 1).encoded(), now: time)
        #expect(cleared == [.displayChanged(.idle)])
        #expect(box.counters.unexpectedAcks == 0, "heartbeat ACKs are liveness, not unexpected")
    }

    @Test("an echo of the box's own frames (RS-485) neither acknowledges them nor clears a link fault")
    func echoIsNotTheHost() throws {
        var box = try runningBox()
        let pressedBytes = try #require(alarmBoxWrites(box.press(now: .seconds(1))).first)
        var time = Duration.seconds(1)
        var echoed: [UInt8] = []
        while !box.linkFault {
            time += .milliseconds(50)
            echoed += alarmBoxWrites(box.tick(now: time)).flatMap { $0 }
        }
        #expect(box.received(pressedBytes + echoed, now: time).isEmpty)
        #expect(box.linkFault && box.unacknowledgedEvents == [.pressed])
    }

    @Test("inputs report changes only; release only after a press; every press is reported")
    func inputsReportChanges() throws {
        var box = try runningBox()
        _ = box.release(now: .seconds(1))
        _ = box.setTamper(open: false, now: .seconds(1))
        _ = box.setLowBattery(false, now: .seconds(1))
        _ = box.setOnBattery(false, now: .seconds(1))
        #expect(box.unacknowledgedEvents.isEmpty)
        _ = box.press(now: .seconds(2))
        _ = box.release(now: .seconds(2))
        _ = box.press(now: .seconds(3))
        _ = box.setTamper(open: true, now: .seconds(4))
        _ = box.setTamper(open: true, now: .seconds(4))
        _ = box.setLowBattery(true, now: .seconds(5))
        _ = box.setOnBattery(true, now: .seconds(6))
        _ = box.setOnBattery(false, now: .seconds(7))
        _ = box.setLowBattery(false, now: .seconds(8))
        _ = box.setTamper(open: false, now: .seconds(9))
        _ = box.keySwitchReset(now: .seconds(10))
        #expect(box.unacknowledgedEvents == [
            .pressed, .released, .pressed, .tamperOpened, .lowBattery, .powerLost, .powerRestored, .batteryOK, .tamperClosed,
            .keySwitchReset,
        ])
        #expect(!box.latched && box.indication == .idle && box.buttonDown)
    }

    @Test("a full queue drops the oldest droppable event, never a press or a reset")
    func queueOverflow() throws {
        var box = try runningBox(.init(eventQueueCapacity: 3))
        _ = box.press(now: .seconds(1))  // in flight
        _ = box.setTamper(open: true, now: .seconds(1))
        _ = box.press(now: .seconds(1))
        _ = box.setTamper(open: false, now: .seconds(1))
        #expect(box.unacknowledgedEvents == [.pressed, .tamperOpened, .pressed, .tamperClosed])
        _ = box.keySwitchReset(now: .seconds(2))  // drops tamperOpened
        #expect(box.unacknowledgedEvents == [.pressed, .pressed, .tamperClosed, .keySwitchReset])
        _ = box.press(now: .seconds(3))  // drops tamperClosed
        #expect(box.unacknowledgedEvents == [.pressed, .pressed, .keySwitchReset, .pressed])
        _ = box.setLowBattery(true, now: .seconds(4))  // nothing droppable left: the new event goes
        #expect(box.unacknowledgedEvents == [.pressed, .pressed, .keySwitchReset, .pressed])
        #expect(box.counters.queueOverflows == 3)
    }

    @Test("a latch kept in non-volatile memory survives power-on; an unacknowledged press is sent again")
    func nonVolatileLatch() throws {
        var box = AlarmBoxDevice(poweredOnAt: .seconds(100), latched: true, unacknowledgedPress: true)
        #expect(box.indication == .stored && box.latched)
        #expect(box.hasUnacknowledgedPress)
        let hello = try #require(alarmBoxWrittenFrames(box.tick(now: .seconds(100))).first)
        #expect(hello.messageType == .hello)
        #expect(AlarmBoxStatus(encoded: hello.payload.dropFirst())?.latched == true)
        let next = try #require(alarmBoxWrittenFrames(box.received(alarmBoxAck(for: hello), now: .seconds(100))).first)
        #expect(next.messageType == .pressed)
        #expect(next.sequence == 1)
    }
}
