import DeviceProtocols
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `station-agent doctor` with `[sia]`: a link test against `station-sim dc09-receiver`.
extension DoctorTests {
    /// A simulated receiving centre knowing `account`; returns it and its port.
    static func receiver(account: String, extra: [String] = []) async throws -> (ChildProcess, Int) {
        let child = try ChildProcess(Binaries.sim, ["dc09-receiver", "--port", "0", "--account", account] + extra)
        let line = try await child.firstLine(containing: "listening on tcp://")
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else { throw HarnessError("no port in '\(line)'") }
        return (child, port)
    }

    static func siaSection(port: Int, account: String = "1234") -> String {
        "[sia]\nreceiver = \"127.0.0.1:\(port)\"\naccount = \"\(account)\"\nresponse_timeout_seconds = 2\n"
    }

    @Test func aDC09ReceiverThatAcknowledgesTheLinkTestIsOK() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        let (receiver, port) = try await Self.receiver(account: "1234")
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.siaSection(port: port))
        #expect(chmod(station.stateDirectory, 0o700) == 0)

        let (output, status) = try await Self.doctor(station.configPath)
        #expect(status == 0, "\(output)")
        let line = try #require(Self.lines(output, starting: "OK    sia: ").first, "\(output)")
        #expect(line.contains("receiver 127.0.0.1:\(port) acknowledged a link test (ACK in "), "\(line)")
        #expect(line.contains("account 1234"), "\(line)")
        // The receiver saw a NULL message (a link test), not an event.
        #expect(await eventually { receiver.log.contains("NULL") }, "receiver:\n\(receiver.log)")
        receiver.signal(SIGKILL)
        await platform.stop()
    }

    @Test func aReceiverThatDoesNotKnowTheAccountOrIsNotThereIsAFail() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        let (receiver, port) = try await Self.receiver(account: "5678")
        defer { receiver.signal(SIGKILL) }
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.siaSection(port: port, account: "1234"))
        let (refused, refusedStatus) = try await Self.doctor(station.configPath)
        #expect(refusedStatus == 1, "\(refused)")
        let duh = try #require(Self.lines(refused, starting: "FAIL  sia: ").first, "\(refused)")
        #expect(duh.contains("receiver 127.0.0.1:\(port) refused the link test"), "\(duh)")
        #expect(refused.contains("-> the centre does not accept account 1234"), "\(refused)")

        let closed = try freePort()
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.siaSection(port: closed))
        let (unreachable, unreachableStatus) = try await Self.doctor(station.configPath)
        #expect(unreachableStatus == 1, "\(unreachable)")
        let failure = try #require(Self.lines(unreachable, starting: "FAIL  sia: ").first, "\(unreachable)")
        #expect(failure.contains("receiver 127.0.0.1:\(closed) not reachable"), "\(failure)")
        #expect(unreachable.contains("-> check `sia.receiver`"), "\(unreachable)")
        #expect(Self.lines(unreachable, starting: "OK    platform: ").count == 1, "the platform is still OK:\n\(unreachable)")
        await platform.stop()
    }

    @Test func aSilentReceiverIsAFailNamingTheTimeout() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        let (receiver, port) = try await Self.receiver(account: "1234", extra: ["--silent"])
        defer { receiver.signal(SIGKILL) }
        try station.writeConfig(platformURL: platform.baseURL, extraDevices: Self.siaSection(port: port))
        let (output, status) = try await Self.doctor(station.configPath)
        #expect(status == 1, "\(output)")
        let line = try #require(Self.lines(output, starting: "FAIL  sia: ").first, "\(output)")
        #expect(line.contains("did not answer the link test"), "\(line)")
        await platform.stop()
    }
}
