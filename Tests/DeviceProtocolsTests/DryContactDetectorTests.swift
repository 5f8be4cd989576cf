import DeviceProtocols
import SeededRandom
import Testing

/// One event and the sample instant that produced it.
private struct TimedContactEvent: Hashable, CustomStringConvertible {
    let time: Duration
    let event: DryContactEvent
    var description: String { "\(event)@\(time)" }
}

/// Samples `level` every `step` from `start` up to and including `end`, feeding `detector`.
private func sampleContact(
    _ detector: inout DryContactDetector, from start: Duration = .zero, to end: Duration,
    step: Duration = .milliseconds(1), level: (Duration) -> Bool
) -> [TimedContactEvent] {
    var events: [TimedContactEvent] = []
    var t = start
    while t <= end {
        events += detector.sample(active: level(t), at: t).map { TimedContactEvent(time: t, event: $0) }
        t += step
    }
    return events
}

/// A contact level defined by the instants at which it toggles (starting released).
private struct ToggleTrace {
    var toggles: [Duration] = []
    /// Closed when an odd number of toggles happened at or before `t` (toggles are sorted).
    func level(at t: Duration) -> Bool {
        var low = 0
        var high = toggles.count
        while low < high {
            let middle = (low + high) / 2
            if toggles[middle] <= t { low = middle + 1 } else { high = middle }
        }
        return low % 2 == 1
    }
}

@Suite("Dry-contact detector: debounce, minimum press, wiring")
struct DryContactDetectorTests {
    /// A member (not a global) so it shadows any `ms` helper another test file of the target declares.
    private func ms(_ value: Int) -> Duration { .milliseconds(value) }

