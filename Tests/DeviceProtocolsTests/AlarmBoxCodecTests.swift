import DeviceProtocols
import TestSupport
import Testing

/// The worked examples of Hardware/alarm-box/protocol.md, byte for byte. The CRCs were computed
/// independently of the Swift code (a separate bit-by-bit implementation) and by hand for the
/// INDICATE frame in the document's trace.
struct AlarmBoxWorkedExample: Sendable, CustomTestStringConvertible {
    let name: String
    let frame: AlarmBoxFrame
    let crc: UInt16
    let wire: [UInt8]

    var testDescription: String { name }

    static let all: [AlarmBoxWorkedExample] = [
        .init(
            name: "PRESSED seq 5 (uptime 0x7E5D needs stuffing)",
            frame: .event(.pressed, sequence: 0x05, status: alarmBoxExampleStatus), crc: 0xA3CA,
            wire: alarmBoxHex("7E 11 05 09 03 01 01 02 0A 00 00 7D 5E 5D A3 CA 7E")),
        .init(
            name: "ACK of PRESSED seq 5", frame: .ack(type: 0x11, sequence: 0x05), crc: 0x593A,
            wire: alarmBoxHex("7E 01 05 02 11 00 59 3A 7E")),
        .init(
            name: "INDICATE received seq 1", frame: .command(.indicate(.received), sequence: 0x01), crc: 0x0089,
            wire: alarmBoxHex("7E 91 01 01 03 00 89 7E")),
        .init(
            name: "ACK of INDICATE seq 1", frame: .ack(type: 0x91, sequence: 0x01), crc: 0x8853,
            wire: alarmBoxHex("7E 01 01 02 91 00 88 53 7E")),
        .init(
            name: "box HELLO seq 0",
            frame: .hello(
                sequence: 0,
                status: AlarmBoxStatus(firmwareVersion: AlarmBoxFirmwareVersion(major: 1, minor: 2), uptimeSeconds: 0)),
            crc: 0x264F, wire: alarmBoxHex("7E 10 00 0A 01 00 00 01 02 0A 00 00 00 00 26 4F 7E")),
        .init(
            name: "host HELLO seq 0", frame: .hostHello(sequence: 0), crc: 0x614F,
            wire: alarmBoxHex("7E 90 00 01 01 61 4F 7E")),
        .init(
            name: "HEARTBEAT seq 7",
            frame: .event(
                .heartbeat(AlarmBoxStatus()), sequence: 7,
                status: AlarmBoxStatus(firmwareVersion: AlarmBoxFirmwareVersion(major: 1, minor: 2), uptimeSeconds: 60)),
            crc: 0xD75A, wire: alarmBoxHex("7E 40 07 09 00 00 01 02 0A 00 00 00 3C D7 5A 7E")),
        .init(
            name: "RESET_LATCH seq 2", frame: .command(.resetLatch, sequence: 2), crc: 0xBCA7,
            wire: alarmBoxHex("7E 92 02 00 BC A7 7E")),
        .init(
            name: "REQUEST_STATUS seq 3", frame: .command(.requestStatus, sequence: 3), crc: 0xB8A6,
            wire: alarmBoxHex("7E 93 03 00 B8 A6 7E")),
        .init(
            name: "INDICATE received seq 0xDF (CRC high byte 7E stuffed)",
            frame: .command(.indicate(.received), sequence: 0xDF), crc: 0x7E1C,
            wire: alarmBoxHex("7E 91 DF 01 03 7D 5E 1C 7E")),
        .init(
            name: "INDICATE received seq 0x3C (CRC low byte 7D stuffed)",
            frame: .command(.indicate(.received), sequence: 0x3C), crc: 0x877D,
            wire: alarmBoxHex("7E 91 3C 01 03 87 7D 5D 7E")),
        .init(
            name: "INDICATE received seq 0x2E (CRC low byte 7E stuffed)",
            frame: .command(.indicate(.received), sequence: 0x2E), crc: 0xAA7E,
            wire: alarmBoxHex("7E 91 2E 01 03 AA 7D 5E 7E")),
    ]
}

