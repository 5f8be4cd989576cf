import DeviceProtocols
import Testing

/// Which line a pressed button is on, from samples of every probe, with exact times.
@Suite struct DryContactFinderTests {
    /// A probe: a port's input powered by one output.
    struct Probe: Hashable, Sendable {
        var input: String
        var drive: String
    }

    /// Samples every probe each 10 ms from `from` to `to` with `level(probe, t)`; the first finding.
    static func run(
        _ finder: inout DryContactFinder<Probe>, probes: [Probe], from: Int, to: Int, level: (Probe, Int) -> Bool
    ) -> (Probe, Bool, at: Int)? {
        for t in stride(from: from, through: to, by: 10) {
            for probe in probes {
                if let found = finder.sample(probe, level: level(probe, t), at: .milliseconds(t)) {
                    return (found.probe, found.normallyClosed, t)
                }
            }
        }
        return nil
    }

    static let probes = ["cts", "dsr", "dcd", "ri"].flatMap { input in ["dtr", "rts"].map { Probe(input: input, drive: $0) } }

    @Test func aNormallyOpenButtonIsFoundAfterTheHoldTime() {
        var finder = DryContactFinder<Probe>(settle: .milliseconds(600), hold: .milliseconds(200))
        // Pressed from 1000 ms: DSR rises while DTR powers it.
        let found = Self.run(&finder, probes: Self.probes, from: 0, to: 3000) { probe, t in
            probe == Probe(input: "dsr", drive: "dtr") && t >= 1000
        }
        #expect(found?.0 == Probe(input: "dsr", drive: "dtr"))
        #expect(found?.1 == false)
        #expect(found?.at == 1200)
    }

    @Test func aNormallyClosedButtonIsFoundWhenItsLineDrops() {
        var finder = DryContactFinder<Probe>()
        // At rest CTS is asserted while RTS powers it; pressed from 900 ms.
        let found = Self.run(&finder, probes: Self.probes, from: 0, to: 3000) { probe, t in
            probe == Probe(input: "cts", drive: "rts") && t < 900
        }
        #expect(found?.0 == Probe(input: "cts", drive: "rts"))
        #expect(found?.1 == true)
        #expect(found?.at == 1100)
    }

    @Test func aKnockShorterThanTheHoldIsNoButton() {
        var finder = DryContactFinder<Probe>()
        let found = Self.run(&finder, probes: Self.probes, from: 0, to: 3000) { probe, t in
            probe.input == "ri" && (1000..<1150).contains(t)
        }
        #expect(found == nil)
    }

    @Test func aLineThatChangesWhileSettlingIsNeverABaselineForAFalsePress() {
        var finder = DryContactFinder<Probe>()
        // A floating DCD toggles every 100 ms for ever: it never settles, so it is never found.
        let floating = Self.run(&finder, probes: Self.probes, from: 0, to: 5000) { probe, t in
            probe.input == "dcd" && (t / 100) % 2 == 1
        }
        #expect(floating == nil)
        #expect(!finder.isSettled(Probe(input: "dcd", drive: "dtr"), at: .milliseconds(5000)))
        #expect(finder.isSettled(Probe(input: "cts", drive: "dtr"), at: .milliseconds(5000)))
    }

    @Test func aPressDuringTheSettleBecomesTheRestAndItsReleaseIsNotReportedUntilHeld() {
        var finder = DryContactFinder<Probe>()
        let probe = Probe(input: "cts", drive: "dtr")
        // Already pressed at the first sample, released at 2000 ms: the release looks like a
        // normally-closed press, the only reading the samples allow; it still needs the hold.
        let found = Self.run(&finder, probes: [probe], from: 0, to: 3000) { _, t in t < 2000 }
        #expect(found?.1 == true)
        #expect(found?.at == 2200)
        #expect(!finder.isSettled(Probe(input: "ri", drive: "rts"), at: .seconds(10)), "never sampled")
    }

    @Test func eachProbeIsReportedOnce() {
        var finder = DryContactFinder<Probe>(settle: .milliseconds(100), hold: .milliseconds(50))
        let probe = Probe(input: "cts", drive: "dtr")
        var reports = 0
        for t in stride(from: 0, through: 2000, by: 10) {
            // Pressed twice: 500-900 ms and 1200-1600 ms.
            let pressed = (500..<900).contains(t) || (1200..<1600).contains(t)
            if finder.sample(probe, level: pressed, at: .milliseconds(t)) != nil { reports += 1 }
        }
        #expect(reports == 1)
    }
}