    @Test("a clean 600 ms press: pressed once at edge + minimumPress, released once a debounce after the release")
    func cleanPress() {
        var detector = DryContactDetector()
        #expect(detector.debounce == ms(30))
        #expect(detector.minimumPress == ms(300))
        let events = sampleContact(&detector, to: ms(1000)) { $0 >= ms(100) && $0 < ms(700) }
        #expect(events == [
            TimedContactEvent(time: ms(400), event: .pressed),
            TimedContactEvent(time: ms(730), event: .released),
        ])
        // Never earlier than minimumPress after the edge, never later than debounce + minimumPress.
        let pressedAt = events[0].time
        #expect(pressedAt >= ms(100) + detector.minimumPress)
        #expect(pressedAt <= ms(100) + detector.debounce + detector.minimumPress)
        #expect(!detector.isPressed)
        #expect(!detector.isPressConfirmed)
    }

    @Test("isPressed follows the debounced contact; isPressConfirmed follows the events")
    func stateFlags() {
        var detector = DryContactDetector()
        func feed(_ active: Bool, _ time: Int) -> [DryContactEvent] { detector.sample(active: active, at: ms(time)) }
        #expect(feed(false, 0).isEmpty)
        #expect(feed(true, 100).isEmpty)
        #expect(!detector.isPressed)
        #expect(feed(true, 129).isEmpty)
        #expect(!detector.isPressed)
        #expect(feed(true, 130).isEmpty)
        #expect(detector.isPressed)
        #expect(!detector.isPressConfirmed)
        #expect(feed(true, 399).isEmpty)
        #expect(feed(true, 400) == [.pressed])
        #expect(detector.isPressConfirmed)
        #expect(feed(true, 5000).isEmpty)
        #expect(feed(false, 5001).isEmpty)
        #expect(detector.isPressed)
        #expect(feed(false, 5030).isEmpty)
        #expect(feed(false, 5031) == [.released])
        #expect(!detector.isPressed)
        #expect(!detector.isPressConfirmed)
        #expect(feed(false, 9000).isEmpty)
    }

    @Test("a bouncing contact (toggling every 2 ms for 20 ms, at press and at release) is one press")
    func bouncingContact() {
        var trace = ToggleTrace()
        // Press: closes at 100, then opens/closes every 2 ms until it stays closed at 120.
        trace.toggles += stride(from: 100, through: 120, by: 2).map { ms($0) }
        // Release: opens at 800 and chatters until it stays open at 820.
        trace.toggles += stride(from: 800, through: 820, by: 2).map { ms($0) }
        #expect(trace.level(at: ms(119)) == false)
        #expect(trace.level(at: ms(120)) == true)
        #expect(trace.level(at: ms(820)) == false)

        var detector = DryContactDetector()
        let events = sampleContact(&detector, to: ms(1500), level: trace.level(at:))
        #expect(events == [
            TimedContactEvent(time: ms(420), event: .pressed),
            TimedContactEvent(time: ms(850), event: .released),
        ])
    }

    @Test("a 100 ms tap with minimumPress 300 ms is ignored(shortPress: 100 ms), with no press")
    func shortTapIgnored() {
        var detector = DryContactDetector(minimumPress: ms(300))
        let events = sampleContact(&detector, to: ms(1000)) { $0 >= ms(100) && $0 < ms(200) }
        #expect(events == [TimedContactEvent(time: ms(230), event: .ignored(shortPress: ms(100)))])
        #expect(!events.contains { $0.event == .pressed })
    }

    @Test("a press of exactly minimumPress counts; one millisecond less is ignored")
    func thresholdIsInclusive() {
        var exact = DryContactDetector(minimumPress: ms(300))
        #expect(sampleContact(&exact, to: ms(800)) { $0 >= ms(100) && $0 < ms(400) }.map(\.event) == [.pressed, .released])
        var short = DryContactDetector(minimumPress: ms(300))
        #expect(
            sampleContact(&short, to: ms(800)) { $0 >= ms(100) && $0 < ms(399) }.map(\.event)
                == [.ignored(shortPress: ms(299))])
    }

    @Test("glitches shorter than the debounce produce nothing at all")
    func glitchesIgnored() {
        var detector = DryContactDetector()
        let events = sampleContact(&detector, to: ms(2000)) { t in
            // 29 ms closed every 200 ms: never stable for 30 ms.
            let millisecond = Int((t / ms(1)).rounded())
            return millisecond % 200 < 29
        }
        #expect(events.isEmpty)
        #expect(!detector.isPressed)
    }

    @Test("normally closed: the detector inverts the line; an open loop (press or cut cable) alarms")
    func normallyClosed() {
        var detector = DryContactDetector(activeWhenClosed: false)
        #expect(!detector.activeWhenClosed)
        #expect(detector.isPushed(lineAsserted: false))
        #expect(!detector.isPushed(lineAsserted: true))
        // Line asserted at rest; the contact opens (line low) from 200 to 900 ms.
        let events = sampleContact(&detector, to: ms(1500)) { !($0 >= ms(200) && $0 < ms(900)) }
        #expect(events == [
            TimedContactEvent(time: ms(500), event: .pressed),
            TimedContactEvent(time: ms(930), event: .released),
        ])

        // The same line levels with normally-open wiring are the mirror image: an alarm from start-up.
        var normallyOpen = DryContactDetector()
        #expect(normallyOpen.isPushed(lineAsserted: true))
        let mirrored = sampleContact(&normallyOpen, to: ms(1500)) { !($0 >= ms(200) && $0 < ms(900)) }
        #expect(mirrored.map(\.event) == [.ignored(shortPress: ms(200)), .pressed])
    }

    @Test("a loop already open at start-up (cut cable, unpowered contact) is an alarm, not dropped")
    func activeAtStartup() {
        var detector = DryContactDetector(activeWhenClosed: false)
        let events = sampleContact(&detector, from: ms(5000), to: ms(6000)) { _ in false }
        #expect(events == [TimedContactEvent(time: ms(5300), event: .pressed)])
        #expect(detector.isPressConfirmed)
    }

    @Test("minimumPress shorter than the debounce: pressed at edge + debounce; zero debounce and zero minimum")
    func smallSettings() {
        var quick = DryContactDetector(debounce: ms(50), minimumPress: ms(10))
        #expect(sampleContact(&quick, to: ms(400)) { $0 >= ms(100) && $0 < ms(200) } == [
            TimedContactEvent(time: ms(150), event: .pressed),
            TimedContactEvent(time: ms(250), event: .released),
        ])

        var raw = DryContactDetector(debounce: .zero, minimumPress: .zero)
        #expect(raw.sample(active: true, at: ms(7)) == [.pressed])
        #expect(raw.isPressConfirmed)
        #expect(raw.sample(active: false, at: ms(8)) == [.released])

        // With zero debounce, a long press that was only seen at its two ends still counts.
        var sparse = DryContactDetector(debounce: .zero, minimumPress: ms(300))
        #expect(sparse.sample(active: false, at: .zero).isEmpty)
        #expect(sparse.sample(active: true, at: ms(100)).isEmpty)
        #expect(sparse.sample(active: false, at: ms(500)) == [.pressed, .released])

        var negative = DryContactDetector(debounce: ms(-5), minimumPress: ms(-1))
        #expect(negative.debounce == .zero)
        #expect(negative.minimumPress == .zero)
        #expect(negative.sample(active: true, at: .zero) == [.pressed])
    }

    @Test("a sample older than the previous one counts as taken at the previous instant")
    func timeNeverRunsBackwards() {
        var detector = DryContactDetector()
        #expect(detector.sample(active: false, at: ms(0)).isEmpty)
        #expect(detector.sample(active: true, at: ms(1000)).isEmpty)
        // Taken "at 500": if it moved the edge back, 800 would already be a 300 ms press.
        #expect(detector.sample(active: true, at: ms(500)).isEmpty)
        #expect(detector.sample(active: true, at: ms(800)).isEmpty)
        #expect(detector.sample(active: true, at: ms(1299)).isEmpty)
        #expect(detector.sample(active: true, at: ms(1300)) == [.pressed])
        // A backwards release sample is a release edge at 1300, confirmed at 1330.
        #expect(detector.sample(active: false, at: ms(100)).isEmpty)
        #expect(detector.sample(active: false, at: ms(1329)).isEmpty)
        #expect(detector.sample(active: false, at: ms(1330)) == [.released])
    }

    @Test("random chatter that never holds for the debounce time never produces an event")
    func randomChatter() {
        for seed in UInt64(1)...40 {
            var random = SplitMix64(seed: seed)
            var detector = DryContactDetector(debounce: ms(30), minimumPress: ms(100))
            var t = Duration.zero
            var level = false
            var events: [DryContactEvent] = []
            for _ in 0..<2000 {
                // Toggle after 1...29 ms, sampling every 0...3 ms in between.
                let hold = ms(Int.random(in: 1...29, using: &random))
                let until = t + hold
                while t < until {
                    events += detector.sample(active: level, at: t)
                    t += .microseconds(Int.random(in: 0...3000, using: &random))
                }
                t = until
                level.toggle()
            }
            #expect(events.isEmpty, "seed \(seed)")
            #expect(!detector.isPressed, "seed \(seed)")
        }
    }

    @Test("random presses with bouncing edges and jittered sampling give exactly the intended events")
    func randomPresses() {
        let debounce = ms(30)
        let minimumPress = ms(300)
        for seed in UInt64(1)...60 {
            var random = SplitMix64(seed: seed)
            let activeWhenClosed = Bool.random(using: &random)
            var trace = ToggleTrace()
            // Each press: its bounce windows (first to last toggle) at the press and at the release.
            // Sampling may miss a short bounce, so an edge lies anywhere in its window (+ jitter).
            var intended: [(pressFirst: Duration, pressLast: Duration, releaseFirst: Duration, releaseLast: Duration)] = []
            var t = ms(Int.random(in: 0...200, using: &random))
            for _ in 0..<25 {
                // The press edge: a bounce burst whose toggles are 1...4 ms apart, ending closed.
                let pressFirst = t
                var burst = 2 * Int.random(in: 0...4, using: &random)
                while burst > 0 {
                    trace.toggles.append(t)
                    t += ms(Int.random(in: 1...4, using: &random))
                    burst -= 1
                }
                trace.toggles.append(t)
                let start = t
                // Far from the threshold on either side (with both bursts and jitter a short press
                // measures under 270 ms, a long one over 315 ms), so sampling cannot decide it.
                let length =
                    Bool.random(using: &random)
                    ? ms(Int.random(in: 45...200, using: &random)) : ms(Int.random(in: 320...2000, using: &random))
                t += length
                var releaseBurst = 2 * Int.random(in: 0...4, using: &random)
                let releaseStart = t
                while releaseBurst > 0 {
                    trace.toggles.append(t)
                    t += ms(Int.random(in: 1...4, using: &random))
                    releaseBurst -= 1
                }
                trace.toggles.append(t)
                intended.append((pressFirst, start, releaseStart, t))
                t += ms(Int.random(in: 40...400, using: &random))
            }
            let end = t + ms(200)

            var detector = DryContactDetector(
                debounce: debounce, minimumPress: minimumPress, activeWhenClosed: activeWhenClosed)
            var events: [TimedContactEvent] = []
            var now = Duration.zero
            while now <= end {
                let closed = trace.level(at: now)
                let line = activeWhenClosed ? closed : !closed
                events += detector.sample(active: line, at: now).map { TimedContactEvent(time: now, event: $0) }
                now += .microseconds(Int.random(in: 200...3000, using: &random))
            }

            let jitter = ms(3)
            var expectedKinds: [String] = []
            for press in intended {
                expectedKinds += press.releaseFirst - press.pressLast >= minimumPress ? ["pressed", "released"] : ["ignored"]
            }
            let kinds = events.map { event -> String in
                switch event.event {
                case .pressed: "pressed"
                case .released: "released"
                case .ignored: "ignored"
                }
            }
            #expect(kinds == expectedKinds, "seed \(seed)")
            guard kinds == expectedKinds else { continue }

            // Timing and measured lengths, within the bounce windows and the sampling jitter.
            var index = 0
            for press in intended {
                if press.releaseFirst - press.pressLast >= minimumPress {
                    let pressed = events[index].time
                    #expect(pressed >= press.pressFirst + minimumPress, "seed \(seed)")
                    #expect(pressed <= press.pressLast + minimumPress + jitter * 2, "seed \(seed)")
                    let released = events[index + 1].time
                    #expect(released >= press.releaseFirst + debounce, "seed \(seed)")
                    #expect(released <= press.releaseLast + debounce + jitter * 2, "seed \(seed)")
                    index += 2
                } else {
                    guard case .ignored(let measured) = events[index].event else {
                        Issue.record("seed \(seed): expected ignored at \(events[index])")
                        break
                    }
                    #expect(measured >= press.releaseFirst - press.pressLast - jitter, "seed \(seed)")
                    #expect(measured <= press.releaseLast - press.pressFirst + jitter, "seed \(seed)")
                    #expect(measured >= debounce, "seed \(seed)")
                    #expect(measured < minimumPress, "seed \(seed)")
                    index += 1
                }
            }
        }
    }

    @Test("every 12-slot contact pattern matches an offline reference of the rules")
    func exhaustiveAgainstReference() {
        let debounce = ms(30)
        let minimumPress = ms(60)
        let step = ms(10)
        let slots = 12
        let samplesPerSlot = 2
        let padding = 20
        for pattern in 0..<(1 << slots) {
            var levels: [Bool] = []
            for slot in 0..<slots {
                levels += Array(repeating: pattern & (1 << slot) != 0, count: samplesPerSlot)
            }
            levels += Array(repeating: false, count: padding)
            let times = levels.indices.map { step * $0 }

            var detector = DryContactDetector(debounce: debounce, minimumPress: minimumPress)
            var actual: [TimedContactEvent] = []
            for (index, level) in levels.enumerated() {
                actual += detector.sample(active: level, at: times[index]).map {
                    TimedContactEvent(time: times[index], event: $0)
                }
            }
            let expected = referenceEvents(levels: levels, times: times, debounce: debounce, minimumPress: minimumPress)
            #expect(actual == expected, "pattern \(String(pattern, radix: 2))")
            if actual != expected { return }
        }
    }

    /// The rules, computed offline from whole runs of equal samples rather than sample by sample.
    private func referenceEvents(
        levels: [Bool], times: [Duration], debounce: Duration, minimumPress: Duration
    ) -> [TimedContactEvent] {
        // Maximal runs of equal samples: value, first index, last index.
        var runs: [(value: Bool, first: Int, last: Int)] = []
        for (index, level) in levels.enumerated() {
            if let lastRun = runs.last, lastRun.value == level {
                runs[runs.count - 1].last = index
            } else {
                runs.append((level, index, index))
            }
        }
        var events: [TimedContactEvent] = []
        var debounced = false
        var pressStart = Duration.zero
        var reported = false
        for run in runs {
            let start = times[run.first]
            // The sample at which the run (if it changes the debounced state) is confirmed.
            let confirm = (run.first...run.last).first { times[$0] - start >= debounce }
            if run.value != debounced, let confirm {
                if run.value {
                    debounced = true
                    pressStart = start
                    reported = false
                    // pressed: the first sample from the confirmation on, in this run or while later
                    // non-confirming release runs are held, at which the known hold reaches minimumPress.
                    for index in confirm...run.last where times[index] - pressStart >= minimumPress {
                        events.append(TimedContactEvent(time: times[index], event: .pressed))
                        reported = true
                        break
                    }
                } else {
                    debounced = false
                    let length = start - pressStart
                    if reported {
                        events.append(TimedContactEvent(time: times[confirm], event: .released))
                    } else if length >= minimumPress {
                        // Seen at the run's first sample, before the release is confirmed.
                        events.append(TimedContactEvent(time: times[run.first], event: .pressed))
                        events.append(TimedContactEvent(time: times[confirm], event: .released))
                    } else {
                        events.append(TimedContactEvent(time: times[confirm], event: .ignored(shortPress: length)))
                    }
                    reported = false
                }
            } else if debounced, !reported {
                // A run that does not change the debounced state while a press is not yet reported:
                // an active run extends the hold sample by sample; an inactive glitch holds it at its start.
                for index in run.first...run.last {
                    let heldUntil = run.value ? times[index] : start
                    if heldUntil - pressStart >= minimumPress {
                        events.append(TimedContactEvent(time: times[index], event: .pressed))
                        reported = true
                        break
                    }
                }
            }
        }
        return events
    }
}
