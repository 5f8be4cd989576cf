/// A command or reply whose data does not have the layout its code requires.
public struct OSDPMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The command or reply code.
    public var code: UInt8
    /// What is wrong with the data.
    public var reason: String

    /// Creates an error.
    public init(code: UInt8, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// Names the code and the problem.
    public var description: String { "OSDP message 0x\(String(format2: code)): \(reason)" }
}

/// LED colours of `osdp_LED`.
public enum OSDPLEDColor: UInt8, Sendable, Hashable, CaseIterable {
    /// Off.
    case black = 0
    /// Red.
    case red = 1
    /// Green.
    case green = 2
    /// Amber.
    case amber = 3
    /// Blue.
    case blue = 4
    /// Magenta.
    case magenta = 5
    /// Cyan.
    case cyan = 6
    /// White.
    case white = 7
}

/// One 14-byte record of `osdp_LED`: a temporary pattern (with a timer) over a permanent one.
/// Times are in units of 100 ms.
public struct OSDPLEDControl: Sendable, Hashable {
    /// What to do with the temporary pattern.
    public enum TemporaryAction: UInt8, Sendable, Hashable {
        /// Leave it as it is.
        case noChange = 0
        /// Cancel it and show the permanent pattern.
        case cancel = 1
        /// Set it and start its timer.
        case set = 2
    }

    /// What to do with the permanent pattern.
    public enum PermanentAction: UInt8, Sendable, Hashable {
        /// Leave it as it is.
        case noChange = 0
        /// Set it.
        case set = 1
    }

    /// The reader number (0 for the first reader of the PD).
    public var reader: UInt8
    /// The LED number (0 for the first LED).
    public var led: UInt8
    /// The temporary pattern's action.
    public var temporaryAction: TemporaryAction
    /// Temporary on time, 100 ms units.
    public var temporaryOnTime: UInt8
    /// Temporary off time, 100 ms units.
    public var temporaryOffTime: UInt8
    /// Temporary on colour.
    public var temporaryOnColor: OSDPLEDColor
    /// Temporary off colour.
    public var temporaryOffColor: OSDPLEDColor
    /// How long the temporary pattern lasts, 100 ms units.
    public var temporaryTimer: UInt16
    /// The permanent pattern's action.
    public var permanentAction: PermanentAction
    /// Permanent on time, 100 ms units.
    public var permanentOnTime: UInt8
    /// Permanent off time, 100 ms units.
    public var permanentOffTime: UInt8
    /// Permanent on colour.
    public var permanentOnColor: OSDPLEDColor
    /// Permanent off colour.
    public var permanentOffColor: OSDPLEDColor

    /// Creates a record; by default it changes nothing.
    public init(
        reader: UInt8 = 0, led: UInt8 = 0,
        temporaryAction: TemporaryAction = .noChange, temporaryOnTime: UInt8 = 0, temporaryOffTime: UInt8 = 0,
        temporaryOnColor: OSDPLEDColor = .black, temporaryOffColor: OSDPLEDColor = .black, temporaryTimer: UInt16 = 0,
        permanentAction: PermanentAction = .noChange, permanentOnTime: UInt8 = 0, permanentOffTime: UInt8 = 0,
        permanentOnColor: OSDPLEDColor = .black, permanentOffColor: OSDPLEDColor = .black
    ) {
        self.reader = reader
        self.led = led
        self.temporaryAction = temporaryAction
        self.temporaryOnTime = temporaryOnTime
        self.temporaryOffTime = temporaryOffTime
        self.temporaryOnColor = temporaryOnColor
        self.temporaryOffColor = temporaryOffColor
        self.temporaryTimer = temporaryTimer
        self.permanentAction = permanentAction
        self.permanentOnTime = permanentOnTime
        self.permanentOffTime = permanentOffTime
        self.permanentOnColor = permanentOnColor
        self.permanentOffColor = permanentOffColor
    }

    /// The size of one record on the wire.
    public static let recordLength = 14

