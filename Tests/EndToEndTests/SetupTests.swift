import DeviceProtocols
import Foundation
import OSDP
import SerialTransport
import TestSupport
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

/// `station-agent setup` end to end: a technician's answers come from this script through the
/// wizard's standard input, each written when its prompt appears; the devices are the virtual
/// twins (an RDM6300 reader, a bus of two OSDP readers at addresses 0 and 5, a normally-closed
/// button on DSR powered from RTS) and the platform is the emulator.
@Suite(.timeLimit(.minutes(5)))
struct SetupTests {
    @Test func aScriptedTechnicianGoesFromNothingToAProvenKiosk() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let reader = station.readers["reader-1"]!
        let bus = try VirtualOSDPBus(linkPath: station.directory + "/osdp-1", readers: [OSDPPeripheral.Configuration(address: 5), OSDPPeripheral.Configuration(address: 0)])
        bus.start()
        defer { bus.stop() }
        let button = try VirtualAlarmButton(
            path: station.directory + "/button-1.lines", line: .dsr, wiring: .normallyClosed, poweredBy: .rts)
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        let config = station.directory + "/etc/station.toml"
        let setup = try ChildProcess(
            Binaries.agent,
            [
                "setup", "--config", config, "--port", reader.linkPath, "--port", bus.linkPath, "--port", button.portPath,
                "--state-dir", station.directory + "/kiosk-state", "--seconds", "120", "--button-seconds", "60",
            ],
            input: true)

        // What only the technician knows; a wrong id is asked again.
        try await setup.answer("Station id", "ST 0101")
        _ = try await setup.firstLine(containing: "expected 1 to 64 characters")
        try await setup.answer("Station id", "ST-SETUP")
        try await setup.answer("Platform URL", platform.baseURL)
        try await setup.answer("Bearer token file", "")
        try await setup.answer("district", "Heping District")
        try await setup.answer("street", "")
        try await setup.answer("community", "")
        try await setup.answer("grid", "G-07")
        try await setup.answer("micro-grid", "")

        // The reader is named from a tap; Enter ends the listening (the OSDP bus stays silent).
        _ = try await setup.firstLine(containing: "Tap a card on each card reader now")
        let named = await keepTapping([(reader, "1A002F4B6C")]) {
            setup.log.contains("\(reader.linkPath): card reader, profile rdm6300")
        }
        #expect(named, "\(setup.log)")
        try setup.send("")

        // Both OSDP readers answer the scan; the button is found from one press.
        _ = try await setup.firstLine(containing: "OSDP reader at address 0, 9600 baud")
        _ = try await setup.firstLine(containing: "OSDP reader at address 5, 9600 baud")
        try await setup.answer("Is there a dry-contact alarm button", "y")
        _ = try await setup.firstLine(containing: "Now press the alarm button")
        try button.press()
        _ = try await setup.firstLine(containing: "the button, on DSR")
        try button.release()

        try await setup.answer("reader-1 (card reader", "attendance")
        try await setup.answer("(OSDP address 0)", "patrol")
        try await setup.answer("(OSDP address 5)", "")
        try await setup.answer("district's key file", "raw")

        // The file is written and read back, doctor passes, and a test alarm goes through a
        // child agent to the platform.
        _ = try await setup.firstLine(containing: "== Checking it with `station-agent doctor`", timeout: .seconds(60))
        _ = try await setup.firstLine(containing: "Press the alarm button now", timeout: .seconds(60))
        try button.press()
        _ = try await setup.firstLine(containing: "PASS: alarm stored and received by the platform", timeout: .seconds(60))
        try button.release()
        #expect(await setup.waitForExit(timeout: .seconds(60)) == 0, "\(setup.log)")
        let log = setup.log
        #expect(log.contains("doctor: ") && log.contains(" WARN, 0 FAIL"), "\(log)")
        #expect(log.contains("setup took "), "\(log)")

        let written = try String(contentsOfFile: config, encoding: .utf8)
        for line in [
            "id = \"ST-SETUP\"", "url = \"\(platform.baseURL)\"", "district = \"Heping District\"", "grid = \"G-07\"",
            "card_ids = \"raw\"", "kind = \"card-reader\"", "profile = \"rdm6300\"", "purpose = \"attendance\"",
            "port = \"\(reader.linkPath)\"", "kind = \"osdp-bus\"", "port = \"\(bus.linkPath)\"", "baud = 9600", "address = 0", "purpose = \"patrol\"", "address = 5",
            "kind = \"alarm-button\"", "port = \"\(button.portPath)\"", "input = \"dsr\"", "drive = \"rts\"",
            "wiring = \"normally-closed\"",
        ] {
            #expect(written.contains("\n" + line + "\n"), "missing \(line) in:\n\(written)")
        }
        #expect(!written.contains("1A002F4B6C"), "the card number stays out of the file:\n\(written)")
        let check = try ChildProcess(Binaries.agent, ["check-config", config])
        #expect(await check.waitForExit() == 0, "\(check.log)")

