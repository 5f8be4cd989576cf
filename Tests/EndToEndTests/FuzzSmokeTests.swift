import Foundation
import TestSupport
import Testing

/// The short libFuzzer run in CI: `Fuzz/run.sh 5` builds every harness (card reader frames,
/// the alarm box link, OSDP frames, the line identifier, the OSDP bus scan, the emulator's request validation) with
/// `-sanitize=fuzzer,address` and runs each for 5 s. The long run is `Fuzz/run.sh 3600`, on demand.
/// A crash fails this test and leaves its input in the build folder named in the output.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct FuzzSmokeTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func everyHarnessRunsWithoutACrash() async throws {
        let build = FileManager.default.temporaryDirectory.appendingPathComponent("station-fuzz-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: build) }
        let run = try ChildProcess(
            "/bin/bash", [Self.repository + "/Fuzz/run.sh", "5"], environment: ["FUZZ_BUILD": build])
        let status = await run.waitForExit(timeout: .seconds(540))
        // The figures are the last lines: give the output reader a moment after the exit.
        _ = await eventually(timeout: .seconds(5)) { run.log.contains("fuzz: validation stat::peak_rss_mb") || status != 0 }
        #expect(status == 0, "\(run.log)")
        #expect(!run.log.contains("FOUND A CRASH"), "\(run.log)")
        for harness in ["card", "alarmbox", "osdp", "identify", "osdpscan", "validation"] {
            let line = run.log.split(separator: "\n").first { $0.hasPrefix("fuzz: \(harness) stat::number_of_executed_units:") }
            let units = line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
            #expect(units > 1_000, "\(harness) ran \(units) inputs in 5 s:\n\(run.log)")
        }
    }
}