    /// The 14 bytes of the record.
    public var bytes: [UInt8] {
        [
            reader, led,
            temporaryAction.rawValue, temporaryOnTime, temporaryOffTime,
            temporaryOnColor.rawValue, temporaryOffColor.rawValue,
            UInt8(truncatingIfNeeded: temporaryTimer), UInt8(truncatingIfNeeded: temporaryTimer >> 8),
            permanentAction.rawValue, permanentOnTime, permanentOffTime,
            permanentOnColor.rawValue, permanentOffColor.rawValue,
        ]
    }

    /// Decodes one record from exactly 14 bytes.
    public init(bytes: some Collection<UInt8>) throws(OSDPMessageError) {
        let b = Array(bytes)
        guard b.count == Self.recordLength else {
            throw OSDPMessageError(code: OSDPCommandCode.led.rawValue, reason: "an LED record has 14 bytes, got \(b.count)")
        }
        func color(_ byte: UInt8) throws(OSDPMessageError) -> OSDPLEDColor {
            guard let color = OSDPLEDColor(rawValue: byte) else {
                throw OSDPMessageError(code: OSDPCommandCode.led.rawValue, reason: "unknown LED colour \(byte)")
            }
            return color
        }
        guard let temporary = TemporaryAction(rawValue: b[2]), let permanent = PermanentAction(rawValue: b[9]) else {
            throw OSDPMessageError(code: OSDPCommandCode.led.rawValue, reason: "unknown LED control code \(b[2])/\(b[9])")
        }
        self.init(
            reader: b[0], led: b[1], temporaryAction: temporary, temporaryOnTime: b[3], temporaryOffTime: b[4],
            temporaryOnColor: try color(b[5]), temporaryOffColor: try color(b[6]),
            temporaryTimer: UInt16(b[7]) | UInt16(b[8]) << 8,
            permanentAction: permanent, permanentOnTime: b[10], permanentOffTime: b[11],
            permanentOnColor: try color(b[12]), permanentOffColor: try color(b[13]))
    }
}

/// One 5-byte record of `osdp_BUZ`. Times are in units of 100 ms.
public struct OSDPBuzzerControl: Sendable, Hashable {
    /// The tone code.
    public enum Tone: UInt8, Sendable, Hashable {
        /// No tone (deprecated by the spec, treated as off).
        case none = 0
        /// Off.
        case off = 1
        /// The reader's default tone.
        case `default` = 2
    }

    /// The reader number.
    public var reader: UInt8
    /// The tone.
    public var tone: Tone
    /// On time, 100 ms units.
    public var onTime: UInt8
    /// Off time, 100 ms units.
    public var offTime: UInt8
    /// Number of beeps; 0 means until told otherwise.
    public var count: UInt8

    /// Creates a record.
    public init(reader: UInt8 = 0, tone: Tone = .default, onTime: UInt8, offTime: UInt8, count: UInt8) {
        self.reader = reader
        self.tone = tone
        self.onTime = onTime
        self.offTime = offTime
        self.count = count
    }

    /// The size of one record on the wire.
    public static let recordLength = 5

    /// The 5 bytes of the record.
    public var bytes: [UInt8] { [reader, tone.rawValue, onTime, offTime, count] }

    /// Decodes one record from exactly 5 bytes.
    public init(bytes: some Collection<UInt8>) throws(OSDPMessageError) {
        let b = Array(bytes)
        guard b.count == Self.recordLength else {
            throw OSDPMessageError(code: OSDPCommandCode.buzzer.rawValue, reason: "a buzzer record has 5 bytes, got \(b.count)")
        }
        guard let tone = Tone(rawValue: b[1]) else {
            throw OSDPMessageError(code: OSDPCommandCode.buzzer.rawValue, reason: "unknown tone code \(b[1])")
        }
        self.init(reader: b[0], tone: tone, onTime: b[2], offTime: b[3], count: b[4])
    }
}

