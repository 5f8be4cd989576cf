import CLibSerialPort
import Foundation

/// How a serial port is attached.
public enum SerialPortTransport: String, Sendable, Hashable, CaseIterable {
    /// A USB adapter or USB CDC-ACM device (`/dev/ttyUSB*`, `/dev/ttyACM*`).
    case usb
    /// An on-board UART (`/dev/ttyS*`, `/dev/ttyAMA*`).
    case native
    /// A Bluetooth RFCOMM port.
    case bluetooth
    /// libserialport reported something else.
    case unknown
}

/// A serial port present on the system, as libserialport describes it.
public struct SerialPortInfo: Sendable, Hashable {
    /// Device path, e.g. `/dev/ttyUSB0`.
    public var path: String
    /// libserialport's description, e.g. `FT232R USB UART`.
    public var description: String
    /// How the port is attached.
    public var transport: SerialPortTransport
    /// USB vendor id (for USB ports).
    public var usbVendor: UInt16?
    /// USB product id (for USB ports).
    public var usbProduct: UInt16?
    /// USB serial number string, when the device has one.
    public var usbSerial: String?
    /// USB manufacturer string.
    public var manufacturer: String?
    /// USB product string.
    public var product: String?
    /// Stable udev names that point at ``path`` (`/dev/serial/by-id/...`, `/dev/serial/by-path/...`).
    /// Configure these rather than `/dev/ttyUSB0`, whose number changes with plug order.
    public var stableNames: [String]

    public init(
        path: String, description: String, transport: SerialPortTransport, usbVendor: UInt16? = nil,
        usbProduct: UInt16? = nil, usbSerial: String? = nil, manufacturer: String? = nil,
        product: String? = nil, stableNames: [String] = []
    ) {
        self.path = path
        self.description = description
        self.transport = transport
        self.usbVendor = usbVendor
        self.usbProduct = usbProduct
        self.usbSerial = usbSerial
        self.manufacturer = manufacturer
        self.product = product
        self.stableNames = stableNames
    }

    /// One line for `station-agent ports` and error messages, e.g.
    /// `/dev/ttyUSB0 usb 0403:6001 serial A10K4B2C "FT232R USB UART"`.
    public var summary: String {
        var parts = [path, transport.rawValue]
        if let usbVendor, let usbProduct { parts.append("\(hex4(usbVendor)):\(hex4(usbProduct))") }
        if let usbSerial { parts.append("serial \(usbSerial)") }
        parts.append("\"\(description)\"")
        return parts.joined(separator: " ")
    }
}

/// Lists the serial ports present and finds a USB reader by vendor, product and serial number.
public enum SerialPortCatalog {
    /// Every serial port libserialport sees (`sp_list_ports`), sorted by path. May be empty.
    /// Pseudo-terminals are never listed (libserialport only reads `/sys/class/tty`).
    public static func list() throws(SerialError) -> [SerialPortInfo] {
        var listPointer: UnsafeMutablePointer<OpaquePointer?>?
        let rc = sp_list_ports(&listPointer)
        guard rc == SP_OK, let ports = listPointer else {
            throw LibSerialPortPort.error(rc, path: "(all ports)", operation: "sp_list_ports")
        }
        defer { sp_free_port_list(ports) }

        let aliases = stableNameIndex()
        var result: [SerialPortInfo] = []
        var index = 0
        while let port = ports[index] {
            index += 1
            guard let rawName = sp_get_port_name(port) else { continue }
            let path = String(cString: rawName)
            let description = sp_get_port_description(port).map { String(cString: $0) } ?? ""
            var info = SerialPortInfo(path: path, description: description, transport: .unknown)
            let transport = sp_get_port_transport(port)
            switch transport {
            case SP_TRANSPORT_USB:
                info.transport = .usb
                var vendor: Int32 = 0
                var product: Int32 = 0
                if sp_get_port_usb_vid_pid(port, &vendor, &product) == SP_OK {
                    info.usbVendor = UInt16(truncatingIfNeeded: vendor)
                    info.usbProduct = UInt16(truncatingIfNeeded: product)
                }
                // The strings belong to the port structure; sp_free_port_list frees them.
                info.usbSerial = sp_get_port_usb_serial(port).map { String(cString: $0) }
                info.manufacturer = sp_get_port_usb_manufacturer(port).map { String(cString: $0) }
                info.product = sp_get_port_usb_product(port).map { String(cString: $0) }
            case SP_TRANSPORT_NATIVE:
                info.transport = .native
            case SP_TRANSPORT_BLUETOOTH:
                info.transport = .bluetooth
            default:
                info.transport = .unknown
            }
            info.stableNames = aliases[path, default: []]
            result.append(info)
        }
        return result.sorted { $0.path < $1.path }
    }

    /// Finds the one USB port with this vendor and product id (and serial number, when given).
    ///
    /// - Throws: ``SerialError/Code/notFound`` when nothing matches, ``SerialError/Code/ambiguous``
    ///   when several do; both list the ports that were found.
    public static func find(vendor: UInt16, product: UInt16, serial: String?) throws(SerialError) -> SerialPortInfo {
        try select(from: list(), vendor: vendor, product: product, serial: serial)
    }

    /// The matching rule of ``find(vendor:product:serial:)`` applied to a given list (testable
    /// without hardware).
    public static func select(
        from ports: [SerialPortInfo], vendor: UInt16, product: UInt16, serial: String?
    ) throws(SerialError) -> SerialPortInfo {
        let wanted = "usb \(hex4(vendor)):\(hex4(product))" + (serial.map { " serial \($0)" } ?? "")
        let matches = ports.filter {
            $0.usbVendor == vendor && $0.usbProduct == product && (serial == nil || $0.usbSerial == serial)
        }
        let found =
            ports.isEmpty
            ? "no serial ports were found at all"
            : "found: " + ports.map(\.summary).joined(separator: "; ")
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty {
            throw SerialError(
                code: .notFound, path: wanted, operation: "find port",
                message: "no serial port matches \(wanted); \(found)",
                hint: "Is the reader plugged in? Check the ids with `station-agent ports` or `lsusb`.")
        }
        throw SerialError(
            code: .ambiguous, path: wanted, operation: "find port",
            message: "\(matches.count) serial ports match \(wanted): "
                + matches.map(\.summary).joined(separator: "; "),
            hint: serial == nil
                ? "Add the USB serial number to the configuration to pick one."
                : "The devices report the same serial number; configure the /dev/serial/by-path/ name instead.")
    }

    /// Maps resolved device paths to the udev symlinks in /dev/serial/by-id and by-path.
    static func stableNameIndex(roots: [String] = ["/dev/serial/by-id", "/dev/serial/by-path"]) -> [String: [String]] {
        var index: [String: [String]] = [:]
        let files = FileManager.default
        for root in roots {
            guard let entries = try? files.contentsOfDirectory(atPath: root) else { continue }
            for entry in entries.sorted() {
                let link = root + "/" + entry
                guard let target = try? DevicePath.resolve(link) else { continue }
                index[target, default: []].append(link)
            }
        }
        return index
    }
}

func hex4(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
