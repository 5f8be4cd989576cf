import DeviceProtocols
import Testing

/// One direction of a simulated serial line: each write arrives after `latency`, in order, unless
/// the seeded random generator drops it; it may be corrupted (one bit flipped), split into
/// pieces, or preceded by line noise.
struct AlarmBoxLossyChannel {
    struct Delivery {
        var at: Duration
        var bytes: [UInt8]
    }

    var dropRate: Double
    var corruptRate: Double
    var noiseRate: Double
    var latency: Duration = .milliseconds(2)
    private(set) var inTransit: [Delivery] = []
    private(set) var dropped = 0
    private(set) var corrupted = 0

    init(dropRate: Double, corruptRate: Double, noiseRate: Double) {
        self.dropRate = dropRate
        self.corruptRate = corruptRate
        self.noiseRate = noiseRate
    }

    mutating func send(_ bytes: [UInt8], now: Duration, using rng: inout AlarmBoxTestRandom) {
        var wire = bytes
        if rng.chance(noiseRate) {
            wire = (0..<Int.random(in: 1...6, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } + wire
        }
        if rng.chance(dropRate) {
            dropped += 1
            return
        }
        if rng.chance(corruptRate) {
            corrupted += 1
            let index = Int.random(in: 0..<wire.count, using: &rng)
            wire[index] ^= 1 << UInt8.random(in: 0...7, using: &rng)
        }
        let start = max(now + latency, inTransit.last?.at ?? .zero)
        // Split the write into up to three pieces arriving 0-1 ms apart.
        var pieces: [[UInt8]] = [wire]
        if wire.count > 2, rng.chance(0.3) {
            let cut = Int.random(in: 1..<wire.count, using: &rng)
            pieces = [Array(wire[..<cut]), Array(wire[cut...])]
        }
        for (index, piece) in pieces.enumerated() {
            inTransit.append(Delivery(at: start + .microseconds(500 * index), bytes: piece))
        }
    }

    /// Removes and returns what has arrived by `now`, in order.
    mutating func arrivals(by now: Duration) -> [[UInt8]] {
        var arrived: [[UInt8]] = []
        while let first = inTransit.first, first.at <= now {
            arrived.append(first.bytes)
            inTransit.removeFirst()
        }
        return arrived
    }

    var nextArrival: Duration? { inTransit.first?.at }
}

/// A box and a host wired through two lossy channels, driven by a discrete-event loop.
struct AlarmBoxLineSimulation {
    var box: AlarmBoxDevice
    var host = AlarmBoxLink()
    var rng: AlarmBoxTestRandom
    var toHost: AlarmBoxLossyChannel
    var toBox: AlarmBoxLossyChannel
    var now = Duration.zero

    /// Events the box was made to report, in order (the truth).
    var inputs: [AlarmBoxEvent] = []
    /// Non-heartbeat events the host reported.
    var reported: [AlarmBoxEvent] = []
    var commandsSent: [AlarmBoxCommand] = []
    var commandResults: [AlarmBoxLink.Action] = []
    var executed: [AlarmBoxCommand] = []
    var heartbeats = 0

    init(seed: UInt64, drop: Double, corrupt: Double, noise: Double) {
        rng = AlarmBoxTestRandom(seed: seed)
        box = AlarmBoxDevice(configuration: .init(eventQueueCapacity: 10_000), poweredOnAt: .zero)
        toHost = AlarmBoxLossyChannel(dropRate: drop, corruptRate: corrupt, noiseRate: noise)
        toBox = AlarmBoxLossyChannel(dropRate: drop, corruptRate: corrupt, noiseRate: noise)
    }

    mutating func route(_ outputs: [AlarmBoxDevice.Action]) {
        for output in outputs {
            switch output {
            case .write(let bytes): toHost.send(bytes, now: now, using: &rng)
            case .executed(let command): executed.append(command)
            case .displayChanged, .acknowledged: break
            }
        }
    }

    mutating func route(_ outputs: [AlarmBoxLink.Action]) {
        for output in outputs {
            switch output {
            case .write(let bytes):
                toBox.send(bytes, now: now, using: &rng)
            case .event(.heartbeat):
                heartbeats += 1
            case .event(let event):
                reported.append(event)
                // The agent answers a press by showing progress, as the real one does.
                if event == .pressed {
                    let next: AlarmIndication = commandsSent.count.isMultiple(of: 2) ? .stored : .sent
                    send(.indicate(next))
                }
            case .commandDelivered, .commandFailed:
                commandResults.append(output)
            }
        }
    }

    mutating func send(_ command: AlarmBoxCommand) {
        commandsSent.append(command)
        route(host.send(command, now: now))
    }

    /// Makes the box report a random input, keeping the truth list.
    mutating func randomInput() {
        let outputs: [AlarmBoxDevice.Action]
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<4:
            if box.buttonDown {
                outputs = box.release(now: now)
                inputs.append(.released)
            } else {
                outputs = box.press(now: now)
                inputs.append(.pressed)
            }
        case 4: outputs = box.setTamper(open: !box.tamperOpen, now: now); inputs.append(box.tamperOpen ? .tamperOpened : .tamperClosed)
        case 5: outputs = box.setLowBattery(!box.lowBattery, now: now); inputs.append(box.lowBattery ? .lowBattery : .batteryOK)
        case 6: outputs = box.setOnBattery(!box.onBattery, now: now); inputs.append(box.onBattery ? .powerLost : .powerRestored)
        case 7: outputs = box.keySwitchReset(now: now); inputs.append(.keySwitchReset)
        case 8:
            outputs = []
            send(.resetLatch)
        default:
            outputs = []
            send(.requestStatus)
        }
        route(outputs)
    }

