import DeviceProtocols
import Testing

/// The host side: acknowledgements, duplicate suppression, command delivery, retransmission
/// timing with injected time, resynchronisation.
@Suite("Alarm box link (host side)")
struct AlarmBoxLinkTests {
    /// A link whose host HELLO the box has acknowledged, at t = 0; the next command gets seq 1.
    func synchronizedLink() throws -> AlarmBoxLink {
        var link = AlarmBoxLink()
        let hello = try #require(alarmBoxSingleFrame(link.send(.requestStatus, now: .zero)))
        #expect(hello.messageType == .hostHello)
        let afterHello = link.received(alarmBoxAck(for: hello), now: .milliseconds(1))
        let command = try #require(alarmBoxSingleFrame(afterHello))
        _ = link.received(alarmBoxAck(for: command), now: .milliseconds(2))
        #expect(link.isSynchronized && link.pendingCommands.isEmpty)
        return link
    }

    @Test("a box event is acknowledged with the exact documented bytes and reported once")
    func eventAcknowledged() {
        var link = AlarmBoxLink()
        let pressed = AlarmBoxFrame.event(.pressed, sequence: 5, status: alarmBoxExampleStatus)
        let outputs = link.received(pressed.encoded(), now: .seconds(1))
        #expect(outputs == [.write(alarmBoxHex("7E 01 05 02 11 00 59 3A 7E")), .event(.pressed)])
        #expect(link.lastStatus == alarmBoxExampleStatus)
        #expect(link.lastFrameAt == .seconds(1))

        // The box did not get the ACK and repeats the frame: acknowledged again, not reported.
        let repeated = link.received(pressed.encoded(), now: .seconds(1) + .milliseconds(250))
        #expect(repeated == [.write(alarmBoxHex("7E 01 05 02 11 00 59 3A 7E"))])
        #expect(link.counters.duplicates == 1)
        #expect(link.counters.frames == 2)
        #expect(link.lastFrameAt == .seconds(1) + .milliseconds(250))
    }

    @Test("each new sequence number is a new event; only a repeat of the last one is a duplicate")
    func sequenceNumbers() {
        var link = AlarmBoxLink()
        var reported: [AlarmBoxEvent] = []
        let status = AlarmBoxStatus(latched: true)
        let script: [(AlarmBoxEvent, UInt8)] = [
            (.pressed, 254), (.pressed, 254), (.released, 255), (.released, 255), (.released, 255),
            (.pressed, 0), (.keySwitchReset, 1), (.keySwitchReset, 1),
        ]
        for (index, (event, sequence)) in script.enumerated() {
            let outputs = link.received(
                AlarmBoxFrame.event(event, sequence: sequence, status: status).encoded(), now: .milliseconds(index))
            #expect(alarmBoxWrites(outputs).count == 1, "every data frame is acknowledged")
            reported += alarmBoxEvents(outputs)
        }
        #expect(reported == [.pressed, .released, .pressed, .keySwitchReset])
        #expect(link.counters.duplicates == 4)
    }

    @Test("heartbeats are acknowledged and reported every time and do not disturb duplicate suppression")
    func heartbeats() {
        var link = AlarmBoxLink()
        let status = AlarmBoxStatus(uptimeSeconds: 10)
        let pressed = AlarmBoxFrame.event(.pressed, sequence: 3, status: AlarmBoxStatus(latched: true))
        var events: [AlarmBoxEvent] = []
        events += alarmBoxEvents(link.received(pressed.encoded(), now: .zero))
        let heartbeat = AlarmBoxFrame.event(.heartbeat(status), sequence: 3, status: status)
        let first = link.received(heartbeat.encoded(), now: .seconds(10))
        #expect(first == [.write(alarmBoxAck(for: heartbeat)), .event(.heartbeat(status))])
        events += alarmBoxEvents(first)
        events += alarmBoxEvents(link.received(heartbeat.encoded(), now: .seconds(20)))
        events += alarmBoxEvents(link.received(pressed.encoded(), now: .seconds(21)))
        #expect(events == [.pressed, .heartbeat(status), .heartbeat(status)])
        #expect(link.counters.duplicates == 1)
    }