@Suite("Alarm box codec: CRC, framing, stuffing")
struct AlarmBoxCodecTests {
    @Test("CRC-16/IBM-3740 check value and edge cases")
    func crcCheckValue() {
        #expect(AlarmBoxCRC.compute(Array("123456789".utf8)) == 0x29B1)
        #expect(AlarmBoxCRC.compute([UInt8]()) == 0xFFFF)
        // The hand trace of the protocol document: register after each byte of 91 01 01 03.
        #expect(AlarmBoxCRC.compute([0x91]) == 0x7268)
        #expect(AlarmBoxCRC.compute([0x91, 0x01]) == 0x26F4)
        #expect(AlarmBoxCRC.compute([0x91, 0x01, 0x01]) == 0xA085)
        #expect(AlarmBoxCRC.compute([0x91, 0x01, 0x01, 0x03]) == 0x0089)
        // A frame followed by its own CRC (high byte first) leaves a zero register.
        #expect(AlarmBoxCRC.compute([0x91, 0x01, 0x01, 0x03, 0x00, 0x89]) == 0x0000)
    }

    @Test("worked examples encode byte for byte", arguments: AlarmBoxWorkedExample.all)
    func workedExampleEncodes(_ example: AlarmBoxWorkedExample) {
        let unstuffed = example.frame.unstuffed
        #expect(AlarmBoxCRC.compute(unstuffed.dropLast(2)) == example.crc)
        #expect(Array(unstuffed.suffix(2)) == [UInt8(example.crc >> 8), UInt8(example.crc & 0xFF)])
        #expect(unstuffed[2] == UInt8(example.frame.payload.count))
        #expect(example.frame.encoded() == example.wire)
    }

    @Test("the technician's table in Hardware/alarm-box/README.md: INDICATE for every pattern and the box's ACK")
    func technicianTable() {
        let table: [(AlarmIndication, UInt8, String, String)] = [
            (.idle, 1, "7E 91 01 01 00 30 EA 7E", "7E 01 01 02 91 00 88 53 7E"),
            (.stored, 2, "7E 91 02 01 01 79 9B 7E", "7E 01 02 02 91 00 13 8F 7E"),
            (.sent, 3, "7E 91 03 01 02 7D 5E C8 7E", "7E 01 03 02 91 00 65 3B 7E"),
            (.received, 4, "7E 91 04 01 03 EB 79 7E", "7E 01 04 02 91 00 34 16 7E"),
            (.acknowledged, 5, "7E 91 05 01 04 AC AE 7E", "7E 01 05 02 91 00 42 A2 7E"),
            (.dispatched, 6, "7E 91 06 01 05 E5 DF 7E", "7E 01 06 02 91 00 D9 7D 5E 7E"),
            (.fault, 7, "7E 91 07 01 06 E2 8C 7E", "7E 01 07 02 91 00 AF CA 7E"),
        ]
        #expect(table.map(\.0) == AlarmIndication.allCases)
        var box = AlarmBoxDevice(poweredOnAt: .zero)
        #expect(box.received(alarmBoxHex("7E 90 00 01 01 61 4F 7E"), now: .zero).first == .write(alarmBoxHex("7E 01 00 02 90 00 CD D6 7E")))
        for (indication, sequence, command, ack) in table {
            #expect(AlarmBoxFrame.command(.indicate(indication), sequence: sequence).encoded() == alarmBoxHex(command))
            let outputs = box.received(alarmBoxHex(command), now: .zero)
            #expect(outputs.first == .write(alarmBoxHex(ack)), "\(indication)")
            #expect(box.indication == indication)
        }
    }

