import DeviceProtocols
import EventModel
import Foundation
import Testing

@testable import StationConfig

/// The issues `ConfigLoader.parse` reports for `text` (named `station.toml`), one description
/// each; empty when the text is a valid configuration.
func issues(_ text: String, file: String = "station.toml") -> [String] {
    do {
        _ = try ConfigLoader.parse(text, file: file)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

/// Parses a configuration that must be valid.
func configuration(_ text: String, file: String = "/etc/station-agent/station.toml", sourceLocation: SourceLocation = #_sourceLocation) -> StationConfiguration? {
    do {
        return try ConfigLoader.parse(text, file: file)
    } catch {
        Issue.record("unexpected configuration errors:\n\(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Lines 1-4: a valid [station] and [platform].
let minimalHead = """
    [station]
    id = "ST-1"
    [platform]
    url = "https://p.example/api"
    """

/// `minimalHead`, then a [[device]] header on line 5 and `lines` from line 6.
func withDevice(_ lines: String) -> String {
    minimalHead + "\n[[device]]\n" + lines
}

/// A complete device (lines 6-10 when passed to `withDevice`) plus `extra` from line 11.
func device(_ extra: String = "", name: String = "reader-1", port: String = "port = \"/dev/ttyUSB0\"") -> String {
    """
    name = "\(name)"
    kind = "card-reader"
    profile = "rdm6300"
    purpose = "check-in"
    \(port)
    \(extra)
    """
}

let fullExample = """
    # Station ST-0101
    [station]
    id = "ST-0101"
    name = "Heping Rd Station"
    state_dir = "state"

    [station.location]
    district = "Heping"
    street = "Nanshi Street"
    community = "Xinhua"
    grid = "G-07"
    micro_grid = "G-07-3"

    [platform]
    url = "https://platform.example.cn/api"
    token = "s3cr3t-Token-Value"
    ca_file = "certs/ca.pem"
    timeout_ms = 8000
    batch_size = 50
    retry_initial_ms = 250
    retry_max_ms = 60_000

    [store]
    retention_hours = 72

    [log]
    level = "debug"

    [[device]]
    name = "reader-1"
    kind = "card-reader"
    profile = "rdm6300"
    purpose = "check-in"
    port = "/dev/ttyUSB0"
    baud = 9600
    dedup_window_ms = 1500
    reopen_initial_ms = 100
    reopen_max_ms = 3000

    [[device]]
    name = "reader_2"
    kind = "card-reader"
    profile = "text-hex"
    purpose = "door-bell"
    usb_vendor = "1A86"
    usb_product = "7523"
    usb_serial = "A10K3XYZ"
    """

@Suite("Schema: valid files")
struct SchemaValidTests {
    @Test func fullFileGivesTheExactConfiguration() throws {
        let parsed = try #require(configuration(fullExample))
        let expected = StationConfiguration(
            station: .init(
                id: "ST-0101", name: "Heping Rd Station", stateDirectory: "/etc/station-agent/state",
                location: GridLocation(district: "Heping", street: "Nanshi Street", community: "Xinhua", grid: "G-07", microGrid: "G-07-3")
            ),
            platform: .init(
                url: try #require(URL(string: "https://platform.example.cn/api")), credential: .token(.init("s3cr3t-Token-Value")),
                caFile: "/etc/station-agent/certs/ca.pem", timeout: .milliseconds(8000), batchSize: 50,
                retryInitial: .milliseconds(250), retryMax: .milliseconds(60000)
            ),
            store: .init(retention: .seconds(72 * 3600)),
            log: .init(level: .debug),
            devices: [
                .init(
                    name: "reader-1", purpose: "check-in", port: .path("/dev/ttyUSB0"), reopenInitial: .milliseconds(100),
                    reopenMax: .milliseconds(3000),
                    kind: .cardReader(.init(profile: .rdm6300, baud: 9600, dedupWindow: .milliseconds(1500)))
                ),
                .init(
                    name: "reader_2", purpose: "door-bell", port: .usb(vendor: 0x1A86, product: 0x7523, serial: "A10K3XYZ"),
                    reopenInitial: .milliseconds(200), reopenMax: .milliseconds(5000),
                    kind: .cardReader(.init(profile: .textHex, baud: nil, dedupWindow: .milliseconds(2000)))
                ),
            ],
            file: "/etc/station-agent/station.toml"
        )
        #expect(parsed == expected)
        #expect(parsed.platform.credential.map { if case .token(let secret) = $0 { secret.value } else { "" } } == "s3cr3t-Token-Value")
    }

    @Test func defaults() throws {
        let parsed = try #require(configuration(minimalHead))
        #expect(parsed.station.id == "ST-1")
        #expect(parsed.station.name == nil)
        #expect(parsed.station.stateDirectory == "/var/lib/station-agent")
        #expect(parsed.station.location == GridLocation())
        #expect(parsed.platform.url.absoluteString == "https://p.example/api")
        #expect(parsed.platform.credential == nil)
        #expect(parsed.platform.caFile == nil)
        #expect(parsed.platform.timeout == .milliseconds(5000))
        #expect(parsed.platform.batchSize == 200)
        #expect(parsed.platform.retryInitial == .milliseconds(500))
        #expect(parsed.platform.retryMax == .milliseconds(30000))
        #expect(parsed.store.retention == .seconds(168 * 3600))
        #expect(parsed.log.level == .info)
        #expect(parsed.devices.isEmpty)
    }

    @Test func deviceDefaults() throws {
        let parsed = try #require(configuration(withDevice(device())))
        #expect(parsed.devices == [
            .init(
                name: "reader-1", purpose: "check-in", port: .path("/dev/ttyUSB0"), reopenInitial: .milliseconds(200),
                reopenMax: .milliseconds(5000), kind: .cardReader(.init(profile: .rdm6300, baud: nil, dedupWindow: .milliseconds(2000)))
            ),
        ])
    }

    @Test func everyProfileAndLevelIsAccepted() throws {
        for profile in ReaderProfile.allCases {
            let text = withDevice(device().replacingOccurrences(of: "rdm6300", with: profile.rawValue))
            #expect(configuration(text)?.devices.first?.cardReader?.profile == profile)
        }
        for level in StationConfiguration.LogLevel.allCases {
            #expect(configuration(minimalHead + "\n[log]\nlevel = \"\(level.rawValue)\"")?.log.level == level)
        }
    }

    @Test func everyBaudIsAccepted() {
        for baud in [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] {
            #expect(configuration(withDevice(device("baud = \(baud)")))?.devices.first?.cardReader?.baud == baud)
        }
    }

    @Test func boundariesAreInclusive() throws {
        let text = """
            [station]
            id = "\(String(repeating: "a", count: 64))"
            [platform]
            url = "http://10.0.0.2:8080"
            timeout_ms = 600000
            batch_size = 1000
            retry_initial_ms = 60000
            retry_max_ms = 60000
            [store]
            retention_hours = 0
            [[device]]
            name = "\(String(repeating: "z", count: 32))"
            kind = "card-reader"
            profile = "em18"
            purpose = "a"
            port = "/dev/ttyS0"
            dedup_window_ms = 0
            reopen_initial_ms = 10
            reopen_max_ms = 10
            """
        let parsed = try #require(configuration(text))
        #expect(parsed.platform.timeout == .seconds(600))
        #expect(parsed.platform.batchSize == 1000)
        #expect(parsed.platform.retryMax == .seconds(60))
        #expect(parsed.store.retention == .zero)
        #expect(parsed.devices.first?.cardReader?.dedupWindow == .zero)
        #expect(parsed.devices.first?.reopenMax == .milliseconds(10))
    }

    @Test func tablesMayBeWrittenWithDottedKeysAndInlineTables() throws {
        let text = """
            station = { id = "ST-9", location.grid = "G1" }
            platform.url = "https://p.example"
            device = [ { name = "r", kind = "card-reader", profile = "em18", purpose = "patrol", port = "/dev/ttyACM0" } ]
            """
        let parsed = try #require(configuration(text))
        #expect(parsed.station.id == "ST-9")
        #expect(parsed.station.location.grid == "G1")
        #expect(parsed.platform.url.absoluteString == "https://p.example")
        #expect(parsed.devices.map(\.name) == ["r"])
    }

    @Test func urlsThatAreAccepted() {
        for url in ["https://p.example", "https://p.example/", "http://p.example:8080/api/v1", "HTTPS://P.EXAMPLE/x", "http://[::1]:8080/api"] {
            #expect(configuration("[station]\nid = \"S\"\n[platform]\nurl = \"\(url)\"")?.platform.url.absoluteString == url, "\(url)")
        }
    }

    @Test func tokenFileAndCAFileResolveAgainstTheConfigDirectory() throws {
        let text = minimalHead + "\ntoken_file = \"secrets/token\"\nca_file = \"/etc/ssl/ca.pem\""
        let parsed = try #require(configuration(text, file: "/opt/station/conf/station.toml"))
        #expect(parsed.platform.credential == .tokenFile("/opt/station/conf/secrets/token"))
        #expect(parsed.platform.caFile == "/etc/ssl/ca.pem")
    }

    @Test func relativeStateDirectoryResolution() throws {
        let cases: [(file: String, stateDir: String, expected: String)] = [
            ("/etc/station-agent/station.toml", "state", "/etc/station-agent/state"),
            ("/etc/station-agent/station.toml", "../state", "/etc/state"),
            ("/etc/station-agent/station.toml", "./a/./b/", "/etc/station-agent/a/b"),
            ("/etc/station-agent/station.toml", "/srv//agent/", "/srv/agent"),
            ("/station.toml", "data", "/data"),
            ("/etc/station-agent/station.toml", ".", "/etc/station-agent"),
        ]
        for c in cases {
            let text = "[station]\nid = \"S\"\nstate_dir = \"\(c.stateDir)\"\n[platform]\nurl = \"https://p.example\""
            #expect(configuration(text, file: c.file)?.station.stateDirectory == c.expected, "\(c)")
        }
        // A relative configuration file is taken from the current directory.
        let cwd = FileManager.default.currentDirectoryPath
        let text = "[station]\nid = \"S\"\nstate_dir = \"data\"\n[platform]\nurl = \"https://p.example\""
        let parsed = try #require(configuration(text, file: "conf/station.toml"))
        #expect(parsed.station.stateDirectory == PathResolver.normalize(cwd + "/conf/data"))
        #expect(parsed.station.stateDirectory.hasPrefix("/"))
    }

    @Test func portPathsAreNormalised() {
        let text = withDevice(device(port: "port = \"/dev//serial/by-id/./usb-1a86\""))
        #expect(configuration(text)?.devices.first?.port == .path("/dev/serial/by-id/usb-1a86"))
    }
}

@Suite("Schema: each rule and its message")
struct SchemaRuleTests {
    @Test func stationID() {
        #expect(issues("[station]\nid = \"ST 0101\"\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:2: station.id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -; got \"ST 0101\"",
        ])
        #expect(issues("[station]\nid = \"\"\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:2: station.id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -; got \"\"",
        ])
        let long = String(repeating: "x", count: 65)
        #expect(issues("[station]\nid = \"\(long)\"\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:2: station.id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -; got \"\(long)\"",
        ])
        #expect(issues("[station]\nid = 101\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:2: station.id: expected a string, got an integer",
        ])
    }

    @Test func missingRequiredKeysReportTheirTableHeader() {
        #expect(issues("[station]\nname = \"x\"\n[platform]\ntoken = \"t\"") == [
            "station.toml:1: station.id: required key is missing",
            "station.toml:3: platform.url: required key is missing",
        ])
    }

    @Test func missingTablesHaveNoLine() {
        #expect(issues("") == [
            "station.toml: station.id: required key is missing; the file has no [station] table",
            "station.toml: platform.url: required key is missing; the file has no [platform] table",
        ])
    }

    @Test func emptyOptionalStrings() {
        #expect(issues("[station]\nid = \"S\"\nname = \"\"\n[station.location]\ngrid = \"\"\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:3: station.name: expected a non-empty string; remove the key to leave it unset",
            "station.toml:5: station.location.grid: expected a non-empty string; remove the key to leave it unset",
        ])
    }

    @Test func paths() {
        #expect(issues("[station]\nid = \"S\"\nstate_dir = \"\"\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:3: station.state_dir: expected a path, got an empty string",
        ])
        #expect(issues("[station]\nid = \"S\"\nstate_dir = \"~/agent\"\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:3: station.state_dir: `~` is not expanded here; write the full path; got \"~/agent\"",
        ])
    }

    @Test func platformURL() {
        let cases: [(String, String)] = [
            ("ftp://p.example", "expected an http:// or https:// URL like \"https://platform.example.cn/api\"; got \"ftp://p.example\""),
            ("platform.example.cn/api", "expected an http:// or https:// URL like \"https://platform.example.cn/api\"; got \"platform.example.cn/api\""),
            ("https://p.example/a b", "expected an http:// or https:// URL like \"https://platform.example.cn/api\"; got \"https://p.example/a b\""),
            ("https://", "expected a URL with a host, like \"https://platform.example.cn/api\"; got \"https://\""),
            ("https:///api", "expected a URL with a host, like \"https://platform.example.cn/api\"; got \"https:///api\""),
            ("https://p.example/api?key=1", "expected a URL without a query (?…) or fragment (#…); got \"https://p.example/api?key=1\""),
            ("https://p.example/api#top", "expected a URL without a query (?…) or fragment (#…); got \"https://p.example/api#top\""),
            ("https://agent:pw@p.example/api", "the URL must not contain a user name or password; put the credential in `token` or `token_file`"),
        ]
        for (url, message) in cases {
            #expect(issues("[station]\nid = \"S\"\n[platform]\nurl = \"\(url)\"") == ["station.toml:4: platform.url: \(message)"], "\(url)")
        }
    }

    @Test func tokenAndTokenFileAreExclusive() {
        #expect(issues(minimalHead + "\ntoken = \"abc\"\ntoken_file = \"/etc/token\"") == [
            "station.toml:6: platform.token_file: `token` (line 5) and `token_file` are two ways to give the token; keep one of them",
        ])
    }

    @Test func integerRanges() {
        let cases: [(String, String)] = [
            ("timeout_ms = 99", "platform.timeout_ms: expected an integer from 100 to 600000; got 99"),
            ("timeout_ms = 600001", "platform.timeout_ms: expected an integer from 100 to 600000; got 600001"),
            ("batch_size = 0", "platform.batch_size: expected an integer from 1 to 1000; got 0"),
            ("batch_size = 1001", "platform.batch_size: expected an integer from 1 to 1000; got 1001"),
            ("retry_initial_ms = 9", "platform.retry_initial_ms: expected an integer from 10 to 60000; got 9"),
            ("retry_max_ms = 499", "platform.retry_max_ms: expected an integer from 500 (retry_initial_ms) to 3600000; got 499"),
            ("retry_max_ms = 3600001", "platform.retry_max_ms: expected an integer from 500 (retry_initial_ms) to 3600000; got 3600001"),
            ("retry_initial_ms = 40000", "platform.retry_initial_ms: expected at most retry_max_ms (30000, its default); got 40000; set retry_max_ms as well"),
            ("timeout_ms = \"5000\"", "platform.timeout_ms: expected an integer, got a string; write 5000 without quotes"),
            ("timeout_ms = 5000.0", "platform.timeout_ms: expected an integer, got a float"),
            ("batch_size = true", "platform.batch_size: expected an integer, got a boolean"),
            ("batch_size = [1]", "platform.batch_size: expected an integer, got an array"),
        ]
        for (line, message) in cases {
            #expect(issues(minimalHead + "\n" + line) == ["station.toml:5: \(message)"], "\(line)")
        }
        #expect(issues(minimalHead + "\nretry_initial_ms = 2000\nretry_max_ms = 1999") == [
            "station.toml:6: platform.retry_max_ms: expected an integer from 2000 (retry_initial_ms) to 3600000; got 1999",
        ])
        // When retry_initial_ms itself is wrong, retry_max_ms is checked against the absolute floor only.
        #expect(issues(minimalHead + "\nretry_initial_ms = 1\nretry_max_ms = 20") == [
            "station.toml:5: platform.retry_initial_ms: expected an integer from 10 to 60000; got 1",
        ])
    }

    @Test func storeAndLog() {
        #expect(issues(minimalHead + "\n[store]\nretention_hours = -1") == [
            "station.toml:6: store.retention_hours: expected an integer from 0 to 87600; got -1",
        ])
        #expect(issues(minimalHead + "\n[store]\nretention_hours = 87601") == [
            "station.toml:6: store.retention_hours: expected an integer from 0 to 87600; got 87601",
        ])
        #expect(issues(minimalHead + "\n[log]\nlevel = \"verbose\"") == [
            "station.toml:6: log.level: expected one of trace, debug, info, notice, warning, error, critical; got \"verbose\"",
        ])
        #expect(issues(minimalHead + "\n[log]\nlevel = \"INFO\"") == [
            "station.toml:6: log.level: expected one of trace, debug, info, notice, warning, error, critical; got \"INFO\"; did you mean \"info\"?",
        ])
    }

    @Test func deviceBaud() {
        #expect(issues(withDevice(device("baud = 9601"))) == [
            "station.toml:11: device[0].baud: expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200; got 9601",
        ])
        #expect(issues(withDevice(device("baud = \"9600\""))) == [
            "station.toml:11: device[0].baud: expected an integer, got a string; write 9600 without quotes",
        ])
    }

    @Test func deviceIndexCountsFromZeroInFileOrder() {
        let text = withDevice(device()) + "\n[[device]]\n" + device("baud = 9601", name: "reader-2", port: "port = \"/dev/ttyUSB1\"")
        // Lines 6-11: device[0]; line 12: [[device]]; lines 13-18: device[1].
        #expect(issues(text) == [
            "station.toml:18: device[1].baud: expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200; got 9601",
        ])
    }

    @Test func deviceNameKindProfilePurpose() {
        #expect(issues(withDevice(device(name: "Reader 1"))) == [
            "station.toml:6: device[0].name: expected 1 to 32 characters of a-z 0-9 _ -; got \"Reader 1\"",
        ])
        #expect(issues(withDevice(device(name: String(repeating: "r", count: 33)))) == [
            "station.toml:6: device[0].name: expected 1 to 32 characters of a-z 0-9 _ -; got \"\(String(repeating: "r", count: 33))\"",
        ])
        #expect(issues(withDevice(device().replacingOccurrences(of: "\"card-reader\"", with: "\"reader\""))) == [
            "station.toml:7: device[0].kind: expected one of card-reader, alarm-box, alarm-button, osdp-bus; got \"reader\"; did you mean \"card-reader\"?",
        ])
        #expect(issues(withDevice(device().replacingOccurrences(of: "\"rdm6300\"", with: "\"rdm630\""))) == [
            "station.toml:8: device[0].profile: expected one of rdm6300, em18, text-hex, text-decimal; got \"rdm630\"; did you mean \"rdm6300\"?",
        ])
        #expect(issues(withDevice(device().replacingOccurrences(of: "\"rdm6300\"", with: "\"wiegand\""))) == [
            "station.toml:8: device[0].profile: expected one of rdm6300, em18, text-hex, text-decimal; got \"wiegand\"",
        ])
        #expect(issues(withDevice(device().replacingOccurrences(of: "\"check-in\"", with: "\"Check In\""))) == [
            "station.toml:9: device[0].purpose: expected 1 to 32 characters of a-z 0-9 _ - (such as check-in, attendance, service-request, volunteer, patrol); got \"Check In\"",
        ])
    }

    @Test func deviceRequiredKeys() {
        #expect(issues(withDevice("port = \"/dev/ttyUSB0\"")) == [
            "station.toml:5: device[0].name: required key is missing",
            "station.toml:5: device[0].kind: required key is missing",
            "station.toml:5: device[0].profile: required key is missing",
            "station.toml:5: device[0].purpose: required key is missing",
        ])
    }

    @Test func deviceNamesAreUnique() {
        let text = withDevice(device()) + "\n[[device]]\n" + device(port: "port = \"/dev/ttyUSB1\"")
        #expect(issues(text) == [
            "station.toml:13: device[1].name: duplicate device name \"reader-1\": device[0] (line 6) has it too; device names must be unique",
        ])
    }

    @Test func portOrUSBExactlyOneWay() {
        #expect(issues(withDevice(device("usb_vendor = \"1a86\""))) == [
            "station.toml:10: device[0].port: `port` and `usb_vendor` (line 11) are two ways to name the device; set either `port` or `usb_vendor` + `usb_product`, not both",
        ])
        #expect(issues(withDevice(device(port: ""))) == [
            "station.toml:5: device[0]: no port: set `port` (like \"/dev/ttyUSB0\"), or `usb_vendor` and `usb_product` (like \"1a86\" and \"7523\")",
        ])
        #expect(issues(withDevice(device(port: "usb_vendor = \"1a86\""))) == [
            "station.toml:5: device[0].usb_product: required key is missing (usb_vendor is set; the two name the adapter together)",
        ])
        #expect(issues(withDevice(device(port: "usb_product = \"7523\""))) == [
            "station.toml:5: device[0].usb_vendor: required key is missing (usb_product is set; the two name the adapter together)",
        ])
        #expect(issues(withDevice(device(port: "usb_serial = \"A1\""))) == [
            "station.toml:5: device[0].usb_vendor: required key is missing (usb_serial needs usb_vendor and usb_product)",
            "station.toml:5: device[0].usb_product: required key is missing (usb_serial needs usb_vendor and usb_product)",
        ])
    }

    @Test func portValues() {
        #expect(issues(withDevice(device(port: "port = \"ttyUSB0\""))) == [
            "station.toml:10: device[0].port: expected an absolute device path like \"/dev/ttyUSB0\"; got \"ttyUSB0\"",
        ])
        #expect(issues(withDevice(device(port: "usb_vendor = \"1a8\"\nusb_product = \"75230\""))) == [
            "station.toml:10: device[0].usb_vendor: expected 4 hex digits like \"1a86\" (as lsusb prints them); got \"1a8\"",
            "station.toml:11: device[0].usb_product: expected 4 hex digits like \"1a86\" (as lsusb prints them); got \"75230\"",
        ])
        #expect(issues(withDevice(device(port: "usb_vendor = 0x1a86\nusb_product = \"+7a3\""))) == [
            "station.toml:10: device[0].usb_vendor: expected a string, got an integer",
            "station.toml:11: device[0].usb_product: expected 4 hex digits like \"1a86\" (as lsusb prints them); got \"+7a3\"",
        ])
        #expect(configuration(withDevice(device(port: "usb_vendor = \"ffff\"\nusb_product = \"0000\"")))?.devices.first?.port == .usb(vendor: 0xFFFF, product: 0, serial: nil))
    }

    @Test func portsAreNotShared() {
        let samePath = withDevice(device()) + "\n[[device]]\n" + device(name: "reader-2", port: "port = \"/dev/./ttyUSB0\"")
        #expect(issues(samePath) == [
            "station.toml:17: device[1].port: /dev/ttyUSB0 is already used by device[0] (line 10); each device needs its own port",
        ])
        let usb = "usb_vendor = \"1a86\"\nusb_product = \"7523\""
        let sameUSB = withDevice(device(port: usb)) + "\n[[device]]\n" + device(name: "reader-2", port: usb)
        #expect(issues(sameUSB) == [
            "station.toml:18: device[1].usb_vendor: usb 1a86:7523 is already used by device[0] (line 10); add usb_serial to tell identical adapters apart",
        ])
        let serials = withDevice(device(port: usb + "\nusb_serial = \"A\"")) + "\n[[device]]\n" + device(name: "reader-2", port: usb + "\nusb_serial = \"B\"")
        #expect(configuration(serials)?.devices.map(\.port) == [
            .usb(vendor: 0x1A86, product: 0x7523, serial: "A"), .usb(vendor: 0x1A86, product: 0x7523, serial: "B"),
        ])
    }

    @Test func deviceTimings() {
        #expect(issues(withDevice(device("dedup_window_ms = 60001"))) == [
            "station.toml:11: device[0].dedup_window_ms: expected an integer from 0 to 60000; got 60001",
        ])
        #expect(issues(withDevice(device("reopen_initial_ms = 1000\nreopen_max_ms = 999"))) == [
            "station.toml:12: device[0].reopen_max_ms: expected an integer from 1000 (reopen_initial_ms) to 600000; got 999",
        ])
        #expect(issues(withDevice(device("reopen_initial_ms = 6000"))) == [
            "station.toml:11: device[0].reopen_initial_ms: expected at most reopen_max_ms (5000, its default); got 6000; set reopen_max_ms as well",
        ])
        #expect(issues(withDevice(device("reopen_max_ms = 600001"))) == [
            "station.toml:11: device[0].reopen_max_ms: expected an integer from 200 (reopen_initial_ms) to 600000; got 600001",
        ])
    }

    @Test func tablesOfTheWrongShape() {
        #expect(issues("station = \"ST-1\"\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:1: station: expected a table ([station]), got a string",
        ])
        #expect(issues("[[station]]\nid = \"S\"\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:1: station: expected a table ([station]), got an array",
        ])
        #expect(issues(minimalHead + "\n[device]\nname = \"r\"") == [
            "station.toml:5: device: expected an array of tables ([[device]]), got a table",
        ])
        #expect(issues("device = [1]\n" + minimalHead) == [
            "station.toml:1: device[0]: expected a table, got an integer",
        ])
        #expect(issues("[station]\nid = \"S\"\nlocation = \"north\"\n[platform]\nurl = \"https://p.example\"") == [
            "station.toml:3: station.location: expected a table ([station.location]), got a string",
        ])
    }

    @Test func datesAreRejectedWithAHint() {
        #expect(issues(minimalHead + "\n[station.location]\ngrid = 2024-01-01") == [
            "station.toml:6:8: station.location.grid: dates are not supported here; write the value as a string",
        ])
    }

    @Test func syntaxErrorsCarryFileLineAndColumn() {
        #expect(issues("[station]\nid = \"ST-1\n") == [
            "station.toml:2:6: unterminated string: a string in \"quotes\" must end on its line (use \"\"\" for a multi-line string)",
        ])
        #expect(issues("[station]\nid = \"a\"\nid = \"b\"", file: "/etc/s.toml") == [
            "/etc/s.toml:3:1: station.id: duplicate key (first defined at line 2)",
        ])
    }
}