/// One 4-byte record of `osdp_OUT`.
public struct OSDPOutputControl: Sendable, Hashable {
    /// The output number.
    public var output: UInt8
    /// The control code (1 = permanent off, 2 = permanent on, 5 = temporary on, ...).
    public var controlCode: UInt8
    /// The timer, 100 ms units.
    public var timer: UInt16

    /// Creates a record.
    public init(output: UInt8, controlCode: UInt8, timer: UInt16 = 0) {
        self.output = output
        self.controlCode = controlCode
        self.timer = timer
    }

    /// The 4 bytes of the record.
    public var bytes: [UInt8] { [output, controlCode, UInt8(truncatingIfNeeded: timer), UInt8(truncatingIfNeeded: timer >> 8)] }
}

/// A CP → PD command with its data.
public enum OSDPCommand: Sendable, Hashable {
    /// `osdp_POLL`.
    case poll
    /// `osdp_ID` (reply type 0: standard).
    case id
    /// `osdp_CAP` (reply type 0).
    case capabilities
    /// `osdp_LSTAT`.
    case localStatus
    /// `osdp_ISTAT`.
    case inputStatus
    /// `osdp_OSTAT`.
    case outputStatus
    /// `osdp_RSTAT`.
    case readerStatus
    /// `osdp_OUT` with one or more records.
    case output([OSDPOutputControl])
    /// `osdp_LED` with one or more records.
    case led([OSDPLEDControl])
    /// `osdp_BUZ` with one or more records.
    case buzzer([OSDPBuzzerControl])
    /// `osdp_COMSET`: new address and baud rate.
    case comSet(address: UInt8, baudRate: UInt32)
    /// `osdp_KEYSET` with a new SCBK (key type 1, 16 bytes). Only valid inside a secure session.
    case keySet(OSDPSecureChannelKey)
    /// `osdp_CHLNG` with the CP's 8 random bytes (RND.A).
    case challenge(random: [UInt8])
    /// `osdp_SCRYPT` with the 16-byte server cryptogram.
    case serverCryptogram([UInt8])
    /// Any other command, kept as code and data.
    case other(code: UInt8, data: [UInt8])

    /// The command code.
    public var code: UInt8 {
        switch self {
        case .poll: OSDPCommandCode.poll.rawValue
        case .id: OSDPCommandCode.id.rawValue
        case .capabilities: OSDPCommandCode.capabilities.rawValue
        case .localStatus: OSDPCommandCode.localStatus.rawValue
        case .inputStatus: OSDPCommandCode.inputStatus.rawValue
        case .outputStatus: OSDPCommandCode.outputStatus.rawValue
        case .readerStatus: OSDPCommandCode.readerStatus.rawValue
        case .output: OSDPCommandCode.output.rawValue
        case .led: OSDPCommandCode.led.rawValue
        case .buzzer: OSDPCommandCode.buzzer.rawValue
        case .comSet: OSDPCommandCode.comSet.rawValue
        case .keySet: OSDPCommandCode.keySet.rawValue
        case .challenge: OSDPCommandCode.challenge.rawValue
        case .serverCryptogram: OSDPCommandCode.serverCryptogram.rawValue
        case .other(let code, _): code
        }
    }

    /// The data bytes after the code.
    public var data: [UInt8] {
        switch self {
        case .poll, .localStatus, .inputStatus, .outputStatus, .readerStatus: []
        case .id, .capabilities: [0x00]
        case .output(let records): records.flatMap(\.bytes)
        case .led(let records): records.flatMap(\.bytes)
        case .buzzer(let records): records.flatMap(\.bytes)
        case .comSet(let address, let baud):
            [address, UInt8(truncatingIfNeeded: baud), UInt8(truncatingIfNeeded: baud >> 8),
             UInt8(truncatingIfNeeded: baud >> 16), UInt8(truncatingIfNeeded: baud >> 24)]
        case .keySet(let key): [0x01, UInt8(OSDPSecureChannelKey.byteCount)] + key.withUnsafeKeyBytes { $0 }
        case .challenge(let random): random
        case .serverCryptogram(let cryptogram): cryptogram
        case .other(_, let data): data
        }
    }