    @Test("the first command is preceded by a host HELLO (exact bytes); the command follows its ACK")
    func helloThenCommand() throws {
        var link = AlarmBoxLink()
        let first = link.send(.indicate(.received), now: .zero)
        #expect(first == [.write(alarmBoxHex("7E 90 00 01 01 61 4F 7E"))])
        #expect(link.pendingCommands == [.indicate(.received)])
        #expect(!link.isSynchronized)

        let afterHello = link.received(alarmBoxHex("7E 01 00 02 90 00 CD D6 7E"), now: .milliseconds(3))
        #expect(afterHello == [.write(alarmBoxHex("7E 91 01 01 03 00 89 7E"))])
        #expect(link.isSynchronized)

        let delivered = link.received(alarmBoxHex("7E 01 01 02 91 00 88 53 7E"), now: .milliseconds(5))
        #expect(delivered == [.commandDelivered(.indicate(.received))])
        #expect(link.lastDeliveredIndication == .received)
        #expect(link.nextDeadline == nil)
        #expect(link.pendingCommands.isEmpty)
    }

    @Test("retransmission every 250 ms, 8 transmissions in all, then the command fails at 2 s")
    func retransmissionTiming() throws {
        var link = try synchronizedLink()
        let start = Duration.seconds(5)
        let first = link.send(.indicate(.dispatched), now: start)
        let frameBytes = try #require(alarmBoxWrites(first).first)
        var transmissions = [start]
        var failedAt: Duration?
        var step = start
        while step <= start + .seconds(3) {
            let outputs = link.tick(now: step)
            for bytes in alarmBoxWrites(outputs) {
                if bytes == frameBytes { transmissions.append(step) }
            }
            if outputs.contains(.commandFailed(.indicate(.dispatched))) { failedAt = step }
            step += .milliseconds(1)
        }
        #expect(transmissions == (0..<8).map { start + .milliseconds(250 * $0) })
        #expect(failedAt == start + .milliseconds(2000))
        #expect(link.counters.retransmits == 7)
        #expect(!link.isSynchronized, "a frame given up means the next command starts with a HELLO")
    }

    @Test("nextDeadline tells exactly when tick has work")
    func nextDeadline() throws {
        var link = try synchronizedLink()
        #expect(link.nextDeadline == nil)
        _ = link.send(.resetLatch, now: .seconds(1))
        #expect(link.nextDeadline == .seconds(1) + .milliseconds(250))
        #expect(link.tick(now: .seconds(1) + .milliseconds(249)).isEmpty)
        #expect(alarmBoxWrites(link.tick(now: .seconds(1) + .milliseconds(260))).count == 1)
        #expect(link.nextDeadline == .seconds(1) + .milliseconds(510), "measured from the late tick")
    }

    @Test("after a command is given up the link resynchronises with a HELLO before the next one")
    func resyncAfterFailure() throws {
        var link = try synchronizedLink()
        _ = link.send(.indicate(.sent), now: .zero)
        _ = link.send(.indicate(.received), now: .zero)
        var outputs: [AlarmBoxLink.Action] = []
        for tick in 1...8 { outputs = link.tick(now: .milliseconds(250 * tick)) }
        #expect(alarmBoxNonWrites(outputs) == [.commandFailed(.indicate(.sent))])
        let hello = try #require(alarmBoxFrames(alarmBoxWrites(outputs).last ?? []).first)
        #expect(hello.messageType == .hostHello)
        #expect(hello.sequence == 3, "HELLO 0, command 1, command 2 given up, HELLO 3")
        let next = try #require(alarmBoxSingleFrame(link.received(alarmBoxAck(for: hello), now: .seconds(3))))
        #expect(next == .command(.indicate(.received), sequence: 4))
    }

