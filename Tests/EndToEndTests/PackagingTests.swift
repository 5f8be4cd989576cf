import Foundation
import TestSupport
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

        let check = try await Command.run("/bin/sh", [
            Self.repository + "/Hardware/debian/check-deb.sh",
            "--binary", Binaries.agent, "--allow-toolchain-libs", "--fast", "--out", out, "--version", "1.0.0",
        ])
        // Its last line is the verdict: "check-deb.sh: all checks passed" or "... N check(s) failed".
        let verdict = check.output.split(separator: "\n").last { $0.hasPrefix("check-deb.sh: ") }
        #expect(verdict == "check-deb.sh: all checks passed", "\(check.output)")
        #expect(check.status == 0, "\(check.output)")
        #expect(!check.output.contains("FAIL:"), "\(check.output)")
        // The unit is verified wherever systemd-analyze exists (.ci/run installs systemd).
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            #expect(check.output.contains("ok:   systemd-analyze verify"), "\(check.output)")
        }

        // Independently of the script: what dpkg-deb itself lists.
        let architecture = try await Command.run("/usr/bin/dpkg", ["--print-architecture"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let deb = out + "/station-agent_1.0.0_\(architecture).deb"
        #expect(FileManager.default.fileExists(atPath: deb), "\(check.output)")
        let listing = try await Command.run("/usr/bin/dpkg-deb", ["--contents", deb])
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
        let build = try await Command.run("/bin/sh", [Self.repository + "/Hardware/debian/build-deb.sh", "--no-such-flag"])
        #expect(build.status == 64)
        #expect(build.output.contains("build-deb.sh: unknown argument --no-such-flag"), "\(build.output)")
    }
}