    /// Decodes a command from its code and (plain-text) data.
    /// - Throws: ``OSDPMessageError`` when the data length or content does not fit the code.
    public static func decode(code: UInt8, data: [UInt8]) throws(OSDPMessageError) -> OSDPCommand {
        func need(_ valid: Bool, _ reason: @autoclosure () -> String) throws(OSDPMessageError) {
            if !valid { throw OSDPMessageError(code: code, reason: reason()) }
        }
        guard let known = OSDPCommandCode(rawValue: code) else { return .other(code: code, data: data) }
        switch known {
        case .poll:
            try need(data.isEmpty, "osdp_POLL has no data, got \(data.count) bytes")
            return .poll
        case .id:
            try need(data.count == 1, "osdp_ID has 1 data byte, got \(data.count)")
            return .id
        case .capabilities:
            try need(data.count == 1, "osdp_CAP has 1 data byte, got \(data.count)")
            return .capabilities
        case .localStatus:
            try need(data.isEmpty, "osdp_LSTAT has no data")
            return .localStatus
        case .inputStatus:
            try need(data.isEmpty, "osdp_ISTAT has no data")
            return .inputStatus
        case .outputStatus:
            try need(data.isEmpty, "osdp_OSTAT has no data")
            return .outputStatus
        case .readerStatus:
            try need(data.isEmpty, "osdp_RSTAT has no data")
            return .readerStatus
        case .output:
            try need(!data.isEmpty && data.count % 4 == 0, "osdp_OUT needs 4-byte records, got \(data.count) bytes")
            var records: [OSDPOutputControl] = []
            for start in stride(from: 0, to: data.count, by: 4) {
                let timer = UInt16(data[start + 2]) | UInt16(data[start + 3]) << 8
                records.append(OSDPOutputControl(output: data[start], controlCode: data[start + 1], timer: timer))
            }
            return .output(records)
        case .led:
            try need(!data.isEmpty && data.count % 14 == 0, "osdp_LED needs 14-byte records, got \(data.count) bytes")
            var records: [OSDPLEDControl] = []
            for start in stride(from: 0, to: data.count, by: 14) {
                records.append(try OSDPLEDControl(bytes: data[start..<(start + 14)]))
            }
            return .led(records)
        case .buzzer:
            try need(!data.isEmpty && data.count % 5 == 0, "osdp_BUZ needs 5-byte records, got \(data.count) bytes")
            var records: [OSDPBuzzerControl] = []
            for start in stride(from: 0, to: data.count, by: 5) {
                records.append(try OSDPBuzzerControl(bytes: data[start..<(start + 5)]))
            }
            return .buzzer(records)
        case .comSet:
            try need(data.count == 5, "osdp_COMSET has 5 data bytes, got \(data.count)")
            return .comSet(address: data[0], baudRate: UInt32(littleEndian: data[1...4]))
        case .keySet:
            try need(data.count == 18 && data[0] == 0x01 && data[1] == 16,
                     "osdp_KEYSET must carry key type 1 and a 16-byte key")
            do {
                return .keySet(try OSDPSecureChannelKey(bytes: Array(data[2...])))
            } catch {
                throw OSDPMessageError(code: code, reason: "osdp_KEYSET key: \(error)")
            }
        case .challenge:
            try need(data.count == 8, "osdp_CHLNG has 8 data bytes, got \(data.count)")
            return .challenge(random: data)
        case .serverCryptogram:
            try need(data.count == 16, "osdp_SCRYPT has 16 data bytes, got \(data.count)")
            return .serverCryptogram(data)
        default:
            return .other(code: code, data: data)
        }
    }
}

extension OSDPCommand: CustomStringConvertible {
    /// The command's name; key material is never shown.
    public var description: String {
        switch self {
        case .keySet: "osdp_KEYSET(key redacted)"
        case .other(let code, let data): "command 0x\(String(format2: code)) (\(data.count) data bytes)"
        default: OSDPCommandCode(rawValue: code)?.name ?? "command 0x\(String(format2: code))"
        }
    }
}

