import SerialTransport
import Testing
import VirtualDevices

@Suite("libserialport: hardware ports, discovery and the pty gotcha")
struct LibSerialPortTests {
    @Test("libserialport 0.1.1 cannot open a pty; the opener falls back to termios")
    func libserialportCannotOpenPty() throws {
        let pty = try PseudoTerminal()
        let error = try #require(
            serialError { () throws(SerialError) in try LibSerialPortPort(path: pty.slavePath, settings: .default9600_8N1) })
        #expect(error.code == .unsupported)
        #expect(error.operation.hasPrefix("sp_get_port_by_name"))
        #expect(error.libserialportReturn != nil)
        #expect(error.description.contains("pseudo-terminals"))
        #expect(error.description.contains(pty.slavePath))

        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        defer { port.close() }
        #expect(port is TermiosSerialPort)
        try pty.write([0x55])
        #expect(try readBytes(from: port, count: 1) == [0x55])
    }

    @Test("libserialport on a missing device fails with .notFound before calling libserialport")
    func libserialportMissingDevice() {
        let error = serialError { () throws(SerialError) in
            try LibSerialPortPort(path: "/dev/ttyUSB-station-agent-test-missing", settings: .default9600_8N1)
        }
        #expect(error?.code == .notFound)
        #expect(error?.operation == "realpath")
    }

    @Test("libserialport refuses a character device it does not list (here /dev/null) as .notFound")
    func libserialportUnknownDevice() {
        let error = serialError { () throws(SerialError) in
            try LibSerialPortPort(path: "/dev/null", settings: .default9600_8N1)
        }
        #expect(error?.code == .notFound)
        #expect(error?.libserialportReturn != nil)
        #expect(error?.description.contains("/sys/class/tty") == true)
    }

    @Test("SerialPortCatalog.list() returns a sorted list without ptys, repeatably")
    func catalogList() throws {
        let pty = try PseudoTerminal()
        let first = try SerialPortCatalog.list()
        #expect(first.map(\.path) == first.map(\.path).sorted())
        #expect(!first.contains { $0.path == pty.slavePath || $0.path.hasPrefix("/dev/pts/") })
        for info in first {
            #expect(info.path.hasPrefix("/dev/"))
            #expect(info.summary.hasPrefix(info.path))
            if info.transport != .usb {
                #expect(info.usbVendor == nil)
                #expect(info.usbSerial == nil)
            }
        }
        // Repeated calls allocate and free libserialport's list each time; results stay the same.
        for _ in 0..<50 {
            #expect(try SerialPortCatalog.list() == first)
        }
    }

    @Test("find's matching rule: one match wins, none or several are clear errors listing what was found")
    func catalogSelect() throws {
        let ftdiA = SerialPortInfo(
            path: "/dev/ttyUSB0", description: "FT232R USB UART", transport: .usb, usbVendor: 0x0403,
            usbProduct: 0x6001, usbSerial: "A10K4B2C", manufacturer: "FTDI", product: "FT232R USB UART")
        let ftdiB = SerialPortInfo(
            path: "/dev/ttyUSB1", description: "FT232R USB UART", transport: .usb, usbVendor: 0x0403,
            usbProduct: 0x6001, usbSerial: "B77Q0Z1X")
        let uart = SerialPortInfo(path: "/dev/ttyS0", description: "ttyS0", transport: .native)
        let ports = [ftdiA, ftdiB, uart]

        #expect(try SerialPortCatalog.select(from: ports, vendor: 0x0403, product: 0x6001, serial: "B77Q0Z1X") == ftdiB)
        #expect(try SerialPortCatalog.select(from: [ftdiA, uart], vendor: 0x0403, product: 0x6001, serial: nil) == ftdiA)

        let several = try #require(
            serialError { () throws(SerialError) in
                try SerialPortCatalog.select(from: ports, vendor: 0x0403, product: 0x6001, serial: nil)
            })
        #expect(several.code == .ambiguous)
        #expect(several.description.contains("A10K4B2C"))
        #expect(several.description.contains("B77Q0Z1X"))
        #expect(several.description.contains("serial number"))

        let none = try #require(
            serialError { () throws(SerialError) in
                try SerialPortCatalog.select(from: ports, vendor: 0x10C4, product: 0xEA60, serial: nil)
            })
        #expect(none.code == .notFound)
        #expect(none.description.contains("10c4:ea60"))
        #expect(none.description.contains("/dev/ttyUSB0 usb 0403:6001 serial A10K4B2C"))
        #expect(none.description.contains("/dev/ttyS0 native"))

        let empty = serialError { () throws(SerialError) in
            try SerialPortCatalog.select(from: [], vendor: 0x0403, product: 0x6001, serial: nil)
        }
        #expect(empty?.description.contains("no serial ports were found at all") == true)
    }
}