    /// Runs for `duration` of simulated time with an input every 0.2-4 s, then until both sides
    /// have nothing left to deliver (bounded).
    mutating func run(for duration: Duration) throws {
        var nextInput = Duration.milliseconds(Int64.random(in: 200...4000, using: &rng))
        var iterations = 0
        while true {
            iterations += 1
            try #require(iterations < 2_000_000, "the simulation made no progress")
            let quiet = box.unacknowledgedEvents.isEmpty && host.pendingCommands.isEmpty && toHost.nextArrival == nil
                && toBox.nextArrival == nil
            if now >= duration, quiet { return }
            try #require(now < duration + .seconds(600), "undelivered after 10 minutes: \(box.unacknowledgedEvents)")
            var candidates = [box.nextDeadline, host.nextDeadline, toHost.nextArrival, toBox.nextArrival].compactMap { $0 }
            if now < duration { candidates.append(nextInput) }
            now = max(now, candidates.min() ?? now + .milliseconds(10))
            for bytes in toHost.arrivals(by: now) { route(host.received(bytes, now: now)) }
            for bytes in toBox.arrivals(by: now) { route(box.received(bytes, now: now)) }
            if now < duration, now >= nextInput {
                randomInput()
                nextInput = now + .milliseconds(Int64.random(in: 200...4000, using: &rng))
            }
            route(box.tick(now: now))
            route(host.tick(now: now))
        }
    }
}

@Suite("Alarm box on a lossy line: every press arrives exactly once")
struct AlarmBoxLossyLineTests {
    @Test("a clean line delivers everything at once", arguments: [UInt64(1), 2, 3])
    func cleanLine(seed: UInt64) throws {
        var sim = AlarmBoxLineSimulation(seed: seed, drop: 0, corrupt: 0, noise: 0)
        try sim.run(for: .seconds(120))
        #expect(sim.reported == sim.inputs)
        #expect(sim.host.counters.duplicates == 0)
        #expect(sim.host.counters.retransmits == 0 && sim.box.counters.retransmits == 0)
        #expect(sim.commandResults.count == sim.commandsSent.count)
        #expect(sim.commandResults.allSatisfy { if case .commandDelivered = $0 { true } else { false } })
        #expect(sim.executed == sim.commandsSent)
    }

    @Test(
        "drops, bit errors, noise and split reads in both directions",
        arguments: [
            (UInt64(11), 0.1, 0.05, 0.05), (12, 0.2, 0.1, 0.1), (13, 0.3, 0.1, 0.2), (14, 0.3, 0.2, 0.1),
            (15, 0.5, 0.1, 0.1), (16, 0.05, 0.3, 0.3), (17, 0.4, 0.2, 0.3), (18, 0.2, 0.2, 0.2),
        ])
    func lossyLine(seed: UInt64, drop: Double, corrupt: Double, noise: Double) throws {
        var sim = AlarmBoxLineSimulation(seed: seed, drop: drop, corrupt: corrupt, noise: noise)
        try sim.run(for: .seconds(600))
        let presses = sim.inputs.filter { $0 == .pressed }.count
        #expect(presses >= 20, "the run should press the button often (\(presses))")

        // Every event the box reported reached the host exactly once, in order.
        #expect(sim.reported.count == sim.inputs.count, "\(sim.inputs.count) events, \(sim.reported.count) reported")
        let firstDifference = Array(zip(sim.reported, sim.inputs)).firstIndex { $0.0 != $0.1 }
        #expect(firstDifference == nil, "first difference at event \(firstDifference ?? -1)")
        #expect(sim.box.unacknowledgedEvents.isEmpty)

        // The line really was bad, and the protocol worked for it.
        #expect(sim.toHost.dropped + sim.toBox.dropped > 0 || drop == 0)
        #expect(sim.host.counters.crcErrors + sim.box.counters.crcErrors > 0)
        #expect(sim.box.counters.retransmits > 0)
        #expect(sim.host.counters.duplicates + sim.box.counters.duplicates > 0, "lost ACKs cause repetitions")

        // Every command got exactly one answer; the box carried out each at most once, in order,
        // and every delivered one for sure.
        #expect(sim.commandResults.count == sim.commandsSent.count)
        #expect(isSubsequence(sim.executed, of: sim.commandsSent))
        let delivered = sim.commandResults.compactMap { output -> AlarmBoxCommand? in
            if case .commandDelivered(let command) = output { return command }
            return nil
        }
        #expect(isSubsequence(delivered, of: sim.executed))
        #expect(delivered.count >= sim.commandsSent.count * 7 / 10, "most commands get through")

        // Heartbeats kept flowing (about one per 10 s, minus losses).
        #expect(sim.heartbeats >= 600 / 10 / 4)
    }

    func isSubsequence(_ small: [AlarmBoxCommand], of large: [AlarmBoxCommand]) -> Bool {
        var rest = large[...]
        for element in small {
            guard let index = rest.firstIndex(of: element) else { return false }
            rest = rest[(index + 1)...]
        }
        return true
    }
}