/// `osdp_PDID`: who the PD is.
public struct OSDPDeviceIdentification: Sendable, Hashable {
    /// The IEEE OUI of the vendor (3 bytes, sent least significant first).
    public var vendorCode: UInt32
    /// The model number.
    public var model: UInt8
    /// The hardware version.
    public var version: UInt8
    /// The serial number.
    public var serialNumber: UInt32
    /// Firmware major, minor and build numbers.
    public var firmware: (major: UInt8, minor: UInt8, build: UInt8) {
        get { (firmwareBytes[0], firmwareBytes[1], firmwareBytes[2]) }
        set { firmwareBytes = [newValue.major, newValue.minor, newValue.build] }
    }
    private var firmwareBytes: [UInt8]

    /// Creates an identification.
    public init(vendorCode: UInt32, model: UInt8, version: UInt8, serialNumber: UInt32, firmware: (UInt8, UInt8, UInt8)) {
        self.vendorCode = vendorCode & 0xFF_FFFF
        self.model = model
        self.version = version
        self.serialNumber = serialNumber
        self.firmwareBytes = [firmware.0, firmware.1, firmware.2]
    }

    /// The 12 data bytes.
    public var bytes: [UInt8] {
        var bytes: [UInt8] = Array(vendorCode.littleEndianBytes.prefix(3))
        bytes.append(model)
        bytes.append(version)
        bytes += serialNumber.littleEndianBytes
        bytes += firmwareBytes
        return bytes
    }

    /// The firmware version as `major.minor.build`.
    public var firmwareVersion: String { "\(firmwareBytes[0]).\(firmwareBytes[1]).\(firmwareBytes[2])" }
}

/// One entry of `osdp_PDCAP`.
public struct OSDPCapability: Sendable, Hashable {
    /// Function codes of SIA OSDP 2.2 section 7.5.
    public enum Function: UInt8, Sendable, Hashable, CaseIterable {
        /// Contact status monitoring (inputs): compliance, number of inputs.
        case contactStatusMonitoring = 1
        /// Output control: compliance, number of outputs.
        case outputControl = 2
        /// Card data format.
        case cardDataFormat = 3
        /// Reader LED control: compliance, number of LEDs.
        case readerLEDControl = 4
        /// Reader audible output (buzzer).
        case readerAudibleOutput = 5
        /// Reader text output.
        case readerTextOutput = 6
        /// Time keeping (deprecated).
        case timeKeeping = 7
        /// Check character support: compliance 1 = CRC-16.
        case checkCharacterSupport = 8
        /// Communication security: compliance bit 0 = AES-128.
        case communicationSecurity = 9
        /// Receive buffer size: compliance = LSB, count = MSB.
        case receiveBufferSize = 10
        /// Largest combined message size.
        case largestCombinedMessageSize = 11
        /// Smart card support.
        case smartCardSupport = 12
        /// Number of attached readers.
        case readers = 13
        /// Biometrics.
        case biometrics = 14
        /// Secure PIN entry.
        case securePINEntry = 15
        /// OSDP version.
        case osdpVersion = 16
    }

    /// The function code byte.
    public var functionCode: UInt8
    /// The compliance level.
    public var compliance: UInt8
    /// The number of objects (inputs, outputs, LEDs, ...).
    public var count: UInt8

    /// Creates a capability entry.
    public init(_ function: Function, compliance: UInt8, count: UInt8) {
        self.init(functionCode: function.rawValue, compliance: compliance, count: count)
    }

    /// Creates a capability entry from raw bytes.
    public init(functionCode: UInt8, compliance: UInt8, count: UInt8) {
        self.functionCode = functionCode
        self.compliance = compliance
        self.count = count
    }

    /// The known function, nil for codes this library does not name.
    public var function: Function? { Function(rawValue: functionCode) }
}

