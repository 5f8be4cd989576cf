import Foundation
import SerialTransport
import TestSupport
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

/// End to end over real pseudo-terminals: the simulator's side is a `PseudoTerminal` master, the
/// agent's side a port opened with `SerialPortOpener`.
@Suite("Serial transport over pseudo-terminals")
struct PseudoTerminalTransportTests {
    @Test("the opener picks termios for a pty slave")
    func openerChoosesTermios() throws {
        let pty = try PseudoTerminal()
        #expect(try SerialPortOpener.driver(for: pty.slavePath) == .termios)
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        let termios = try #require(port as? TermiosSerialPort)
        #expect(termios.isPseudoTerminal)
        #expect(termios.name == pty.slavePath)
        #expect(termios.resolvedPath == pty.slavePath)
    }

    @Test("all 256 byte values cross the pty unchanged (raw mode on both sides)")
    func rawBytesArriveUnchanged() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        // CR, LF, ^C, ^D, ^S/^Q, DEL and 0xFF would all be altered by a cooked line discipline.
        let all = (0...255).map { UInt8($0) }
        try pty.write(all)
        let received = try readBytes(from: port, count: all.count)
        #expect(received == all)
    }

    @Test("bytes written on the master before the agent opens are buffered, not lost")
    func bytesWaitForTheAgent() throws {
        let pty = try PseudoTerminal()
        let frame: [UInt8] = [0x02, 0x31, 0x32, 0x0D, 0x0A, 0x03]
        try pty.write(frame)
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        #expect(try readBytes(from: port, count: frame.count) == frame)
    }

    @Test("a read with no data returns 0 after about its timeout")
    func readTimesOut() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        var buffer = [UInt8](repeating: 0, count: 16)
        let clock = ContinuousClock()
        let start = clock.now
        let count = try buffer.withUnsafeMutableBytes { try port.read(into: $0, timeout: .milliseconds(150)) }
        let elapsed = start.duration(to: clock.now)
        #expect(count == 0)
        #expect(elapsed >= .milliseconds(140))
        #expect(elapsed < .seconds(1))
    }

    @Test("split writes arrive complete and in order")
    func splitWritesArriveInOrder() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        let pieces: [[UInt8]] = [[0x02], [0x31, 0x41, 0x30], [0x30, 0x32, 0x46, 0x34, 0x42], [0x36, 0x43], [0x03]]
        for piece in pieces {
            try pty.write(piece)
            usleep(5_000)
        }
        let expected = pieces.flatMap { $0 }
        #expect(try readBytes(from: port, count: expected.count) == expected)
    }

    @Test("bytes written by the port arrive at the master")
    func portWritesReachTheMaster() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        let command: [UInt8] = [0x53, 0x00, 0x0D, 0x0A, 0xFF, 0x03]
        try port.write(command)
        var received: [UInt8] = []
        let deadline = ContinuousClock.now.advanced(by: .seconds(2))
        while received.count < command.count, ContinuousClock.now < deadline {
            received += try pty.read(timeout: .milliseconds(100))
        }
        #expect(received == command)
    }

    @Test("hang-up during a blocking read is reported as .hangup in well under a second")
    func hangUpDuringReadIsPrompt() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        onThread(after: .milliseconds(100)) { pty.hangUp() }
        let clock = ContinuousClock()
        let start = clock.now
        let error = serialError { () throws(SerialError) in
            // Silence for up to 3 s: only the hang-up can end this loop early.
            while clock.now < start.advanced(by: .seconds(3)) {
                _ = try port.read(maxCount: 64, timeout: .seconds(3))
            }
        }
        let elapsed = start.duration(to: clock.now)
        let failure = try #require(error)
        #expect(failure.code == .hangup)
        #expect(failure.path == pty.slavePath)
        #expect(elapsed < .seconds(1), "hang-up took \(elapsed)")
    }

    @Test("writing after a hang-up fails with .hangup")
    func writeAfterHangUp() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        pty.hangUp()
        let error = serialError { () throws(SerialError) in try port.write([0x01, 0x02]) }
        #expect(error?.code == .hangup)
    }

    @Test("close() from another thread ends a blocking read with .closed")
    func closeDuringRead() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        onThread(after: .milliseconds(100)) { port.close() }
        let clock = ContinuousClock()
        let start = clock.now
        let error = serialError { () throws(SerialError) -> [UInt8] in
            try port.read(maxCount: 16, timeout: .seconds(5))
        }
        #expect(error?.code == .closed)
        #expect(start.duration(to: clock.now) < .seconds(1))
        // And the port stays closed.
        #expect(serialError { () throws(SerialError) in try port.write([1]) }?.code == .closed)
    }

    @Test("a second open of the same device is refused as .busy")
    func secondOpenIsBusy() throws {
        let pty = try PseudoTerminal()
        let first = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        let error = serialError { () throws(SerialError) in
            try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        }
        #expect(error?.code == .busy)
        #expect(error?.description.contains(pty.slavePath) == true)
        first.close()
        let again = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        again.close()
    }

    @Test("a symlink (udev by-id style) is resolved with realpath")
    func symlinkIsResolved() throws {
        let directory = try TemporaryDirectory()
        let pty = try PseudoTerminal()
        let link = directory.file("usb-FTDI_FT232R_USB_UART_A10K4B2C-if00-port0")
        try #require(symlink(pty.slavePath, link) == 0)
        #expect(try DevicePath.resolve(link) == pty.slavePath)
        let port = try SerialPortOpener.open(path: link, settings: .default9600_8N1)
        defer { port.close() }
        let termios = try #require(port as? TermiosSerialPort)
        #expect(termios.name == link)
        #expect(termios.resolvedPath == pty.slavePath)
        try pty.write([0x41, 0x42])
        #expect(try readBytes(from: port, count: 2) == [0x41, 0x42])
    }

    @Test("a pty keeps the speed but forces 8 data bits and no parity (recorded, not an error)")
    func ptyForcesEightBitsNoParity() throws {
        let pty = try PseudoTerminal()
        let port = try TermiosSerialPort(path: pty.slavePath, settings: .default9600_7E1)
        defer { port.close() }
        #expect(port.settings == .default9600_7E1)
        #expect(port.effectiveSettings.baud == 9600)
        #expect(port.effectiveSettings.dataBits == 8)
        #expect(port.effectiveSettings.parity == .none)
    }

    @Test("ptys have no modem-control lines: TIOCMGET is reported as .unsupported")
    func ptyHasNoModemLines() throws {
        let pty = try PseudoTerminal()
        let port = try TermiosSerialPort(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        let error = serialError { () throws(SerialError) in try port.modemLines() }
        #expect(error?.code == .unsupported)
    }
}
