import Foundation
import Testing

/// The Debian package, built by `Hardware/debian/build-deb.sh` from the binary under test, and
/// checked by `Hardware/debian/check-deb.sh` (contents, modes, conffile, control fields,
/// maintainer scripts, and `systemd-analyze verify` on the unit where systemd is installed).
/// The debug binary links the toolchain's libraries, hence `--allow-toolchain-libs`; `--fast`
/// compresses with gzip -1 instead of xz to keep CI quick.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PackagingTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func thePackageBuildsAndHoldsTheExpectedFiles() async throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("station-deb-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }

        let check = try ChildProcess("/bin/sh", [
            Self.repository + "/Hardware/debian/check-deb.sh",
            "--binary", Binaries.agent, "--allow-toolchain-libs", "--fast", "--out", out, "--version", "1.0.0",
        ])
        // Its last line is the verdict: "check-deb.sh: all checks passed" or "... N check(s) failed".
        let verdict = try await check.firstLine(containing: "check-deb.sh: ", timeout: .seconds(150))
        #expect(verdict == "check-deb.sh: all checks passed", "\(check.log)")
        #expect(await check.waitForExit(timeout: .seconds(10)) == 0, "\(check.log)")
        #expect(!check.log.contains("FAIL:"), "\(check.log)")
        // The unit is verified wherever systemd-analyze exists (.ci/run installs systemd).
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            #expect(check.log.contains("ok:   systemd-analyze verify"), "\(check.log)")
        }

        // Independently of the script: what dpkg-deb itself lists.
        let architecture = try Self.run("/usr/bin/dpkg", ["--print-architecture"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let deb = out + "/station-agent_1.0.0_\(architecture).deb"
        #expect(FileManager.default.fileExists(atPath: deb), "\(check.log)")
        let listing = try Self.run("/usr/bin/dpkg-deb", ["--contents", deb])
        #expect(listing.status == 0, "\(listing.output)")
        let paths = Set(listing.output.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
        for expected in [
            "./usr/bin/station-agent", "./etc/station-agent/station.toml",
            "./lib/systemd/system/station-agent.service", "./lib/udev/rules.d/60-station-agent.rules",
        ] {
            #expect(paths.contains(expected), "\(expected) missing from:\n\(listing.output)")
        }
    }

    @Test func anUnknownArgumentIsRefusedWithUsageExitStatus() async throws {
        let build = try Self.run("/bin/sh", [Self.repository + "/Hardware/debian/build-deb.sh", "--no-such-flag"])
        #expect(build.status == 64)
        #expect(build.output.contains("build-deb.sh: unknown argument --no-such-flag"), "\(build.output)")
    }

    /// A short command run to completion: its status and its output (stdout and stderr).
    static func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
