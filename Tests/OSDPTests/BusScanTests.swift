import OSDP
import Testing

/// The setup wizard's OSDP discovery, driven against pure peripherals on a simulated line: the
/// readers answer only at their speed, in no time; silence costs the scan its timeouts.
@Suite struct BusScanTests {
    /// A line with readers at one speed (and noise at others), run to the end of the scan.
    struct Line {
        var speed: Int
        var readers: [OSDPPeripheral]
        /// Bytes that come back at these speeds whatever is sent (another device, a wrong line).
        var noise: [Int: [UInt8]] = [:]
        /// How the readers' replies are cut into reads, a millisecond apart (a reply arriving in pieces).
        var cut: Int = .max
        /// The replies to the broadcast come back with a bad check, as when two readers talk at once.
        var garbleBroadcastReplies = false

        init(speed: Int, addresses: [UInt8], noise: [Int: [UInt8]] = [:]) {
            self.speed = speed
            self.readers = addresses.map { address in
                OSDPPeripheral(
                    configuration: .init(
                        address: address,
                        identification: OSDPDeviceIdentification(
                            vendorCode: 0x0A_0B_0C, model: 2, version: 1, serialNumber: 1000 + UInt32(address), firmware: (1, 2, 3))))
            }
            self.noise = noise
        }

        /// Runs `scan` to its end; what it found, how long it took, every speed it set and the
        /// addresses it asked, in order.
        mutating func run(_ scan: inout OSDPBusScan) -> (found: [OSDPBusScan.Finding], took: Duration, speeds: [Int], asked: [UInt8]) {
            var now = Duration.zero
            var speeds: [Int] = [], asked: [UInt8] = [], found: [OSDPBusScan.Finding] = []
            var current = 0
            var actions = scan.start(now: now)
            var steps = 0
            while !scan.isFinished, steps < 10_000 {
                steps += 1
                var replies: [UInt8] = []
                while !actions.isEmpty {
                    switch actions.removeFirst() {
                    case .setSpeed(let speed):
                        speeds.append(speed)
                        current = speed
                        now += .milliseconds(3)  // opening the port takes a while
                        actions += scan.speedSet(now: now)
                    case .send(let bytes):
                        var decoder = OSDPFrameDecoder()
                        let outputs = decoder.feed(bytes)
                        if case .packet(let packet)? = outputs.first { asked.append(packet.address) }
                        if let noise = noise[current] { replies += noise }
                        guard current == speed else { continue }
                        for index in readers.indices {
                            for output in outputs {
                                guard var reply = readers[index].handle(output).bytes else { continue }
                                if garbleBroadcastReplies, asked.last == OSDPPacket.broadcastAddress { reply[reply.count - 1] ^= 0xFF }
                                replies += reply
                            }
                        }
                    case .found(let finding):
                        found.append(finding)
                    case .finished:
                        break
                    }
                }
                if replies.isEmpty {
                    guard let deadline = scan.nextDeadline else { break }
                    now = deadline
                    actions = scan.tick(now: now)
                } else {
                    var offset = 0
                    while offset < replies.count {
                        let piece = Array(replies[offset..<min(replies.count, offset + cut)])
                        if offset > 0 { now += .milliseconds(1) }
                        offset += piece.count
                        if let deadline = scan.nextDeadline, deadline <= now { actions += scan.tick(now: now) }
                        actions += scan.receive(piece, now: now)
                    }
                }
            }
            return (found, now, speeds, asked)
        }
    }