/// The format byte of `osdp_RAW`.
public enum OSDPRawCardFormat: Sendable, Hashable {
    /// 0: raw bits, format not specified.
    case unspecified
    /// 1: Wiegand bits, parity included.
    case wiegand
    /// Any other byte.
    case other(UInt8)

    /// Creates the format from its byte.
    public init(byte: UInt8) {
        switch byte {
        case 0: self = .unspecified
        case 1: self = .wiegand
        default: self = .other(byte)
        }
    }

    /// The byte on the wire.
    public var byte: UInt8 {
        switch self {
        case .unspecified: 0
        case .wiegand: 1
        case .other(let byte): byte
        }
    }
}

/// `osdp_RAW`: the bits a card reader read, most significant bit of the first byte first.
public struct OSDPRawCardData: Sendable, Hashable {
    /// The reader number on the PD.
    public var reader: UInt8
    /// The format byte.
    public var format: OSDPRawCardFormat
    /// The number of valid bits.
    public var bitCount: Int
    /// The bits, packed MSB first, `(bitCount + 7) / 8` bytes.
    public var data: [UInt8]

    /// Creates card data from packed bytes.
    public init(reader: UInt8 = 0, format: OSDPRawCardFormat = .wiegand, bitCount: Int, data: [UInt8]) {
        self.reader = reader
        self.format = format
        self.bitCount = bitCount
        self.data = data
    }

    /// Creates card data from bits (true = 1), first bit first.
    public init(reader: UInt8 = 0, format: OSDPRawCardFormat = .wiegand, bits: [Bool]) {
        var packed = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (index, bit) in bits.enumerated() where bit {
            packed[index / 8] |= 0x80 >> UInt8(index % 8)
        }
        self.init(reader: reader, format: format, bitCount: bits.count, data: packed)
    }

    /// The bits, first bit first; missing bytes read as 0.
    public var bits: [Bool] {
        (0..<bitCount).map { index in
            let byteIndex = index / 8
            guard byteIndex < data.count else { return false }
            return data[byteIndex] & (0x80 >> UInt8(index % 8)) != 0
        }
    }

    /// The bits as a string of `0` and `1`.
    public var bitString: String { String(bits.map { $0 ? "1" : "0" }) }

    /// The data bytes of the reply.
    public var replyData: [UInt8] {
        [reader, format.byte, UInt8(truncatingIfNeeded: bitCount), UInt8(truncatingIfNeeded: bitCount >> 8)] + data
    }

    /// The Wiegand decoding of the bits, when they are 26 or 34 bits with valid parity.
    public var wiegand: WiegandDecoding { Wiegand.decode(bits: bits) }
}

/// `osdp_KEYPAD`: digits entered on the reader's keypad.
public struct OSDPKeypadData: Sendable, Hashable {
    /// The reader number.
    public var reader: UInt8
    /// The key codes as sent: ASCII `0`-`9`, 0x7F for `*`, 0x0D for `#`.
    public var keys: [UInt8]

    /// Creates keypad data.
    public init(reader: UInt8 = 0, keys: [UInt8]) {
        self.reader = reader
        self.keys = keys
    }

    /// Creates keypad data from text of digits, `*` and `#`.
    public init(reader: UInt8 = 0, text: String) {
        self.init(reader: reader, keys: text.utf8.map { $0 == UInt8(ascii: "*") ? 0x7F : $0 == UInt8(ascii: "#") ? 0x0D : $0 })
    }

    /// The keys as text: digits, `*` and `#`; other codes as `?`.
    public var text: String {
        String(keys.map { key -> Character in
            switch key {
            case 0x30...0x39: Character(UnicodeScalar(key))
            case 0x7F: "*"
            case 0x0D: "#"
            default: "?"
            }
        })
    }
}

/// `osdp_LSTATR`: tamper and power status.
public struct OSDPLocalStatus: Sendable, Hashable {
    /// True when the reader's tamper switch is open.
    public var tamper: Bool
    /// True when the reader reports a power failure.
    public var powerFailure: Bool

