import StationConfig
import Testing

@Suite("Schema: alarm devices and the heartbeat")
struct AlarmDeviceSchemaTests {
    @Test func anAlarmBoxNeedsNoProfileAndTakesItsSupervisionTime() throws {
        let parsed = try #require(configuration(withDevice("""
            name = "alarm-1"
            kind = "alarm-box"
            purpose = "one-key-alarm"
            port = "/dev/ttyUSB1"
            supervision_seconds = 12
            """)))
        let device = try #require(parsed.devices.first)
        #expect(device.kind == .alarmBox(.init(supervision: .seconds(12))))
        #expect(device.kind.name == .alarmBox)
    }

    @Test func anAlarmButtonTakesItsWiringWithDefaults() throws {
        let parsed = try #require(configuration(withDevice("""
            name = "button-1"
            kind = "alarm-button"
            purpose = "one-key-alarm"
            port = "sim:/tmp/station/button-1.lines"
            wiring = "normally-closed"
            minimum_press_ms = 500
            """)))
        let button = try #require(parsed.devices.first?.alarmButton)
        #expect(parsed.devices.first?.port == .path("sim:/tmp/station/button-1.lines"))
        #expect(button.input == "cts" && button.drive == "dtr")
        #expect(button.normallyClosed)
        #expect(button.debounce == .milliseconds(30))
        #expect(button.minimumPress == .milliseconds(500))
    }

    @Test func keysOfAnotherKindOfDeviceAreErrors() {
        #expect(issues(withDevice("""
            name = "alarm-1"
            kind = "alarm-box"
            purpose = "one-key-alarm"
            port = "/dev/ttyUSB1"
            profile = "rdm6300"
            input = "cts"
            """)) == [
                "station.toml:10: device[0].profile: `profile` applies to card-reader devices only; this device is a alarm-box: remove it",
                "station.toml:11: device[0].input: `input` applies to alarm-button devices only; this device is a alarm-box: remove it",
            ])
    }

    @Test func aCardReaderStillNeedsItsProfileAndSimPathsAreForButtonsOnly() {
        #expect(issues(withDevice("""
            name = "reader-1"
            kind = "card-reader"
            purpose = "check-in"
            port = "sim:/tmp/x"
            """)) == [
                "station.toml:5: device[0].profile: required key is missing",
                "station.toml:9: device[0].port: expected an absolute device path like \"/dev/ttyUSB0\"; got \"sim:/tmp/x\"",
            ])
    }

    @Test func aButtonIsNotNamedByUSBIdentity() {
        let problems = issues(withDevice("""
            name = "button-1"
            kind = "alarm-button"
            purpose = "one-key-alarm"
            usb_vendor = "0403"
            usb_product = "6001"
            """))
        #expect(problems.count == 1)
        #expect(problems.first?.contains("device[0].usb_vendor: an alarm-button is named by `port`") == true)
    }

    @Test func heartbeatSecondsHasARange() throws {
        #expect(try #require(configuration(minimalHead)).platform.heartbeatInterval == .seconds(30))
        #expect(issues(minimalHead + "\nheartbeat_seconds = 0") == [
            "station.toml:5: platform.heartbeat_seconds: expected an integer from 1 to 3600; got 0",
        ])
    }
}

/// `check-config` prints the effective configuration; read back, it is the same configuration,
/// for every kind of device (each with only its own keys, an OSDP bus with its readers).
@Suite struct EffectiveConfigurationTests {
    @Test func theRenderedConfigurationReadsBackTheSame() throws {
        let text = minimalHead + """

            [[device]]
            name = "reader-1"
            kind = "card-reader"
            profile = "em18"
            purpose = "check-in"
            port = "/dev/ttyUSB0"
            baud = 19200
            dedup_window_ms = 900

            [[device]]
            name = "alarm-1"
            kind = "alarm-box"
            purpose = "one-key-alarm"
            usb_vendor = "1a86"
            usb_product = "7523"
            supervision_seconds = 12

            [[device]]
            name = "button-1"
            kind = "alarm-button"
            purpose = "one-key-alarm"
            port = "sim:/tmp/station/button-1.lines"
            wiring = "normally-closed"

            [[device]]
            name = "bus-1"
            kind = "osdp-bus"
            purpose = "check-in"
            port = "/dev/ttyUSB2"
            baud = 38400
            turnaround_gap_ms = 4

            [[device.reader]]
            address = 1
            name = "entrance"
            secure = true
            key_file = "/etc/station-agent/osdp/entrance.key"
            install = true
            alarm_input = 0

            [[device.reader]]
            address = 2
            name = "desk"
            purpose = "service-request"
            """
        let parsed = try #require(configuration(text))
        #expect(parsed.devices.map(\.kind.name) == [.cardReader, .alarmBox, .alarmButton, .osdpBus])
        let rendered = String(describing: parsed)
        #expect(rendered.contains("[[device.reader]]"))
        let again = try #require(configuration(rendered))
        #expect(again.devices == parsed.devices)
    }
}