    @Test func twoReadersAnswerTheBroadcastAndTheRestOfTheRangeIsAsked() {
        var line = Line(speed: 38_400, addresses: [9, 0])
        var scan = OSDPBusScan()
        let result = line.run(&scan)
        #expect(result.speeds == [9600, 115_200, 38_400])
        #expect(result.found.map(\.address) == [9, 0], "in the order they answered")
        #expect(scan.findings.map(\.address) == [0, 9])
        #expect(result.found.allSatisfy { $0.speed == 38_400 })
        #expect(scan.findings.first?.identification?.serialNumber == 1000)
        #expect(scan.findings.first?.identification?.vendorCode == 0x0A_0B_0C)
        // One broadcast per speed tried, then every address but the two found, once each.
        #expect(result.asked.filter { $0 == OSDPPacket.broadcastAddress }.count == 3)
        let addressed = result.asked.filter { $0 != OSDPPacket.broadcastAddress }
        #expect(addressed == (1...126).filter { $0 != 9 }.map(UInt8.init))
        #expect(scan.findings[0].description == "OSDP reader at address 0, 38400 baud (vendor A0B0C model 2, serial 1000)")
    }

    @Test func aReaderFoundByAddressWhenTheBroadcastReplyIsGarbled() {
        var line = Line(speed: 9600, addresses: [3])
        line.garbleBroadcastReplies = true
        var scan = OSDPBusScan(addresses: 0...10)
        let result = line.run(&scan)
        #expect(result.speeds == [9600])
        #expect(result.found.map(\.address) == [3])
        #expect(result.asked == [OSDPPacket.broadcastAddress] + Array(0...10), "every address asked after the garble")
        #expect(result.found.first?.identification?.serialNumber == 1003)
    }

    @Test func aLineWithNoReaderCostsOneBroadcastTimeoutPerSpeed() {
        var line = Line(speed: 9600, addresses: [])
        var scan = OSDPBusScan()
        let result = line.run(&scan)
        #expect(result.found.isEmpty)
        #expect(result.speeds == [9600, 115_200, 38_400, 19_200, 57_600])
        #expect(result.asked == Array(repeating: OSDPPacket.broadcastAddress, count: 5))
        // Five opens of 3 ms and five broadcast waits of 200 ms.
        #expect(result.took == .milliseconds(5 * 203))
    }

    @Test func noiseThatIsNoReaderIsAskedThroughAndLeftForTheNextSpeed() {
        var line = Line(speed: 115_200, addresses: [4], noise: [9600: [0x12, 0x34, 0x56]])
        var scan = OSDPBusScan(addresses: 0...7)
        let result = line.run(&scan)
        #expect(result.speeds == [9600, 115_200])
        #expect(result.found.map(\.address) == [4])
        #expect(result.found.map(\.speed) == [115_200])
        // At 9600 every address of the range was asked after the noise; at 115200 the broadcast
        // found the reader and the others were asked.
        #expect(result.asked.filter { $0 != OSDPPacket.broadcastAddress } == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 5, 6, 7])
    }

    @Test func aReplyInPiecesIsAwaitedPastTheTimeout() {
        var line = Line(speed: 9600, addresses: [2])
        line.cut = 3
        var scan = OSDPBusScan(addresses: 0...3, replyTimeout: .milliseconds(1), broadcastTimeout: .milliseconds(1))
        let result = line.run(&scan)
        #expect(result.found.map(\.address) == [2])
        #expect(result.found.first?.identification?.serialNumber == 1002)
    }

    @Test func nothingHappensBeforeStartOrAfterTheEnd() {
        var scan = OSDPBusScan(speeds: [9600], addresses: 0...0)
        #expect(scan.receive([0x53], now: .zero).isEmpty)
        #expect(scan.tick(now: .seconds(1)).isEmpty)
        #expect(scan.nextDeadline == nil)
        #expect(scan.start(now: .zero) == [.setSpeed(9600)])
        #expect(scan.start(now: .zero).isEmpty)
        #expect(scan.nextDeadline == nil, "no wait before the port is set")
        guard case .send(let bytes)? = scan.speedSet(now: .milliseconds(5)).first else {
            Issue.record("no broadcast after the speed was set")
            return
        }
        #expect(bytes.first == OSDPPacket.mark)
        #expect(scan.nextDeadline == .milliseconds(205))
        #expect(scan.tick(now: .milliseconds(204)).isEmpty, "before the deadline")
        #expect(scan.tick(now: .milliseconds(205)) == [.finished])
        #expect(scan.isFinished)
        #expect(scan.tick(now: .seconds(9)).isEmpty)
    }
}