    /// Creates a status.
    public init(tamper: Bool, powerFailure: Bool) {
        self.tamper = tamper
        self.powerFailure = powerFailure
    }
}

/// A PD → CP reply with its data.
public enum OSDPReply: Sendable, Hashable {
    /// `osdp_ACK`.
    case ack
    /// `osdp_NAK` with its error code.
    case nak(OSDPNAKError)
    /// `osdp_PDID`.
    case identification(OSDPDeviceIdentification)
    /// `osdp_PDCAP`.
    case capabilities([OSDPCapability])
    /// `osdp_LSTATR`.
    case localStatus(OSDPLocalStatus)
    /// `osdp_ISTATR`: one state per input, true = active.
    case inputStatus([Bool])
    /// `osdp_OSTATR`: one state per output, true = active.
    case outputStatus([Bool])
    /// `osdp_RSTATR`: one byte per attached reader.
    case readerStatus([UInt8])
    /// `osdp_RAW`.
    case rawCardData(OSDPRawCardData)
    /// `osdp_KEYPAD`.
    case keypad(OSDPKeypadData)
    /// `osdp_COM`.
    case communicationConfiguration(address: UInt8, baudRate: UInt32)
    /// `osdp_CCRYPT`: client UID (8), PD random RND.B (8), client cryptogram (16).
    case clientCryptogram(clientUID: [UInt8], random: [UInt8], cryptogram: [UInt8])
    /// `osdp_RMAC_I`: the 16-byte initial R-MAC.
    case initialRMAC([UInt8])
    /// `osdp_BUSY`.
    case busy
    /// Any other reply, kept as code and data.
    case other(code: UInt8, data: [UInt8])

    /// The reply code.
    public var code: UInt8 {
        switch self {
        case .ack: OSDPReplyCode.ack.rawValue
        case .nak: OSDPReplyCode.nak.rawValue
        case .identification: OSDPReplyCode.identification.rawValue
        case .capabilities: OSDPReplyCode.capabilities.rawValue
        case .localStatus: OSDPReplyCode.localStatus.rawValue
        case .inputStatus: OSDPReplyCode.inputStatus.rawValue
        case .outputStatus: OSDPReplyCode.outputStatus.rawValue
        case .readerStatus: OSDPReplyCode.readerStatus.rawValue
        case .rawCardData: OSDPReplyCode.rawCardData.rawValue
        case .keypad: OSDPReplyCode.keypad.rawValue
        case .communicationConfiguration: OSDPReplyCode.communicationConfiguration.rawValue
        case .clientCryptogram: OSDPReplyCode.clientCryptogram.rawValue
        case .initialRMAC: OSDPReplyCode.initialRMAC.rawValue
        case .busy: OSDPReplyCode.busy.rawValue
        case .other(let code, _): code
        }
    }

    /// The data bytes after the code.
    public var data: [UInt8] {
        switch self {
        case .ack, .busy: []
        case .nak(let error): [error.rawValue]
        case .identification(let id): id.bytes
        case .capabilities(let entries): entries.flatMap { [$0.functionCode, $0.compliance, $0.count] }
        case .localStatus(let status): [status.tamper ? 1 : 0, status.powerFailure ? 1 : 0]
        case .inputStatus(let states), .outputStatus(let states): states.map { $0 ? 1 : 0 }
        case .readerStatus(let states): states
        case .rawCardData(let card): card.replyData
        case .keypad(let keypad): [keypad.reader, UInt8(truncatingIfNeeded: keypad.keys.count)] + keypad.keys
        case .communicationConfiguration(let address, let baud): [address] + baud.littleEndianBytes
        case .clientCryptogram(let uid, let random, let cryptogram): uid + random + cryptogram
        case .initialRMAC(let mac): mac
        case .other(_, let data): data
        }
    }