@Suite("Schema: unknown keys and collected problems")
struct SchemaUnknownTests {
    @Test func unknownKeysWithSuggestions() {
        // (fragment, line of the unknown key, issue); the fragments miss required keys too, so
        // only the presence of the issue is checked here.
        let cases: [(String, Int, String)] = [
            ("[platform]\ntimeout = 5000", 2, "platform.timeout: unknown key; did you mean `timeout_ms`?"),
            ("[platform]\nURL = \"x\"", 2, "platform.URL: unknown key; did you mean `url`?"),
            ("[station]\nstateDir = \"x\"", 2, "station.stateDir: unknown key; did you mean `state_dir`?"),
            ("[log]\nlevle = \"info\"", 2, "log.levle: unknown key; did you mean `level`?"),
            ("[log]\ncolour = true", 2, "log.colour: unknown key; [log] takes level"),
            ("[store]\nretention = 1", 2, "store.retention: unknown key; did you mean `retention_hours`?"),
            ("[station.locaton]\ngrid = \"x\"", 1, "station.locaton: unknown table; did you mean `[station.location]`?"),
            ("[plattform]\nurl = \"x\"", 1, "plattform: unknown table; did you mean `[platform]`?"),
            ("[devices]\nname = \"x\"", 1, "devices: unknown table; did you mean `[[device]]`?"),
            ("[[readers]]\nname = \"x\"", 1, "readers: unknown table; a configuration has the tables [station], [platform], [store], [log], [[device]], [sia], [metrics], [privacy]"),
            ("answer = 42", 1, "answer: unknown key; a configuration has the tables [station], [platform], [store], [log], [[device]], [sia], [metrics], [privacy]"),
            ("[station]\nmystery = 1", 2, "station.mystery: unknown key; [station] takes id, name, state_dir, table [station.location]"),
        ]
        for (fragment, line, expected) in cases {
            let found = issues(fragment)
            #expect(found.contains("station.toml:\(line): \(expected)"), "\(fragment): \(found)")
        }
        // With everything else valid, the unknown key is the only issue.
        #expect(issues(minimalHead + "\ntimeout = 5000") == ["station.toml:5: platform.timeout: unknown key; did you mean `timeout_ms`?"])
    }