    @Test("a HELLO that is never answered fails every queued command")
    func helloFailureFailsQueue() {
        var link = AlarmBoxLink(retransmitAfter: .milliseconds(100), maxAttempts: 3)
        _ = link.send(.indicate(.stored), now: .zero)
        _ = link.send(.resetLatch, now: .zero)
        var failures: [AlarmBoxLink.Action] = []
        var writes = 1
        for tick in 1...10 {
            let outputs = link.tick(now: .milliseconds(100 * tick))
            writes += alarmBoxWrites(outputs).count
            failures += alarmBoxNonWrites(outputs)
        }
        #expect(writes == 3)
        #expect(failures == [.commandFailed(.indicate(.stored)), .commandFailed(.resetLatch)])
        #expect(link.pendingCommands.isEmpty && link.nextDeadline == nil)
    }

    @Test("ACKs with the wrong sequence number or type are ignored; retransmission goes on")
    func mismatchedAcks() throws {
        var link = try synchronizedLink()
        let frame = try #require(alarmBoxSingleFrame(link.send(.resetLatch, now: .zero)))
        #expect(link.received(AlarmBoxFrame.ack(type: frame.type, sequence: frame.sequence &+ 1).encoded(), now: .milliseconds(1)).isEmpty)
        #expect(link.received(AlarmBoxFrame.ack(type: 0x91, sequence: frame.sequence).encoded(), now: .milliseconds(2)).isEmpty)
        #expect(link.counters.unexpectedAcks == 2)
        #expect(link.pendingCommands == [.resetLatch])
        #expect(alarmBoxWrites(link.tick(now: .milliseconds(250))) == [frame.encoded()])
        #expect(link.received(alarmBoxAck(for: frame), now: .milliseconds(260)) == [.commandDelivered(.resetLatch)])
        // A late second ACK of the same frame is unexpected, not a second delivery.
        #expect(link.received(alarmBoxAck(for: frame), now: .milliseconds(270)).isEmpty)
        #expect(link.counters.unexpectedAcks == 3)
    }

    @Test("a command the box rejects fails at once, without retries")
    func rejectedCommand() throws {
        var link = try synchronizedLink()
        let frame = try #require(alarmBoxSingleFrame(link.send(.indicate(.fault), now: .zero)))
        let outputs = link.received(alarmBoxAck(for: frame, .badPayload), now: .milliseconds(1))
        #expect(outputs == [.commandFailed(.indicate(.fault))])
        #expect(link.counters.rejectedByPeer == 1)
        #expect(link.nextDeadline == nil)
        #expect(link.lastDeliveredIndication == nil)
    }

    @Test("queued commands go one at a time, in order")
    func queueInOrder() throws {
        var link = try synchronizedLink()
        let commands: [AlarmBoxCommand] = [.indicate(.stored), .indicate(.sent), .resetLatch, .requestStatus]
        var written = commands.flatMap { alarmBoxWrites(link.send($0, now: .zero)) }
        #expect(written.count == 1, "one frame in flight")
        var delivered: [AlarmBoxLink.Action] = []
        var time = Duration.zero
        while let bytes = written.first {
            written.removeFirst()
            let frame = try #require(alarmBoxFrames(bytes).first)
            time += .milliseconds(2)
            let outputs = link.received(alarmBoxAck(for: frame), now: time)
            delivered += alarmBoxNonWrites(outputs)
            written += alarmBoxWrites(outputs)
        }
        #expect(delivered == commands.map { .commandDelivered($0) })
    }

    @Test("a full command queue refuses further commands at once")
    func queueOverflow() throws {
        var link = try synchronizedLink()
        _ = link.send(.requestStatus, now: .zero)  // in flight
        for _ in 0..<AlarmBoxLink.maximumQueuedCommands {
            #expect(alarmBoxNonWrites(link.send(.requestStatus, now: .zero)).isEmpty)
        }
        #expect(link.send(.resetLatch, now: .zero) == [.commandFailed(.resetLatch)])
        #expect(link.counters.queueOverflows == 1)
        #expect(link.pendingCommands.count == AlarmBoxLink.maximumQueuedCommands + 1)
    }

