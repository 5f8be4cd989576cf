import Foundation
import SerialTransport
import TestSupport
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

@Suite("Errors, settings and path handling")
struct ErrorsAndSettingsTests {
    @Test("opening a missing path fails with .notFound naming the path and what to do")
    func missingPath() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("ttyUSB-not-there")
        let error = try #require(
            serialError { () throws(SerialError) in try SerialPortOpener.open(path: path, settings: .default9600_8N1) })
        #expect(error.code == .notFound)
        #expect(error.path == path)
        #expect(error.errno == ENOENT)
        #expect(error.description.contains(path))
        #expect(error.description.contains("station-agent ports"))
    }

    @Test("a dangling by-id symlink (device unplugged) is .notFound naming the link")
    func danglingLink() throws {
        let directory = try TemporaryDirectory()
        let link = directory.file("usb-reader")
        try #require(symlink(directory.file("gone"), link) == 0)
        let error = serialError { () throws(SerialError) in try SerialPortOpener.open(path: link, settings: .default9600_8N1) }
        #expect(error?.code == .notFound)
        #expect(error?.path == link)
    }

    @Test("a regular file or a directory is refused as .notASerialDevice with a clear message")
    func notASerialDevice() throws {
        let directory = try TemporaryDirectory()
        let file = directory.file("config.toml")
        try #require(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        for path in [file, directory.path] {
            let error = try #require(
                serialError { () throws(SerialError) in try SerialPortOpener.open(path: path, settings: .default9600_8N1) })
            #expect(error.code == .notASerialDevice)
            #expect(error.description.contains(path))
            #expect(error.description.contains("not a character device"))
        }
        // Termios directly on a non-tty character device: tcgetattr says ENOTTY.
        let devNull = try #require(
            serialError { () throws(SerialError) in try TermiosSerialPort(path: "/dev/null", settings: .default9600_8N1) })
        #expect(devNull.code == .notASerialDevice)
        #expect(devNull.errno == ENOTTY)
        #expect(devNull.path == "/dev/null")
    }

    @Test(
        "a device the user may not open is .permissionDenied with the dialout advice",
        .enabled(
            if: geteuid() != 0,
            "running as root: root bypasses file permissions, so open() cannot fail with EACCES; errnoMapping() covers the mapping")
    )
    func permissionDenied() throws {
        let pty = try PseudoTerminal()
        try #require(chmod(pty.slavePath, 0) == 0)
        let error = serialError { () throws(SerialError) in
            try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        }
        #expect(error?.code == .permissionDenied)
        #expect(error?.description.contains("dialout") == true)
    }

    @Test("errno values map to codes with advice")
    func errnoMapping() {
        let denied = SerialError.posix(EACCES, path: "/dev/ttyUSB0", operation: "open")
        #expect(denied.code == .permissionDenied)
        #expect(denied.errno == EACCES)
        #expect(denied.description.contains("dialout"))
        #expect(denied.description.contains("/dev/ttyUSB0"))
        #expect(denied.description.contains("open"))

        let missing = SerialError.posix(ENOENT, path: "/dev/ttyUSB0", operation: "open")
        #expect(missing.code == .notFound)
        #expect(missing.description.contains("plugged in"))
        #expect(missing.description.contains("station-agent ports"))

        #expect(SerialError.posix(ENODEV, path: "p", operation: "open").code == .notFound)
        #expect(SerialError.posix(ENXIO, path: "p", operation: "open").code == .notFound)
        #expect(SerialError.posix(EPERM, path: "p", operation: "open").code == .permissionDenied)
        #expect(SerialError.posix(EBUSY, path: "p", operation: "open").code == .busy)
        #expect(SerialError.posix(EIO, path: "p", operation: "read").code == .hangup)
        #expect(SerialError.posix(ENOTTY, path: "p", operation: "tcgetattr").code == .notASerialDevice)
        #expect(SerialError.posix(EINVAL, path: "p", operation: "tcsetattr").code == .configuration)
        #expect(SerialError.posix(EBADF, path: "p", operation: "read").code == .closed)
        #expect(SerialError.posix(ENOMEM, path: "p", operation: "read").code == .io)
    }

    @Test("settings are validated before any device is touched")
    func settingsValidation() throws {
        let pty = try PseudoTerminal()
        let cases: [(SerialSettings, String)] = [
            (SerialSettings(baud: 12_345), "baud rate 12345"),
            (SerialSettings(baud: 0), "baud rate 0"),
            (SerialSettings(baud: 9600, dataBits: 9), "data bits"),
            (SerialSettings(baud: 9600, dataBits: 4), "data bits"),
            (SerialSettings(baud: 9600, stopBits: 3), "stop bits"),
        ]
        for (settings, fragment) in cases {
            let error = try #require(
                serialError { () throws(SerialError) in try SerialPortOpener.open(path: pty.slavePath, settings: settings) })
            #expect(error.code == .configuration)
            #expect(error.description.contains(fragment), "\(error)")
            #expect(error.path == pty.slavePath)
        }
        // Nothing was left open: the device can be opened normally.
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default115200_8N1)
        port.close()
    }

    @Test("settings presets and their notation")
    func presets() {
        #expect(SerialSettings.default9600_8N1.description == "9600 8N1")
        #expect(SerialSettings.default115200_8N1.description == "115200 8N1")
        #expect(SerialSettings.default9600_7E1.description == "9600 7E1")
        #expect(SerialSettings(baud: 19_200, parity: .odd, stopBits: 2, flowControl: .rtsCts).description == "19200 8O2 rts/cts")
        #expect(SerialSettings.default9600_8N1 == SerialSettings(baud: 9600, dataBits: 8, parity: .none, stopBits: 1))
        #expect(SerialSettings.supportedBaudRates.contains(9600))
        #expect(SerialSettings.supportedBaudRates.contains(115_200))
        #expect(!SerialSettings.supportedBaudRates.contains(12_345))
    }

    @Test("the opener's rule: ptys to termios, other character devices to libserialport")
    func driverRule() throws {
        let pty = try PseudoTerminal()
        #expect(try SerialPortOpener.driver(for: pty.slavePath) == .termios)
        #expect(try DevicePath.kind(ofResolved: pty.slavePath) == .pseudoTerminal)
        // /dev/null is a character device that is not a pty: it would go to libserialport.
        #expect(try SerialPortOpener.driver(for: "/dev/null") == .libserialport)
        #expect(try DevicePath.kind(ofResolved: "/dev/null") == .characterDevice)
        #expect(try DevicePath.kind(ofResolved: "/tmp") == .notCharacterDevice)
    }
}
