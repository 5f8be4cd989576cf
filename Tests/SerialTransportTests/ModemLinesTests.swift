import Foundation
import SerialTransport
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory for one modem-line test, removed afterwards.
private final class ModemLinesScratch {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/modem-lines-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func contents(_ name: String) throws -> String {
        try String(contentsOfFile: file(name), encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The SerialError thrown by `body`, or nil when it returned normally.
private func modemLineError<T>(_ body: () throws(SerialError) -> T) -> SerialError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

@Suite("Modem-control lines: simulated file source, libserialport source, opener")
struct ModemLinesTests {
    @Test("FileModemLines reads what VirtualAlarmButton writes, on the configured line")
    func fileReadsVirtualButton() throws {
        let scratch = try ModemLinesScratch()
        for line in ModemLine.allCases {
            let button = try VirtualAlarmButton(path: scratch.file("\(line.rawValue)/button.lines"), line: line)
            #expect(button.portPath == "sim:" + scratch.file("\(line.rawValue)/button.lines"))
            #expect(try scratch.contents("\(line.rawValue)/button.lines") == "cts=0 dsr=0 dcd=0 ri=0\n")

            let lines = try ModemLineOpener.open(path: button.portPath)
            defer { lines.close() }
            #expect(lines is FileModemLines)
            #expect(lines.name == button.portPath)
            #expect(try lines.signals() == .none)

            try button.press()
            var expected = ModemSignals.none
            expected[line] = true
            #expect(try lines.signals() == expected)
            for other in ModemLine.allCases where other != line {
                #expect(try lines.signals()[other] == false)
            }
            #expect(button.isPressed)

            try button.release()
            #expect(try lines.signals() == .none)
            #expect(!button.isPressed)
        }
    }

    @Test("the state file is exactly the documented text, for every line and wiring")
    func stateFileText() throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("b.lines"), line: .dcd)
        try button.press()
        #expect(try scratch.contents("b.lines") == "cts=0 dsr=0 dcd=1 ri=0\n")

        let closed = try VirtualAlarmButton(
            path: "sim:" + scratch.file("nc.lines"), line: .ri, wiring: .normallyClosed, poweredBy: .rts)
        #expect(closed.statePath == scratch.file("nc.lines"))
        #expect(try scratch.contents("nc.lines") == "cts=0 dsr=0 dcd=0 ri=1 source=rts\n")
        try closed.press()
        #expect(try scratch.contents("nc.lines") == "cts=0 dsr=0 dcd=0 ri=0 source=rts\n")
    }

    @Test("normally closed: asserted at rest; a press and a cut cable both open the loop")
    func normallyClosedWiring() throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("nc.lines"), line: .dsr, wiring: .normallyClosed)
        let lines = try FileModemLines(path: button.portPath)
        defer { lines.close() }
        #expect(try lines.signals().dsr)
        try button.press()
        #expect(try !lines.signals().dsr)
        try button.release()
        #expect(try lines.signals().dsr)
        try button.cutCable()
        #expect(button.isCableCut)
        #expect(try !lines.signals().dsr)
        try button.repairCable()
        #expect(try lines.signals().dsr)

