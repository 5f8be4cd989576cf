import DeviceProtocols
import EventModel
import Foundation
import StationConfig
import Testing

/// The station.toml `setup` writes: every kind of device it can find, read back by the loader
/// with the same values; and the answers it refuses, in `check-config`'s words.
@Suite struct StationSetupTests {
    static let everyKind = StationSetup(
        stationID: "ST-0101", location: GridLocation(district: "Heping \"East\" District", grid: "G-07"),
        platformURL: "https://platform.example.cn/api", tokenFile: "/etc/station-agent/token",
        districtKeyFile: "/etc/station-agent/district.key", stateDirectory: "/var/lib/station-agent",
        devices: [
            .init(
                name: "reader-1", purpose: "attendance", kind: .cardReader(profile: .em18),
                port: .usb(vendor: 0x1A86, product: 0x7523, serial: "A10K3XYZ"), found: "card reader, profile em18, on /dev/ttyUSB0"),
            .init(
                name: "reader-2", purpose: "check-in", kind: .cardReader(profile: .textHex),
                port: .usb(vendor: 0x0403, product: 0x6001, serial: nil), found: "card reader, profile text-hex, on /dev/ttyUSB1"),
            .init(name: "alarm-3", purpose: "one-key-alarm", kind: .alarmBox, port: .path("/dev/ttyUSB2"), found: "alarm box"),
            .init(
                name: "osdp-bus-4", purpose: "check-in",
                kind: .osdpBus(baud: 38_400, readers: [
                    .init(address: 0, name: "osdp-4-0", purpose: "patrol", identity: "OSDP reader at address 0"),
                    .init(address: 12, name: "osdp-4-12", purpose: "volunteer"),
                ]),
                port: .path("/dev/ttyUSB3"), found: "OSDP bus"),
            .init(
                name: "button-1", purpose: "one-key-alarm", kind: .alarmButton(input: "dcd", drive: "rts", normallyClosed: true),
                port: .path("/dev/serial/by-id/usb-FTDI-if00-port0"), found: "button"),
        ])

    @Test func everyKindOfDeviceReadsBackAsWritten() throws {
        let text = Self.everyKind.render(generatedAt: Date(timeIntervalSince1970: 1_800_000_000))
        let configuration = try ConfigLoader.parse(text, file: "station.toml")
        #expect(configuration.station.id == "ST-0101")
        #expect(configuration.station.location == GridLocation(district: "Heping \"East\" District", grid: "G-07"))
        #expect(configuration.platform.url.absoluteString == "https://platform.example.cn/api")
        #expect(configuration.platform.credential == .tokenFile("/etc/station-agent/token"))
        #expect(configuration.privacy.cardIDs == .pseudonym)
        #expect(configuration.privacy.districtKeyFile?.path == "/etc/station-agent/district.key")
        let devices = configuration.devices
        #expect(devices.map(\.name) == ["reader-1", "reader-2", "alarm-3", "osdp-bus-4", "button-1"])
        #expect(devices[0].cardReader?.profile == .em18)
        #expect(devices[0].purpose == "attendance")
        #expect(devices[0].port == .usb(vendor: 0x1A86, product: 0x7523, serial: "A10K3XYZ"))
        #expect(devices[1].port == .usb(vendor: 0x0403, product: 0x6001, serial: nil))
        #expect(devices[2].alarmBox != nil)
        #expect(devices[2].port == .path("/dev/ttyUSB2"))
        let bus = try #require(devices[3].osdpBus)
        #expect(bus.baud == 38_400)
        #expect(bus.readers.map(\.address) == [0, 12])
        #expect(bus.readers.map(\.name) == ["osdp-4-0", "osdp-4-12"])
        #expect(bus.readers.map(\.purpose) == ["patrol", "volunteer"])
        let button = try #require(devices[4].alarmButton)
        #expect(button.input == "dcd" && button.drive == "rts" && button.normallyClosed)
        #expect(devices[4].port == .path("/dev/serial/by-id/usb-FTDI-if00-port0"))

        #expect(text.contains("# on 2027-01-15 08:00 UTC."))
        #expect(text.contains("# Found: card reader, profile em18, on /dev/ttyUSB0\n[[device]]"))
        #expect(text.contains("# This adapter has no serial number"))
        #expect(text.contains("# Normally closed: a cut cable raises an alarm too."))
    }

    @Test func rawCardNumbersNoTokenAndNoDevicesAreSaidInComments() throws {
        let setup = StationSetup(stationID: "ST-2", platformURL: "http://10.0.0.5:8080")
        let text = setup.render(generatedAt: Date(timeIntervalSince1970: 0))
        let configuration = try ConfigLoader.parse(text, file: "station.toml")
        #expect(configuration.privacy.cardIDs == .raw)
        #expect(configuration.platform.credential == nil)
        #expect(configuration.devices.isEmpty)
        #expect(text.contains("# token_file = \"/etc/station-agent/token\""))
        #expect(text.contains("# No device was found at setup."))
    }

    @Test func answersTheFileWouldRefuseAreRefusedWithTheSameWords() {
        #expect(StationSetup.problem(stationID: "ST-0101") == nil)
        #expect(StationSetup.problem(stationID: "ST 0101") == "expected 1 to 64 characters of A-Z a-z 0-9 . _ -; got \"ST 0101\"")
        #expect(StationSetup.problem(stationID: String(repeating: "A", count: 65)) != nil)
        #expect(StationSetup.problem(platformURL: "https://platform.example.cn/api") == nil)
        #expect(StationSetup.problem(platformURL: "ftp://x")?.contains("expected an http:// or https:// URL") == true)
        #expect(StationSetup.problem(platformURL: "https://user:pw@x/api")?.contains("must not contain a user name") == true)
        #expect(StationSetup.problem(purpose: "patrol") == nil)
        #expect(StationSetup.problem(purpose: "Patrol")?.hasPrefix("expected 1 to 32 characters of a-z 0-9 _ -") == true)
    }
}
