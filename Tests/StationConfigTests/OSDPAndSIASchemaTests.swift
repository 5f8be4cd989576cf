import Foundation
import StationConfig
import Testing

@Suite("Schema: OSDP buses and SIA DC-09")
struct OSDPAndSIASchemaTests {
    let bus = """
        name = "door-bus"
        kind = "osdp-bus"
        port = "/dev/ttyUSB2"
        purpose = "check-in"
        baud = 19200

        [[device.reader]]
        address = 1
        name = "entrance"
        secure = true
        key_file = "/etc/station-agent/osdp/entrance.key"
        alarm_input = 0

        [[device.reader]]
        address = 2
        name = "desk"
        purpose = "service-request"
        """

    @Test func anOSDPBusWithItsReaders() throws {
        let parsed = try #require(configuration(withDevice(bus)))
        let device = try #require(parsed.devices.first)
        #expect(device.kind.name == .osdpBus)
        #expect(device.osdpBus?.baud == 19200)
        #expect(device.osdpBus?.readers == [
            .init(address: 1, name: "entrance", purpose: "check-in", keyFile: "/etc/station-agent/osdp/entrance.key", alarmInput: 0),
            .init(address: 2, name: "desk", purpose: "service-request"),
        ])
    }

    @Test func readerMistakesAreNamed() {
        let broken = bus
            .replacingOccurrences(of: "address = 2", with: "address = 1")
            .replacingOccurrences(of: "key_file = \"/etc/station-agent/osdp/entrance.key\"\n", with: "")
        let problems = issues(withDevice(broken))
        #expect(problems.contains { $0.contains("device[0].reader[0].key_file: a secure reader needs key_file") }, "\(problems)")
        #expect(problems.contains { $0.contains("device[0].reader[1].address: address 1 is already used by reader[0]") }, "\(problems)")
    }

    @Test func aBusNeedsReadersAndAnOSDPSpeed() {
        let problems = issues(withDevice("""
            name = "door-bus"
            kind = "osdp-bus"
            port = "/dev/ttyUSB2"
            purpose = "check-in"
            baud = 1200
            """))
        #expect(problems.contains { $0.contains("device[0].baud: expected an OSDP bus speed") }, "\(problems)")
        #expect(problems.contains { $0.contains("an osdp-bus needs at least one [[device.reader]]") }, "\(problems)")
    }

    @Test func aSIASectionIsRead() throws {
        let parsed = try #require(configuration(minimalHead + """

            [sia]
            receiver = "10.20.0.5:12300"
            account = "a1b2"
            receiver_number = "1"
            format = "ADM-CID"
            link_test_seconds = 0
            """))
        let sia = try #require(parsed.sia)
        #expect(sia.host == "10.20.0.5" && sia.port == 12300)
        #expect(sia.account == "A1B2")
        #expect(sia.format == "ADM-CID")
        #expect(sia.linkTestInterval == nil)
        #expect(sia.retryInterval == .seconds(10))
    }

    @Test func siaMistakesAreNamed() {
        let problems = issues(minimalHead + """

            [sia]
            receiver = "10.20.0.5"
            account = "12"
            retry_seconds = 2
            """)
        #expect(problems.contains { $0.contains("sia.receiver: expected HOST:PORT") }, "\(problems)")
        #expect(problems.contains { $0.contains("sia.account: expected 3 to 16 hex digits") }, "\(problems)")
        #expect(problems.contains { $0.contains("sia.retry_seconds: expected an integer from 5 to 60") }, "\(problems)")
    }
}