        // Normally open: a cut cable is indistinguishable from a button at rest.
        let open = try VirtualAlarmButton(path: scratch.file("no.lines"), line: .dsr)
        let openLines = try FileModemLines(path: open.portPath)
        defer { openLines.close() }
        try open.cutCable()
        #expect(try openLines.signals() == .none)
        try open.press()
        #expect(try openLines.signals() == .none)
        #expect(!open.lineAsserted)
    }

    @Test("setOutput is recorded in the sibling outputs file; the button reports what was driven")
    func outputRecording() throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("b.lines"))
        #expect(try button.drivenOutputs() == [:])

        let lines = try FileModemLines(path: button.portPath)
        defer { lines.close() }
        #expect(lines.outputsPath == scratch.file("b.lines.outputs"))
        #expect(button.outputsPath == lines.outputsPath)
        #expect(try scratch.contents("b.lines.outputs") == "dtr=0 rts=0\n")
        #expect(try button.drivenOutputs() == [.dtr: false, .rts: false])

        try lines.setOutput(.dtr, high: true)
        #expect(try scratch.contents("b.lines.outputs") == "dtr=1 rts=0\n")
        #expect(try button.drivenOutputs() == [.dtr: true, .rts: false])
        #expect(lines.outputs == [.dtr: true, .rts: false])

        try lines.setOutput(.rts, high: true)
        try lines.setOutput(.dtr, high: false)
        #expect(try scratch.contents("b.lines.outputs") == "dtr=0 rts=1\n")
        #expect(try button.drivenOutputs() == [.dtr: false, .rts: true])

        // No temporary files are left behind by the atomic writes.
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        #expect(names == ["b.lines", "b.lines.outputs"])
    }

    @Test("with a power source, the line reads asserted only while the agent drives that output high")
    func poweredContact() throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("b.lines"), line: .cts, poweredBy: .dtr)
        let lines = try FileModemLines(path: button.portPath)
        defer { lines.close() }
        try button.press()
        #expect(try lines.signals() == .none, "an unpowered contact carries no signal")
        try lines.setOutput(.rts, high: true)
        #expect(try lines.signals() == .none, "RTS does not power a contact wired to DTR")
        try lines.setOutput(.dtr, high: true)
        #expect(try lines.signals() == ModemSignals(cts: true))
        try lines.setOutput(.dtr, high: false)
        #expect(try lines.signals() == .none)
    }

    @Test("a missing state file is .notFound naming the path; a vanished one is .hangup; plugging in again works")
    func missingAndVanishingFile() throws {
        let scratch = try ModemLinesScratch()
        let missing = scratch.file("nothing-here.lines")
        let error = try #require(modemLineError { () throws(SerialError) in try FileModemLines(path: "sim:" + missing) })
        #expect(error.code == .notFound)
        #expect(error.path == "sim:" + missing)
        #expect(error.description.contains(missing))
        #expect(error.description.contains("simulat"))
        let viaOpener = try #require(modemLineError { () throws(SerialError) in try ModemLineOpener.open(path: "sim:" + missing) })
        #expect(viaOpener.code == .notFound)
        #expect(viaOpener.description.contains(missing))

        let button = try VirtualAlarmButton(path: scratch.file("b.lines"))
        let lines = try FileModemLines(path: button.portPath)
        defer { lines.close() }
        button.unplug()
        let gone = try #require(modemLineError { () throws(SerialError) in try lines.signals() })
        #expect(gone.code == .hangup)
        #expect(gone.description.contains(scratch.file("b.lines")))
        #expect(modemLineError { () throws(SerialError) in try button.press() } == nil)
        #expect(modemLineError { () throws(SerialError) in try FileModemLines(path: button.portPath) }?.code == .notFound)

        try button.plugIn()
        #expect(try lines.signals() == ModemSignals(cts: true), "the press made while unplugged shows once plugged in")
    }

    @Test("a closed source refuses every call with .closed; close is idempotent")
    func closedSource() throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("b.lines"))
        let lines = try FileModemLines(path: button.portPath)
        lines.close()
        lines.close()
        #expect(modemLineError { () throws(SerialError) in try lines.signals() }?.code == .closed)
        #expect(modemLineError { () throws(SerialError) in try lines.setOutput(.dtr, high: true) }?.code == .closed)
    }

    @Test("the opener: sim: prefix and regular files are simulated; device paths go to libserialport")
    func openerChoosesImplementation() throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("b.lines"))
        #expect(ModemLineOpener.isSimulated(button.portPath))
        #expect(ModemLineOpener.isSimulated(button.statePath))
        #expect(!ModemLineOpener.isSimulated(scratch.path), "a directory is not a state file")
        #expect(!ModemLineOpener.isSimulated("/dev/null"))
        #expect(!ModemLineOpener.isSimulated("/dev/ttyUSB-station-agent-test-missing"))
        #expect(!ModemLineOpener.isSimulated(""))

        let plain = try ModemLineOpener.open(path: button.statePath)
        defer { plain.close() }
        #expect(plain is FileModemLines)
        try button.press()
        #expect(try plain.signals().cts)

        // A symlink to the state file (as a udev-style stable name would be) is a regular file too.
        let link = scratch.file("stable-name")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: button.statePath)
        let linked = try ModemLineOpener.open(path: link)
        defer { linked.close() }
        #expect(linked is FileModemLines)
        #expect(try linked.signals().cts)

        let device = "/dev/ttyUSB-station-agent-test-missing"
        let error = try #require(modemLineError { () throws(SerialError) in try ModemLineOpener.open(path: device) })
        #expect(error.code == .notFound)
        #expect(error.operation == "realpath", "the hardware path went to LibSerialPortModemLines")
        #expect(error.path == device)
        #expect(error.description.contains(device))

        let directory = try #require(modemLineError { () throws(SerialError) in try FileModemLines(path: "sim:" + scratch.path) })
        #expect(directory.code == .notASerialDevice)
    }

    @Test("LibSerialPortModemLines on a missing device is .notFound naming the path")
    func libserialportMissingDevice() throws {
        let path = "/dev/serial/by-id/usb-station-agent-test-no-such-button"
        let error = try #require(modemLineError { () throws(SerialError) in try LibSerialPortModemLines(path: path) })
        #expect(error.code == .notFound)
        #expect(error.path == path)
        #expect(error.description.contains(path))
        #expect(error.errno == ENOENT)
    }

    @Test("LibSerialPortModemLines on a character device libserialport does not list (/dev/null) is .notFound")
    func libserialportUnlistedDevice() throws {
        let error = try #require(modemLineError { () throws(SerialError) in try LibSerialPortModemLines(path: "/dev/null") })
        #expect(error.code == .notFound)
        #expect(error.libserialportReturn != nil)
        #expect(error.description.contains("/sys/class/tty"))
    }

    @Test("LibSerialPortModemLines on a pseudo-terminal fails clearly: ptys have no modem lines")
    func libserialportOnPty() throws {
        let pty = try PseudoTerminal()
        let error = try #require(modemLineError { () throws(SerialError) in try LibSerialPortModemLines(path: pty.slavePath) })
        #expect(error.code == .unsupported)
        #expect(error.path == pty.slavePath)
        #expect(error.operation.hasPrefix("sp_get_port_by_name"))
        #expect(error.libserialportReturn != nil)
        #expect(error.description.contains("no modem-control lines"))
        #expect(error.description.contains("sim:"))
        // The opener sends a pty to libserialport too (it is not a state file): same clear error.
        #expect(modemLineError { () throws(SerialError) in try ModemLineOpener.open(path: pty.slavePath) }?.code == .unsupported)
    }

    @Test("every sp_get_signals mask maps to the right lines")
    func libserialportMaskMapping() {
        // SP_SIG_CTS = 1, SP_SIG_DSR = 2, SP_SIG_DCD = 4, SP_SIG_RI = 8 (libserialport.h).
        for mask in UInt32(0)..<16 {
            let signals = ModemSignals(libserialportMask: mask)
            #expect(signals.cts == (mask & 1 != 0))
            #expect(signals.dsr == (mask & 2 != 0))
            #expect(signals.dcd == (mask & 4 != 0))
            #expect(signals.ri == (mask & 8 != 0))
        }
        #expect(ModemSignals(libserialportMask: 0xFFFF_FFF0) == .none)
    }

    @Test("state-file format: every line combination round-trips; malformed files are .io naming the file")
    func stateFileFormat() throws {
        for bits in 0..<16 {
            for source in [nil] + ModemOutput.allCases.map(Optional.some) {
                var signals = ModemSignals.none
                for (index, line) in ModemLine.allCases.enumerated() { signals[line] = bits & (1 << index) != 0 }
                let contents = ModemLineStateFile.Contents(signals: signals, source: source)
                let text = ModemLineStateFile.encode(contents)
                #expect(text.hasSuffix("\n"))
                #expect(try ModemLineStateFile.decode(text, path: "/x") == contents)
            }
        }
        #expect(try ModemLineStateFile.decode("ri=1", path: "/x") == .init(signals: ModemSignals(ri: true)))
        #expect(try ModemLineStateFile.decode("  dsr=1\tcts=1\r\n", path: "/x") == .init(signals: ModemSignals(cts: true, dsr: true)))

        let bad = ["", "\n", "cts", "cts=2", "cts=1 cts=0", "cts=yes", "dtr=1", "source=ri", "cts==1", "x=1 cts=1"]
        for text in bad {
            let error = modemLineError { () throws(SerialError) in try ModemLineStateFile.decode(text, path: "/tmp/b.lines") }
            #expect(error?.code == .io, "\(text.debugDescription)")
            #expect(error?.path == "/tmp/b.lines")
        }

        #expect(try ModemLineStateFile.decodeOutputs("dtr=1 rts=0\n", path: "/x") == [.dtr: true, .rts: false])
        #expect(try ModemLineStateFile.decodeOutputs("rts=1", path: "/x") == [.rts: true])
        for text in ["dtr=2", "cts=1", "dtr=1 dtr=0", "rts"] {
            #expect(modemLineError { () throws(SerialError) in try ModemLineStateFile.decodeOutputs(text, path: "/x") }?.code == .io)
        }

        let scratch = try ModemLinesScratch()
        try "cts=1 garbage\n".write(toFile: scratch.file("bad.lines"), atomically: true, encoding: .utf8)
        let error = try #require(modemLineError { () throws(SerialError) in try FileModemLines(path: "sim:" + scratch.file("bad.lines")) })
        #expect(error.code == .io)
        #expect(error.description.contains(scratch.file("bad.lines")))
        #expect(error.description.contains("garbage"))

        try String(repeating: "cts=1 ", count: 100).write(toFile: scratch.file("big.lines"), atomically: true, encoding: .utf8)
        #expect(modemLineError { () throws(SerialError) in try FileModemLines(path: scratch.file("big.lines")) }?.code == .io)
    }

    @Test("ModemSignals: subscript reads and writes each line; description is the file text")
    func signalsValue() {
        var signals = ModemSignals.none
        for line in ModemLine.allCases {
            signals[line] = true
            #expect(signals[line])
            for other in ModemLine.allCases where other != line { #expect(!signals[other]) }
            signals[line] = false
        }
        #expect(ModemSignals(cts: true, ri: true).description == "cts=1 dsr=0 dcd=0 ri=1")
        #expect(ModemLine.allCases.map(\.db9Pin) == [8, 6, 1, 9])
        #expect(ModemOutput.allCases.map(\.db9Pin) == [4, 7])
    }

    @Test("bounce toggles the contact and leaves it where it was")
    func bounceRestores() throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("b.lines"))
        let lines = try FileModemLines(path: button.portPath)
        defer { lines.close() }
        try button.bounce(times: 5, interval: .milliseconds(1))
        #expect(!button.isPressed)
        #expect(try lines.signals() == .none)
        try button.press()
        try button.bounce(times: 4, interval: .zero)
        #expect(button.isPressed)
        #expect(try lines.signals().cts)

        let clock = ContinuousClock()
        let start = clock.now
        try button.press(for: .milliseconds(50))
        #expect(clock.now - start >= .milliseconds(50))
        #expect(!button.isPressed)
        #expect(try lines.signals() == .none)
    }

    @Test("hold(for:) presses, waits without blocking a thread, and releases")
    func asyncHold() async throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("b.lines"))
        let lines = try FileModemLines(path: button.portPath)
        defer { lines.close() }
        let clock = ContinuousClock()
        let start = clock.now
        try await button.hold(for: .milliseconds(100))
        #expect(clock.now - start >= .milliseconds(100))
        #expect(!button.isPressed)
        #expect(try lines.signals() == .none)
    }

    @Test("a cancelled hold(for:) was pressed while held and still releases the button")
    func cancelledHold() async throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("b.lines"))
        let lines = try FileModemLines(path: button.portPath)
        defer { lines.close() }
        let outcome = await withTaskGroup(of: (any Error)?.self) { group -> (sawPress: Bool, error: (any Error)?) in
            group.addTask {
                do {
                    try await button.hold(for: .seconds(60))
                    return nil
                } catch {
                    return error
                }
            }
            // Generous deadline: the test process shares two cores with parallel tests.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            var sawPress = false
            while !sawPress, clock.now < deadline {
                sawPress = (try? lines.signals().cts) ?? false
                if !sawPress { try? await Task.sleep(for: .milliseconds(5)) }
            }
            group.cancelAll()
            let error = await group.next() ?? nil
            return (sawPress, error)
        }
        #expect(outcome.sawPress)
        #expect(outcome.error is CancellationError)
        #expect(!button.isPressed)
        #expect(try lines.signals() == .none)
    }

    @Test("a reader polling while the button toggles thousands of times never sees a partial file")
    func atomicWritesUnderContention() throws {
        let scratch = try ModemLinesScratch()
        let button = try VirtualAlarmButton(path: scratch.file("b.lines"), line: .ri, poweredBy: .dtr)
        let lines = try FileModemLines(path: button.portPath)
        defer { lines.close() }
        try lines.setOutput(.dtr, high: true)

        let failures = LockedFailures()
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            for index in 0..<1000 {
                do {
                    switch worker {
                    case 0:
                        try index.isMultiple(of: 2) ? button.press() : button.release()
                    default:
                        let signals = try lines.signals()
                        if signals.cts || signals.dsr || signals.dcd { failures.add("another line asserted: \(signals)") }
                    }
                } catch {
                    failures.add("\(error)")
                }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(3))")
        try button.press()
        #expect(try lines.signals() == ModemSignals(ri: true))
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        #expect(names == ["b.lines", "b.lines.outputs"])
    }
}

/// Failure messages collected from several threads.
private final class LockedFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []

    func add(_ message: String) {
        lock.lock()
        messages.append(message)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return messages
    }
}
