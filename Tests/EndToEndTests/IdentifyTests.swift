import DeviceProtocols
import Foundation
import TestSupport
import Testing
import VirtualDevices

/// `station-agent identify` against the virtual devices: two readers of different profiles and
/// an alarm box on pseudo-terminals, told apart from their bytes alone.
@Suite struct IdentifyTests {
    @Test func readersAndTheAlarmBoxAreToldApartAndGetADeviceBlock() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300), ("reader-2", .textDecimal)])
        defer { station.remove() }
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(1))
        defer { box.stop() }
        let one = station.readers["reader-1"]!, two = station.readers["reader-2"]!
        let child = try ChildProcess(
            Binaries.agent,
            ["identify", "--port", one.linkPath, "--port", two.linkPath, "--port", box.linkPath, "--seconds", "120"])
        _ = try await child.firstLine(containing: "listening for up to")
        // Tap each reader until each is recognised; the command ends once all three are.
        let recognised = await keepTapping([(one, "1A002F4B6C"), (two, "0012345678")]) {
            child.log.contains("\(one.linkPath): card reader") && child.log.contains("\(two.linkPath): card reader")
        }
        #expect(recognised, "\(child.log)")
        #expect(await child.waitForExit(timeout: .seconds(60)) == 0, "\(child.log)")
        let log = child.log
        #expect(log.contains("\(one.linkPath): card reader, profile rdm6300"), "\(log)")
        #expect(log.contains("read card 1A002F4B6C"), "\(log)")
        #expect(log.contains("\(two.linkPath): card reader, profile text-decimal"), "\(log)")
        #expect(log.contains("text-hex fits too"), "a decimal number fits both text profiles: \(log)")
        #expect(log.contains("\(box.linkPath): one-key alarm box"), "\(log)")
        // The blocks for station.toml, read back as a configuration.
        let blocks = try #require(log.components(separatedBy: "for station.toml:\n").last)
        let configuration = """
            [station]
            id = "ST-ID"
            [platform]
            url = "http://127.0.0.1:9"
            [privacy]
            card_ids = "raw"
            \(blocks)
            """
        let path = station.directory + "/identified.toml"
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        let check = try ChildProcess(Binaries.agent, ["check-config", path])
        #expect(await check.waitForExit() == 0, "\(check.log)\n\(configuration)")
    }
}