    @Test func unknownDeviceKeyWithSuggestion() {
        #expect(issues(withDevice(device("vendor = \"1a86\""))) == [
            "station.toml:11: device[0].vendor: unknown key; did you mean `usb_vendor`?",
        ])
        #expect(issues(withDevice(device("baudrate = 9600"))) == [
            "station.toml:11: device[0].baudrate: unknown key; did you mean `baud`?",
        ])
        #expect(issues(withDevice(device("\"weird key\" = 1"))) == [
            "station.toml:11: device[0].\"weird key\": unknown key; [[device]] takes name, kind, profile, purpose, port, usb_vendor, usb_product, usb_serial, baud, dedup_window_ms, reopen_initial_ms, reopen_max_ms, supervision_seconds, input, drive, wiring, debounce_ms, minimum_press_ms, poll_ms, turnaround_gap_ms, table [[device.reader]]",
        ])
    }

    @Test func allProblemsAreCollectedInLineOrder() {
        let text = """
            [station]
            id = "bad id"
            colour = "red"

            [platform]
            timeout_ms = 1
            batch_size = "many"

            [log]
            level = "loud"

            [[device]]
            name = "r1"
            kind = "card-reader"
            profile = "rdm6300"
            purpose = "check-in"
            baud = 9601

            [[device]]
            name = "r1"
            kind = "card-reader"
            profile = "em18"
            purpose = "patrol"
            port = "/dev/ttyUSB0"
            usb_vendor = "1a86"
            """
        #expect(issues(text) == [
            "station.toml:2: station.id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -; got \"bad id\"",
            "station.toml:3: station.colour: unknown key; [station] takes id, name, state_dir, table [station.location]",
            "station.toml:5: platform.url: required key is missing",
            "station.toml:6: platform.timeout_ms: expected an integer from 100 to 600000; got 1",
            "station.toml:7: platform.batch_size: expected an integer, got a string",
            "station.toml:10: log.level: expected one of trace, debug, info, notice, warning, error, critical; got \"loud\"",
            "station.toml:12: device[0]: no port: set `port` (like \"/dev/ttyUSB0\"), or `usb_vendor` and `usb_product` (like \"1a86\" and \"7523\")",
            "station.toml:17: device[0].baud: expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200; got 9601",
            "station.toml:20: device[1].name: duplicate device name \"r1\": device[0] (line 13) has it too; device names must be unique",
            "station.toml:24: device[1].port: `port` and `usb_vendor` (line 25) are two ways to name the device; set either `port` or `usb_vendor` + `usb_product`, not both",
        ])
    }

    @Test func issuesWithoutALineComeLast() {
        #expect(issues("[station]\nid = \"x y\"") == [
            "station.toml:2: station.id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -; got \"x y\"",
            "station.toml: platform.url: required key is missing; the file has no [platform] table",
        ])
    }
}