        // The platform has the test alarm, marked as one.
        let alarms = try await platform.alarms(station: "ST-SETUP")
        #expect(alarms.count == 1, "\(alarms)")
        await platform.stop()
    }

    /// A reader and an alarm box: the listening ends by itself once both are named (and takes
    /// the Enter it asked for); a default key file that is not there is asked again; the old file
    /// is kept as .bak; the test alarm is a press of the box, through a child agent.
    @Test func aReaderAndAnAlarmBoxWithAnOldFileAndNoKeyYet() async throws {
        let station = try Station(readers: [("reader-1", .em18)])
        defer { station.remove() }
        let reader = station.readers["reader-1"]!
        let box = try VirtualAlarmBox(linkPath: station.directory + "/alarm-1", heartbeatInterval: .seconds(1))
        defer { box.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        let config = station.directory + "/station.toml"
        try "# the old file\n".write(toFile: config, atomically: true, encoding: .utf8)
        let setup = try ChildProcess(
            Binaries.agent,
            ["setup", "--config", config, "--port", reader.linkPath, "--port", box.linkPath, "--state-dir", station.directory + "/kiosk-state"],
            input: true)
        try await setup.answer("exists. Replace it", "y")
        try await setup.answer("Station id", "ST-READER")
        try await setup.answer("Platform URL", platform.baseURL)
        for part in ["Bearer token file", "district", "street", "community", "grid", "micro-grid"] { try await setup.answer(part, "") }
        _ = try await setup.firstLine(containing: "Tap a card on each card reader now")
        let named = await keepTapping([(reader, "0F00A1B2C3")]) { setup.log.contains("Every port is named. Press Enter to go on.") }
        #expect(named, "\(setup.log)")
        try setup.send("")
        try await setup.answer("reader-1 (card reader, profile em18", "")
        // Enter takes the default key file, which is not there: asked again; a key every user
        // may read is refused as the agent would refuse it.
        try await setup.answer("district's key file", "")
        _ = try await setup.firstLine(containing: "/etc/station-agent/district.key does not exist")
        let openKey = station.directory + "/district.key"
        try String(repeating: "ab", count: 32).write(toFile: openKey, atomically: true, encoding: .utf8)
        #expect(chmod(openKey, 0o644) == 0)
        try setup.send(openKey)
        _ = try await setup.firstLine(containing: "(mode 644)")
        try setup.send("raw")
        _ = try await setup.firstLine(containing: "Press the alarm button now", timeout: .seconds(60))
        box.press()
        _ = try await setup.firstLine(containing: "PASS: alarm stored and received by the platform", timeout: .seconds(60))
        #expect(await setup.waitForExit(timeout: .seconds(30)) == 0, "\(setup.log)")
        #expect(setup.log.contains("\(box.linkPath): one-key alarm box"), "\(setup.log)")
        #expect(!setup.log.contains("dry-contact"), "no port was left to ask about a button:\n\(setup.log)")
        #expect(try String(contentsOfFile: config + ".bak", encoding: .utf8) == "# the old file\n")
        let written = try String(contentsOfFile: config, encoding: .utf8)
        #expect(written.contains("\nprofile = \"em18\"\n") && written.contains("\npurpose = \"check-in\"\n"), "\(written)")
        #expect(written.contains("\nkind = \"alarm-box\"\n") && written.contains("\nport = \"\(box.linkPath)\"\n"), "\(written)")
        let alarms = try await platform.alarms(station: "ST-READER")
        #expect(alarms.count == 1, "\(alarms)")
        await platform.stop()
    }

    @Test func theWizardStopsWithoutWritingWhenTheAnswersEnd() async throws {
        let directory = try TemporaryDirectory()
        let config = directory.path + "/station.toml"
        let setup = try ChildProcess(
            Binaries.agent, ["setup", "--config", config, "--port", directory.path + "/no-such-button.lines"], input: true)
        _ = try await setup.firstLine(containing: "Station id")
        try setup.send("ST-1")
        try setup.closeInput()
        #expect(await setup.waitForExit(timeout: .seconds(30)) == 1, "\(setup.log)")
        #expect(setup.log.contains("setup stopped: the input ended at \"Platform URL"), "\(setup.log)")
        #expect(!FileManager.default.fileExists(atPath: config))
    }
}