    @Test("a box HELLO is reported as a heartbeat, resets duplicate suppression and restores the indication")
    func boxRestart() throws {
        var link = try synchronizedLink()
        let indicate = try #require(alarmBoxSingleFrame(link.send(.indicate(.acknowledged), now: .seconds(1))))
        _ = link.received(alarmBoxAck(for: indicate), now: .seconds(1))
        _ = link.received(AlarmBoxFrame.event(.pressed, sequence: 1, status: AlarmBoxStatus(latched: true)).encoded(), now: .seconds(2))

        // The box loses power and comes back latched (non-volatile latch), showing `stored`.
        let bootStatus = AlarmBoxStatus(latched: true, indication: .stored, uptimeSeconds: 0)
        let hello = AlarmBoxFrame.hello(sequence: 0, status: bootStatus)
        let outputs = link.received(hello.encoded(), now: .seconds(3))
        #expect(alarmBoxEvents(outputs) == [.heartbeat(bootStatus)])
        let writes = alarmBoxWrites(outputs)
        #expect(writes.first == alarmBoxAck(for: hello))
        let restore = try #require(writes.count == 2 ? alarmBoxFrames(writes[1]).first : nil)
        #expect(restore.command == .indicate(.acknowledged))
        #expect(link.counters.peerRestarts == 1)
        #expect(link.boxProtocolVersion == 1)
        #expect(link.lastHelloAt == .seconds(3))

        // The HELLO repeated (its ACK lost) is a duplicate; the box's next event (seq 1 again) is new.
        #expect(alarmBoxEvents(link.received(hello.encoded(), now: .seconds(3) + .milliseconds(250))).isEmpty)
        #expect(link.lastHelloAt == .seconds(3), "the repetition is not another restart")
        let pressedAgain = link.received(
            AlarmBoxFrame.event(.pressed, sequence: 1, status: AlarmBoxStatus(latched: true)).encoded(), now: .seconds(4))
        #expect(alarmBoxEvents(pressedAgain) == [.pressed])
        #expect(alarmBoxNonWrites(link.received(alarmBoxAck(for: restore), now: .seconds(4))) == [
            .commandDelivered(.indicate(.acknowledged))
        ])
    }

    @Test("no indication is restored when the box already shows it, or when restoring is off")
    func noNeedlessRestore() throws {
        var link = try synchronizedLink()
        let indicate = try #require(alarmBoxSingleFrame(link.send(.indicate(.stored), now: .zero)))
        _ = link.received(alarmBoxAck(for: indicate), now: .zero)
        let same = link.received(AlarmBoxFrame.hello(sequence: 0, status: AlarmBoxStatus(latched: true, indication: .stored)).encoded(), now: .seconds(1))
        #expect(alarmBoxWrites(same).count == 1, "only the ACK")

        link.restoresIndicationAfterBoxRestart = false
        let other = link.received(AlarmBoxFrame.hello(sequence: 7, status: AlarmBoxStatus(indication: .idle)).encoded(), now: .seconds(2))
        #expect(alarmBoxWrites(other).count == 1, "only the ACK")
        #expect(link.counters.peerRestarts == 2)
    }

    @Test("noise and CRC errors are counted, never reported, and do not count as a frame for supervision")
    func noiseCounted() {
        var link = AlarmBoxLink()
        var damaged = AlarmBoxFrame.event(.pressed, sequence: 1, status: AlarmBoxStatus()).encoded()
        damaged[5] ^= 0x10
        let outputs = link.received([0x13, 0x37] + damaged + [0x00], now: .seconds(1))
        #expect(outputs.isEmpty)
        #expect(link.counters.crcErrors == 1)
        #expect(link.counters.garbageBytes == 2)
        #expect(link.counters.frames == 0)
        #expect(link.lastFrameAt == nil)
    }

    @Test("unknown box data types are acknowledged as unsupported; reserved and host types are ignored")
    func unknownTypes() {
        var link = AlarmBoxLink()
        let future = AlarmBoxFrame(type: 0x2A, sequence: 4, payload: [1, 2, 3])
        #expect(link.received(future.encoded(), now: .zero) == [.write(alarmBoxAck(for: future, .unsupportedType))])
        #expect(link.received(future.encoded(), now: .zero) == [.write(alarmBoxAck(for: future, .unsupportedType))])
        #expect(link.counters.duplicates == 1)
        let futureUnreliable = AlarmBoxFrame(type: 0x41, sequence: 4)
        #expect(link.received(futureUnreliable.encoded(), now: .zero) == [.write(alarmBoxAck(for: futureUnreliable, .unsupportedType))])
        #expect(link.received(AlarmBoxFrame(type: 0x70, sequence: 1).encoded(), now: .zero).isEmpty)
        #expect(link.received(AlarmBoxFrame.command(.resetLatch, sequence: 1).encoded(), now: .zero).isEmpty)
        #expect(link.counters.unsupportedFrames == 4)
        #expect(link.lastFrameAt == .zero)
    }

    @Test("an echo of the host's own frames (RS-485) is not taken as a sign of life from the box")
    func echoIsNotLife() throws {
        var link = try synchronizedLink()
        let pressed = AlarmBoxFrame.event(.pressed, sequence: 1, status: AlarmBoxStatus(latched: true))
        let ack = try #require(alarmBoxWrites(link.received(pressed.encoded(), now: .seconds(1))).first)
        #expect(link.lastFrameAt == .seconds(1))
        let command = try #require(alarmBoxWrites(link.send(.indicate(.stored), now: .seconds(2))).first)
        // The adapter echoes both frames back to the host, 40 s later (the box is gone).
        #expect(link.received(ack + command, now: .seconds(40)).isEmpty)
        #expect(link.lastFrameAt == .seconds(1))
        #expect(link.counters.unexpectedAcks == 1 && link.counters.unsupportedFrames == 1)
        #expect(link.pendingCommands == [.indicate(.stored)])
    }

    @Test("the direction of a frame follows from its type; an ACK's from the type it acknowledges")
    func frameDirection() {
        #expect(AlarmBoxMessageType.isFromBox(.event(.pressed, sequence: 1, status: AlarmBoxStatus())) == true)
        #expect(AlarmBoxMessageType.isFromBox(.command(.resetLatch, sequence: 1)) == false)
        #expect(AlarmBoxMessageType.isFromBox(.ack(type: 0x91, sequence: 1)) == true)
        #expect(AlarmBoxMessageType.isFromBox(.ack(type: 0x40, sequence: 1)) == false)
        #expect(AlarmBoxMessageType.isFromBox(.ack(type: 0x70, sequence: 1)) == nil)
        #expect(AlarmBoxMessageType.isFromBox(AlarmBoxFrame(type: 0x01, sequence: 1, payload: [0x91])) == nil)
        #expect(AlarmBoxMessageType.isFromBox(AlarmBoxFrame(type: 0xF0, sequence: 1)) == nil)
    }

    @Test("events with a short payload are acknowledged as bad and not reported")
    func badPayload() {
        var link = AlarmBoxLink()
        let shortPressed = AlarmBoxFrame(type: 0x11, sequence: 1, payload: [0x03])
        #expect(link.received(shortPressed.encoded(), now: .zero) == [.write(alarmBoxAck(for: shortPressed, .badPayload))])
        let shortHeartbeat = AlarmBoxFrame(type: 0x40, sequence: 1, payload: [])
        #expect(link.received(shortHeartbeat.encoded(), now: .zero) == [.write(alarmBoxAck(for: shortHeartbeat, .badPayload))])
        #expect(link.counters.malformedFrames == 2)
    }
}
