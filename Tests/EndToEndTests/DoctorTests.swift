import DeviceProtocols
import Foundation
import TestSupport
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

/// `station-agent doctor`: its lines and exit status against real processes (the emulator, the
/// agent) and virtual readers.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DoctorTests {
    /// Runs the doctor to completion: its whole output (once the summary line is out) and status.
    static func doctor(_ configPath: String) async throws -> (output: String, status: Int32?) {
        let child = try ChildProcess(Binaries.agent, ["doctor", "--config", configPath, "--timeout", "3"])
        _ = try await child.firstLine(containing: "doctor: ", timeout: .seconds(30))
        let status = await child.waitForExit(timeout: .seconds(10))
        return (child.log, status)
    }

    static func lines(_ output: String, starting prefix: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    @Test func aReachableEmulatorAndPresentReaderAreOKAndExitZero() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL)
        #expect(chmod(station.stateDirectory, 0o700) == 0)

        let (output, status) = try await Self.doctor(station.configPath)
        #expect(status == 0, "\(output)")
        #expect(Self.lines(output, starting: "FAIL").isEmpty, "\(output)")
        #expect(Self.lines(output, starting: "OK    device reader-1: ").count == 1, "\(output)")
        #expect(output.contains("(pseudo-terminal) found and openable"), "\(output)")
        let platformLine = try #require(Self.lines(output, starting: "OK    platform: ").first, "\(output)")
        #expect(platformLine.contains("\(platform.baseURL)/v1/health answered 200"))
        #expect(output.contains("OK    state directory: \(station.stateDirectory) is writable"), "\(output)")
        #expect(Self.lines(output, starting: "OK    disk: ").count == 1, "\(output)")
        #expect(output.contains("clock: "), "\(output)")
        #expect(output.contains("OK    clock: agrees with the platform's (its Date header) within 30 s"), "\(output)")
        await platform.stop()
    }

    @Test func aMissingDeviceIsAFailNamingItAndExitsOne() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        let missing = station.directory + "/no-such-tty"
        try station.writeConfig(
            platformURL: platform.baseURL,
            extraDevices: """
                [[device]]
                name = "reader-9"
                kind = "card-reader"
                profile = "em18"
                purpose = "check-in"
                port = "\(missing)"
                """)

        let (output, status) = try await Self.doctor(station.configPath)
        #expect(status == 1, "\(output)")
        let failure = try #require(Self.lines(output, starting: "FAIL  device reader-9: ").first, "\(output)")
        #expect(failure.contains(missing))
        #expect(failure.contains("not found"))
        #expect(output.contains("-> plug the card-reader in"), "the line says what to do:\n\(output)")
        #expect(Self.lines(output, starting: "OK    device reader-1: ").count == 1, "the present reader is still OK:\n\(output)")
        #expect(output.contains("1 FAIL"), "\(output)")
        // The harness makes the state directory 0755: readable by others, which is a warning.
        #expect(output.contains("WARN  state directory: \(station.stateDirectory) is writable but other users can read it"), "\(output)")
        await platform.stop()
    }

    /// A simulated dry-contact button's line file (`sim:PATH`, written by station-sim) is not a
    /// serial device: present, it is OK; missing, a FAIL naming the file.
    @Test func aSimulatedButtonLineFileIsCheckedAsAFile() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let button = try VirtualAlarmButton(path: station.directory + "/button-1.lines")
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL,
            extraDevices: AlarmEndToEndTests.buttonConfig(button, minimumPressMs: 300)
                + AlarmEndToEndTests.buttonConfig(button, minimumPressMs: 300)
                    .replacingOccurrences(of: "button-1", with: "button-2"))
        let (output, _) = try await Self.doctor(station.configPath)
        #expect(output.contains("OK    device button-1: \(button.portPath) is a simulated line file (station-sim), present"), "\(output)")
        let missing = try #require(Self.lines(output, starting: "FAIL  device button-2: ").first, "\(output)")
        #expect(missing.contains("does not exist"), "\(missing)")
        await platform.stop()
    }

    @Test func anUnreachablePlatformIsAFail() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        // Port 9 (discard) has no listener here: the connection is refused.
        try station.writeConfig(platformURL: "http://127.0.0.1:9")

        let (output, status) = try await Self.doctor(station.configPath)
        #expect(status == 1, "\(output)")
        let failure = try #require(Self.lines(output, starting: "FAIL  platform: ").first, "\(output)")
        #expect(failure.contains("http://127.0.0.1:9/v1/health not reachable"))
    }

    @Test func aDeviceHeldByTheRunningAgentIsAWarningNotAFail() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(platformURL: platform.baseURL)
        let agent = try station.startAgent()

        var last = ""
        let warned = await eventually(timeout: .seconds(30)) {
            let (output, status) = try await Self.doctor(station.configPath)
            last = output
            return status == 0 && output.contains("WARN  device reader-1: ") && output.contains("in use by the agent (locked)")
        }
        #expect(warned, "doctor output:\n\(last)\nagent log:\n\(agent.log)")
        await agent.stop()
        await platform.stop()
    }

    @Test func anUnusableConfigurationIsAFail() async throws {
        let directory = NSTemporaryDirectory() + "station-doctor-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/station.toml"
        try "[station]\nid = \"ST-1\"\n".write(toFile: path, atomically: true, encoding: .utf8)

        let (output, status) = try await Self.doctor(path)
        #expect(status == 1, "\(output)")
        #expect(output.contains("FAIL  config: \(path) cannot be used"), "\(output)")
    }

    /// An HTTPS platform (`openssl s_server -www` with a certificate from a scratch CA): with the
    /// CA configured the doctor verifies TLS and shows the expiry; without it, TLS is a FAIL that
    /// still shows the expiry of the certificate offered.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func httpsShowsCertificateExpiryAndAnUntrustedCertificateFails() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let pki = try await ScratchCertificates(in: station.directory, serverDays: 300)
        let port = try freePort()
        let server = try ChildProcess(
            "/usr/bin/openssl",
            ["s_server", "-accept", String(port), "-cert", pki.serverCertificate, "-key", pki.serverKey, "-www"])
        _ = try await server.firstLine(containing: "ACCEPT")
        defer { server.signal(SIGKILL) }
        #expect(chmod(station.stateDirectory, 0o700) == 0)

        let url = "https://localhost:\(port)"
        try station.writeConfig(platformURL: url, extraPlatform: "ca_file = \"\(pki.caFile)\"")
        let (trusted, trustedStatus) = try await Self.doctor(station.configPath)
        #expect(trustedStatus == 0, "\(trusted)")
        let tls = try #require(Self.lines(trusted, starting: "OK    tls: localhost: certificate verified, expires ").first, "\(trusted)")
        let year = Calendar(identifier: .gregorian).component(.year, from: Date().addingTimeInterval(300 * 86_400))
        #expect(tls.contains("\(year)-"), "the expiry date, 300 days ahead: \(tls)")
        #expect(tls.contains("(in 299 days)") || tls.contains("(in 300 days)"), "\(tls)")
        #expect(Self.lines(trusted, starting: "OK    platform: \(url)/v1/health answered 200").count == 1, "\(trusted)")
        #expect(trusted.contains("over verified TLS"), "\(trusted)")

        try station.writeConfig(platformURL: url)
        let (untrusted, untrustedStatus) = try await Self.doctor(station.configPath)
        #expect(untrustedStatus == 1, "\(untrusted)")
        let failure = try #require(Self.lines(untrusted, starting: "FAIL  tls: localhost:\(port): TLS failed").first, "\(untrusted)")
        #expect(failure.contains("CERTIFICATE_VERIFY_FAILED"))
        #expect(failure.contains("the certificate offered expires \(year)-"))
        #expect(Self.lines(untrusted, starting: "FAIL  platform: ").count == 1, "\(untrusted)")
    }
}