    @Test("worked examples decode to the same frame, whole and byte by byte", arguments: AlarmBoxWorkedExample.all)
    func workedExampleDecodes(_ example: AlarmBoxWorkedExample) {
        var whole = AlarmBoxFrameDecoder()
        #expect(whole.feed(example.wire) == [example.frame])
        var single = AlarmBoxFrameDecoder()
        var frames: [AlarmBoxFrame] = []
        for byte in example.wire { frames += single.feed([byte]) }
        #expect(frames == [example.frame])
        #expect(single.counters.frames == 1)
        #expect(single.counters.garbageBytes == 0)
        #expect(single.bufferedByteCount == 0)
    }

    @Test("the worked PRESSED example carries the documented status and event")
    func workedPressedContent() throws {
        let frame = try #require(alarmBoxFrames(AlarmBoxWorkedExample.all[0].wire).first)
        #expect(frame.messageType == .pressed)
        #expect(frame.sequence == 5)
        let status = try #require(AlarmBoxStatus(encoded: frame.payload))
        #expect(status == alarmBoxExampleStatus)
        #expect(status.uptimeSeconds == 32349)
        #expect(frame.messageType?.event(status: status) == .pressed)
    }

    @Test("a stream of frames decodes identically whole, byte by byte, and split at every pair of positions")
    func splitAtEveryPosition() {
        enum Decoded: Equatable {
            case frame(AlarmBoxFrame)
            case garbageAndCRCErrors(Int, Int)
        }
        let frames = AlarmBoxWorkedExample.all.map(\.frame)
        let stream = frames.flatMap { $0.encoded() }
        let failures = chunkingFailures(
            decoding: stream, expecting: frames.map(Decoded.frame) + [.garbageAndCRCErrors(0, 0)],
            chunkings: Chunking.all(count: stream.count, pairsUpTo: stream.count)
        ) {
            var decoder = AlarmBoxFrameDecoder()
            return (
                { chunk in decoder.feed(chunk).map(Decoded.frame) },
                { [.garbageAndCRCErrors(decoder.counters.garbageBytes, decoder.counters.crcErrors)] }
            )
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test("frames sharing one flag between them, and idle flags, decode without garbage")
    func sharedAndIdleFlags() {
        let a = AlarmBoxFrame.command(.resetLatch, sequence: 2)
        let b = AlarmBoxFrame.ack(type: 0x11, sequence: 5)
        let shared = a.encoded() + b.encoded().dropFirst()
        var decoder = AlarmBoxFrameDecoder()
        #expect(decoder.feed([0x7E, 0x7E, 0x7E] + shared + [0x7E, 0x7E]) == [a, b])
        #expect(decoder.counters.garbageBytes == 0)
    }

    @Test("noise before the first flag and between frames is counted exactly and skipped")
    func garbageCounted() {
        let a = AlarmBoxFrame.command(.indicate(.sent), sequence: 9)
        let b = AlarmBoxFrame.ack(type: 0x40, sequence: 3)
        // 2 bytes before any flag; 1 byte between the frames; 4 bytes (one of them an escape)
        // between the frames; 0x7D then a flag is an abort.
        let stream = [0x00, 0x55] + a.encoded() + [0xAA] + b.encoded() + [0x01, 0x7D, 0x02, 0x03] + a.encoded()
        var decoder = AlarmBoxFrameDecoder()
        #expect(decoder.feed(stream) == [a, b, a])
        #expect(decoder.counters.garbageBytes == 2 + 1 + 4)
        #expect(decoder.counters.crcErrors == 0)
        #expect(decoder.counters.frames == 3)
    }

    @Test("an aborted frame (7D 7E) is garbage and the flag still opens the next frame")
    func abortSequence() {
        let good = AlarmBoxFrame.command(.requestStatus, sequence: 3)
        var decoder = AlarmBoxFrameDecoder()
        #expect(decoder.feed([0x7E, 0x11, 0x05, 0x7D] + good.encoded()) == [good])
        #expect(decoder.counters.garbageBytes == 3)
    }

    @Test("a frame shorter than header and CRC is garbage")
    func tooShort() {
        var decoder = AlarmBoxFrameDecoder()
        #expect(decoder.feed(alarmBoxHex("7E 01 02 03 04 7E")).isEmpty)
        #expect(decoder.counters.garbageBytes == 4)
        #expect(decoder.counters.crcErrors == 0)
    }

    @Test("a bad CRC drops that frame only and is counted")
    func crcErrorDropsOneFrame() {
        let a = AlarmBoxFrame.command(.indicate(.acknowledged), sequence: 4)
        let b = AlarmBoxFrame.command(.indicate(.dispatched), sequence: 5)
        var damaged = a.encoded()
        damaged[4] ^= 0x01
        var decoder = AlarmBoxFrameDecoder()
        #expect(decoder.feed(damaged + b.encoded()) == [b])
        #expect(decoder.counters.crcErrors == 1)
        #expect(decoder.counters.garbageBytes == 0)
    }

    @Test("every single-bit error anywhere in a frame is caught; the next frame survives")
    func everySingleBitFlip() {
        let victim = AlarmBoxFrame.event(.pressed, sequence: 5, status: alarmBoxExampleStatus).encoded()
        let next = AlarmBoxFrame.event(.released, sequence: 6, status: AlarmBoxStatus(latched: true))
        for index in victim.indices {
            for bit in 0..<8 {
                var damaged = victim
                damaged[index] ^= 1 << bit
                var decoder = AlarmBoxFrameDecoder()
                let decoded = decoder.feed(damaged + next.encoded())
                #expect(decoded == [next], "bit \(bit) of byte \(index)")
                let c = decoder.counters
                #expect(c.crcErrors + c.garbageBytes + c.malformedFrames > 0, "bit \(bit) of byte \(index) went unnoticed")
            }
        }
    }

    @Test("a LEN byte that disagrees with the length is malformed, even with a good CRC")
    func lengthMismatch() {
        var body: [UInt8] = [0x91, 0x01, 0x02, 0x03]  // LEN says 2, one payload byte follows
        let crc = AlarmBoxCRC.compute(body)
        body += [UInt8(crc >> 8), UInt8(crc & 0xFF)]
        var decoder = AlarmBoxFrameDecoder()
        #expect(!body.contains(0x7E) && !body.contains(0x7D), "the test frame needs no stuffing")
        let wire = [AlarmBoxFrame.flag] + body + [AlarmBoxFrame.flag]
        #expect(decoder.feed(wire).isEmpty)
        #expect(decoder.counters.malformedFrames == 1)
        #expect(decoder.counters.crcErrors == 0)
    }

    @Test("an over-long frame is dropped up to the next flag; the buffer stays bounded")
    func overlongFrame() {
        let good = AlarmBoxFrame.command(.resetLatch, sequence: 1)
        var decoder = AlarmBoxFrameDecoder()
        var decoded: [AlarmBoxFrame] = []
        decoded += decoder.feed([0x7E])
        for _ in 0..<500 {
            decoded += decoder.feed([0x42])
            #expect(decoder.bufferedByteCount <= AlarmBoxFrame.maximumUnstuffedLength)
        }
        decoded += decoder.feed(good.encoded())
        #expect(decoded == [good])
        #expect(decoder.counters.garbageBytes == 500)
    }

    @Test("the longest payload round-trips, with every payload byte needing stuffing")
    func longestPayload() {
        let payload = (0..<AlarmBoxFrame.maximumPayloadLength).map { $0.isMultiple(of: 2) ? UInt8(0x7E) : 0x7D }
        let frame = AlarmBoxFrame(type: 0x20, sequence: 0x7E, payload: payload)
        let wire = frame.encoded()
        let needStuffing = frame.unstuffed.filter { $0 == 0x7E || $0 == 0x7D }.count
        #expect(needStuffing >= 1 + AlarmBoxFrame.maximumPayloadLength)  // SEQ and every payload byte
        #expect(wire.count == 2 + frame.unstuffed.count + needStuffing)
        #expect(wire.dropFirst().dropLast().allSatisfy { $0 != 0x7E })
        #expect(alarmBoxFrames(wire) == [frame])
    }

    @Test("random noise interleaved with frames: never a crash, every real frame survives, in order")
    func randomNoise() {
        for seed in UInt64(1)...40 {
            var rng = AlarmBoxTestRandom(seed: seed)
            var stream: [UInt8] = []
            var sent: [AlarmBoxFrame] = []
            for index in 0..<60 {
                let noise = (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                    rng.chance(0.3) ? [UInt8(0x7E), 0x7D].randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
                }
                stream += noise
                let frame = AlarmBoxFrame.event(
                    index.isMultiple(of: 2) ? .pressed : .tamperOpened, sequence: UInt8(index),
                    status: AlarmBoxStatus(uptimeSeconds: UInt32.random(in: 0...UInt32.max, using: &rng)))
                sent.append(frame)
                stream += frame.encoded()
            }
            var decoder = AlarmBoxFrameDecoder()
            var decoded: [AlarmBoxFrame] = []
            var offset = 0
            while offset < stream.count {
                let size = Int.random(in: 1...9, using: &rng)
                decoded += decoder.feed(stream[offset..<min(offset + size, stream.count)])
                offset += size
            }
            // Real frames are never lost: a flag always opens a frame, whatever came before.
            var remaining = decoded[...]
            for frame in sent {
                guard let found = remaining.firstIndex(of: frame) else {
                    Issue.record("seed \(seed): frame \(frame.sequence) lost")
                    break
                }
                remaining = remaining[(found + 1)...]
            }
            #expect(decoded.count == sent.count, "seed \(seed): noise decoded as a frame")
            #expect(decoder.counters.garbageBytes > 0, "seed \(seed)")
        }
    }
}

@Suite("Alarm box messages: types, status, indications")
struct AlarmBoxMessageTests {
    @Test("indication wire codes are 0...6 in the documented order and round-trip")
    func indicationCodes() {
        #expect(AlarmIndication.allCases.map(\.wireCode) == [0, 1, 2, 3, 4, 5, 6])
        for indication in AlarmIndication.allCases {
            #expect(AlarmIndication(wireCode: indication.wireCode) == indication)
        }
        for code in UInt8(7)...255 {
            #expect(AlarmIndication(wireCode: code) == nil)
        }
    }

    @Test("each status flag has its own bit; all 64 combinations round-trip")
    func statusFlags() throws {
        for bits in 0..<64 {
            let status = AlarmBoxStatus(
                buttonDown: bits & 1 != 0, latched: bits & 2 != 0, tamper: bits & 4 != 0, onBattery: bits & 8 != 0,
                lowBattery: bits & 16 != 0, linkFault: bits & 32 != 0)
            let encoded = status.encoded
            #expect(encoded.count == AlarmBoxStatus.encodedLength)
            #expect(encoded[0] == UInt8(bits))
            #expect(AlarmBoxStatus(encoded: encoded) == status)
        }
    }

    @Test("status fields are where the document says; reserved bits and extra bytes are ignored")
    func statusLayout() throws {
        let status = AlarmBoxStatus(
            indication: .acknowledged, firmwareVersion: AlarmBoxFirmwareVersion(major: 3, minor: 14),
            heartbeatIntervalSeconds: 30, uptimeSeconds: 0x0102_0304)
        #expect(status.encoded == [0x00, 0x04, 0x03, 0x0E, 0x1E, 0x01, 0x02, 0x03, 0x04])
        let future = try #require(AlarmBoxStatus(encoded: [0xC2, 0x04, 0x03, 0x0E, 0x1E, 0x01, 0x02, 0x03, 0x04, 0xAA, 0xBB]))
        #expect(future.latched && !future.buttonDown && !future.linkFault)
        #expect(future.uptimeSeconds == 0x0102_0304)
        #expect(AlarmBoxStatus(encoded: [0, 0, 1, 0, 10, 0, 0, 0]) == nil)
        #expect(AlarmBoxStatus(encoded: [0, 0xFF, 1, 0, 10, 0, 0, 0, 0])?.indication == nil)
        #expect(AlarmBoxStatus(heartbeatIntervalSeconds: 1000).encoded[4] == 255)
        #expect(AlarmBoxStatus(heartbeatIntervalSeconds: 0).encoded[4] == 1)
        #expect(AlarmBoxStatus(indication: nil).encoded[1] == 0xFF)
    }

    @Test("type ranges decide the handling, for all 256 type bytes")
    func typeRanges() {
        for type in UInt8(0)...255 {
            let expected: AlarmBoxMessageType.Handling =
                switch type {
                case 0x01: .ack
                case 0x10...0x3F: .boxData
                case 0x40...0x5F: .boxUnreliable
                case 0x90...0xBF: .hostData
                case 0xC0...0xDF: .hostUnreliable
                default: .reserved
                }
            #expect(AlarmBoxMessageType.handling(ofType: type) == expected, "type \(type)")
        }
        for known in AlarmBoxMessageType.allCases {
            #expect(AlarmBoxMessageType.handling(ofType: known.rawValue) != .reserved)
        }
    }

    @Test("every event maps to its frame type and back")
    func eventMapping() {
        let status = AlarmBoxStatus(latched: true)
        let events: [AlarmBoxEvent] = [
            .pressed, .released, .keySwitchReset, .tamperOpened, .tamperClosed, .lowBattery, .batteryOK, .powerLost,
            .powerRestored, .heartbeat(status),
        ]
        let types = events.map { AlarmBoxMessageType(event: $0).rawValue }
        #expect(types == [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x40])
        for event in events {
            #expect(AlarmBoxMessageType(event: event).event(status: status) == event)
        }
        for type in [AlarmBoxMessageType.ack, .hello, .hostHello, .indicate, .resetLatch, .requestStatus] {
            #expect(type.event(status: status) == nil)
        }
    }

    @Test("commands encode and parse; an unknown indication code does not parse")
    func commandFrames() {
        for indication in AlarmIndication.allCases {
            let frame = AlarmBoxFrame.command(.indicate(indication), sequence: 1)
            #expect(frame.type == 0x91 && frame.payload == [indication.wireCode])
            #expect(frame.command == .indicate(indication))
        }
        #expect(AlarmBoxFrame.command(.resetLatch, sequence: 1).command == .resetLatch)
        #expect(AlarmBoxFrame.command(.requestStatus, sequence: 1).command == .requestStatus)
        #expect(AlarmBoxFrame(type: 0x91, sequence: 1, payload: [0x09]).command == nil)
        #expect(AlarmBoxFrame(type: 0x91, sequence: 1, payload: []).command == nil)
        #expect(AlarmBoxFrame.ack(type: 0x91, sequence: 1).command == nil)
    }

    @Test("ACK payload: acknowledged type and result; unknown result bytes read as bad payload")
    func ackPayload() throws {
        let ack = try #require(AlarmBoxFrame.ack(type: 0x40, sequence: 9, result: .unsupportedVersion).acknowledgement)
        #expect(ack.type == 0x40 && ack.result == .unsupportedVersion)
        #expect(AlarmBoxFrame(type: 0x01, sequence: 1, payload: [0x11]).acknowledgement == nil)
        #expect(AlarmBoxFrame(type: 0x01, sequence: 1, payload: [0x11, 0x77]).acknowledgement?.result == .badPayload)
        #expect(AlarmBoxAckResult.allCases.map(\.rawValue) == [0, 1, 2, 3])
    }
}