    /// Decodes a reply from its code and (plain-text) data.
    /// - Throws: ``OSDPMessageError`` when the data does not fit the code.
    public static func decode(code: UInt8, data: [UInt8]) throws(OSDPMessageError) -> OSDPReply {
        func need(_ valid: Bool, _ reason: @autoclosure () -> String) throws(OSDPMessageError) {
            if !valid { throw OSDPMessageError(code: code, reason: reason()) }
        }
        guard let known = OSDPReplyCode(rawValue: code) else { return .other(code: code, data: data) }
        switch known {
        case .ack:
            return .ack
        case .nak:
            try need(!data.isEmpty, "osdp_NAK carries an error byte")
            return .nak(OSDPNAKError(rawValue: data[0]))
        case .identification:
            try need(data.count >= 12, "osdp_PDID has 12 data bytes, got \(data.count)")
            return .identification(
                OSDPDeviceIdentification(
                    vendorCode: UInt32(data[0]) | UInt32(data[1]) << 8 | UInt32(data[2]) << 16,
                    model: data[3], version: data[4], serialNumber: UInt32(littleEndian: data[5...8]),
                    firmware: (data[9], data[10], data[11])))
        case .capabilities:
            try need(data.count % 3 == 0, "osdp_PDCAP has 3-byte entries, got \(data.count) bytes")
            return .capabilities(stride(from: 0, to: data.count, by: 3).map {
                OSDPCapability(functionCode: data[$0], compliance: data[$0 + 1], count: data[$0 + 2])
            })
        case .localStatus:
            try need(data.count >= 2, "osdp_LSTATR has 2 data bytes, got \(data.count)")
            return .localStatus(OSDPLocalStatus(tamper: data[0] != 0, powerFailure: data[1] != 0))
        case .inputStatus:
            return .inputStatus(data.map { $0 != 0 })
        case .outputStatus:
            return .outputStatus(data.map { $0 != 0 })
        case .readerStatus:
            return .readerStatus(data)
        case .rawCardData:
            try need(data.count >= 4, "osdp_RAW has at least 4 data bytes, got \(data.count)")
            let bitCount = Int(data[2]) | Int(data[3]) << 8
            try need(data.count - 4 == (bitCount + 7) / 8,
                     "osdp_RAW announces \(bitCount) bits but carries \(data.count - 4) bytes")
            return .rawCardData(
                OSDPRawCardData(reader: data[0], format: OSDPRawCardFormat(byte: data[1]), bitCount: bitCount, data: Array(data[4...])))
        case .keypad:
            try need(data.count >= 2 && data.count - 2 == Int(data[1]),
                     "osdp_KEYPAD announces \(data.count >= 2 ? Int(data[1]) : 0) digits but carries \(max(data.count - 2, 0))")
            return .keypad(OSDPKeypadData(reader: data[0], keys: Array(data[2...])))
        case .communicationConfiguration:
            try need(data.count == 5, "osdp_COM has 5 data bytes, got \(data.count)")
            return .communicationConfiguration(address: data[0], baudRate: UInt32(littleEndian: data[1...4]))
        case .clientCryptogram:
            try need(data.count == 32, "osdp_CCRYPT has 32 data bytes, got \(data.count)")
            return .clientCryptogram(clientUID: Array(data[0..<8]), random: Array(data[8..<16]), cryptogram: Array(data[16..<32]))
        case .initialRMAC:
            try need(data.count == 16, "osdp_RMAC_I has 16 data bytes, got \(data.count)")
            return .initialRMAC(data)
        case .busy:
            return .busy
        default:
            return .other(code: code, data: data)
        }
    }
}

extension UInt32 {
    /// The four bytes, least significant first.
    var littleEndianBytes: [UInt8] {
        [UInt8(truncatingIfNeeded: self), UInt8(truncatingIfNeeded: self >> 8),
         UInt8(truncatingIfNeeded: self >> 16), UInt8(truncatingIfNeeded: self >> 24)]
    }

    /// Reads four bytes, least significant first.
    init(littleEndian bytes: ArraySlice<UInt8>) {
        let b = Array(bytes)
        self = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
}
