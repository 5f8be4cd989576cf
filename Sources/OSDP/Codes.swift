/// Command codes, CP → PD (SIA OSDP 2.2, section 6 and Annex A).
public enum OSDPCommandCode: UInt8, Sendable, Hashable, CaseIterable {
    /// `osdp_POLL`: anything to report?
    case poll = 0x60
    /// `osdp_ID`: report identification.
    case id = 0x61
    /// `osdp_CAP`: report capabilities.
    case capabilities = 0x62
    /// `osdp_LSTAT`: report local status (tamper, power).
    case localStatus = 0x64
    /// `osdp_ISTAT`: report input status.
    case inputStatus = 0x65
    /// `osdp_OSTAT`: report output status.
    case outputStatus = 0x66
    /// `osdp_RSTAT`: report reader tamper status.
    case readerStatus = 0x67
    /// `osdp_OUT`: output control.
    case output = 0x68
    /// `osdp_LED`: reader LED control.
    case led = 0x69
    /// `osdp_BUZ`: reader buzzer control.
    case buzzer = 0x6A
    /// `osdp_TEXT`: reader text output.
    case text = 0x6B
    /// `osdp_COMSET`: set address and baud rate.
    case comSet = 0x6E
    /// `osdp_BIOREAD`: scan and send biometric data.
    case bioRead = 0x73
    /// `osdp_BIOMATCH`: scan and match a biometric template.
    case bioMatch = 0x74
    /// `osdp_KEYSET`: set the secure channel base key.
    case keySet = 0x75
    /// `osdp_CHLNG`: start the secure channel handshake.
    case challenge = 0x76
    /// `osdp_SCRYPT`: the server cryptogram.
    case serverCryptogram = 0x77
    /// `osdp_ACURXSIZE`: the CP's receive buffer size.
    case acuReceiveSize = 0x7B
    /// `osdp_FILETRANSFER`: send a file block.
    case fileTransfer = 0x7C
    /// `osdp_MFG`: manufacturer-specific command.
    case manufacturer = 0x80
    /// `osdp_XWR`: extended write (transparent smart card).
    case extendedWrite = 0xA1
    /// `osdp_ABORT`: abort the current operation.
    case abort = 0xA2
    /// `osdp_PIVDATA`: get PIV data.
    case pivData = 0xA3
    /// `osdp_GENAUTH`: authenticate.
    case generalAuthenticate = 0xA4
    /// `osdp_CRAUTH`: challenge and response.
    case challengeResponse = 0xA5
    /// `osdp_KEEPACTIVE`: keep a reader active.
    case keepActive = 0xA7

    /// The spec's name, e.g. `osdp_POLL`.
    public var name: String {
        switch self {
        case .poll: "osdp_POLL"
        case .id: "osdp_ID"
        case .capabilities: "osdp_CAP"
        case .localStatus: "osdp_LSTAT"
        case .inputStatus: "osdp_ISTAT"
        case .outputStatus: "osdp_OSTAT"
        case .readerStatus: "osdp_RSTAT"
        case .output: "osdp_OUT"
        case .led: "osdp_LED"
        case .buzzer: "osdp_BUZ"
        case .text: "osdp_TEXT"
        case .comSet: "osdp_COMSET"
        case .bioRead: "osdp_BIOREAD"
        case .bioMatch: "osdp_BIOMATCH"
        case .keySet: "osdp_KEYSET"
        case .challenge: "osdp_CHLNG"
        case .serverCryptogram: "osdp_SCRYPT"
        case .acuReceiveSize: "osdp_ACURXSIZE"
        case .fileTransfer: "osdp_FILETRANSFER"
        case .manufacturer: "osdp_MFG"
        case .extendedWrite: "osdp_XWR"
        case .abort: "osdp_ABORT"
        case .pivData: "osdp_PIVDATA"
        case .generalAuthenticate: "osdp_GENAUTH"
        case .challengeResponse: "osdp_CRAUTH"
        case .keepActive: "osdp_KEEPACTIVE"
        }
    }
}

/// Reply codes, PD → CP (SIA OSDP 2.2, section 7 and Annex A).
public enum OSDPReplyCode: UInt8, Sendable, Hashable, CaseIterable {
    /// `osdp_ACK`: command accepted, nothing to report.
    case ack = 0x40
    /// `osdp_NAK`: command refused; one error byte follows.
    case nak = 0x41
    /// `osdp_PDID`: identification.
    case identification = 0x45
    /// `osdp_PDCAP`: capabilities.
    case capabilities = 0x46
    /// `osdp_LSTATR`: local status (tamper, power).
    case localStatus = 0x48
    /// `osdp_ISTATR`: input status.
    case inputStatus = 0x49
    /// `osdp_OSTATR`: output status.
    case outputStatus = 0x4A
    /// `osdp_RSTATR`: reader tamper status.
    case readerStatus = 0x4B
    /// `osdp_RAW`: card data, unprocessed bits.
    case rawCardData = 0x50
    /// `osdp_FMT`: card data, formatted (deprecated in 2.2).
    case formattedCardData = 0x51
    /// `osdp_KEYPAD`: keypad digits.
    case keypad = 0x53
    /// `osdp_COM`: communication configuration after `osdp_COMSET`.
    case communicationConfiguration = 0x54
    /// `osdp_BIOREADR`: biometric data.
    case bioReadResult = 0x57
    /// `osdp_BIOMATCHR`: biometric match result.
    case bioMatchResult = 0x58
    /// `osdp_CCRYPT`: client UID, PD random and client cryptogram.
    case clientCryptogram = 0x76
    /// `osdp_RMAC_I`: the initial reply MAC.
    case initialRMAC = 0x78
    /// `osdp_BUSY`: the PD is busy; re-send the command later.
    case busy = 0x79
    /// `osdp_FTSTAT`: file transfer status.
    case fileTransferStatus = 0x7A
    /// `osdp_PIVDATAR`: PIV data.
    case pivDataReply = 0x80
    /// `osdp_GENAUTHR`: authentication response.
    case generalAuthenticateReply = 0x81
    /// `osdp_CRAUTHR`: challenge response.
    case challengeResponseReply = 0x82
    /// `osdp_MFGSTATR`: manufacturer status.
    case manufacturerStatus = 0x83
    /// `osdp_MFGERRR`: manufacturer error.
    case manufacturerError = 0x84
    /// `osdp_MFGREP`: manufacturer-specific reply.
    case manufacturer = 0x90
    /// `osdp_XRD`: extended read reply.
    case extendedRead = 0xB1

    /// The spec's name, e.g. `osdp_ACK`.
    public var name: String {
        switch self {
        case .ack: "osdp_ACK"
        case .nak: "osdp_NAK"
        case .identification: "osdp_PDID"
        case .capabilities: "osdp_PDCAP"
        case .localStatus: "osdp_LSTATR"
        case .inputStatus: "osdp_ISTATR"
        case .outputStatus: "osdp_OSTATR"
        case .readerStatus: "osdp_RSTATR"
        case .rawCardData: "osdp_RAW"
        case .formattedCardData: "osdp_FMT"
        case .keypad: "osdp_KEYPAD"
        case .communicationConfiguration: "osdp_COM"
        case .bioReadResult: "osdp_BIOREADR"
        case .bioMatchResult: "osdp_BIOMATCHR"
        case .clientCryptogram: "osdp_CCRYPT"
        case .initialRMAC: "osdp_RMAC_I"
        case .busy: "osdp_BUSY"
        case .fileTransferStatus: "osdp_FTSTAT"
        case .pivDataReply: "osdp_PIVDATAR"
        case .generalAuthenticateReply: "osdp_GENAUTHR"
        case .challengeResponseReply: "osdp_CRAUTHR"
        case .manufacturerStatus: "osdp_MFGSTATR"
        case .manufacturerError: "osdp_MFGERRR"
        case .manufacturer: "osdp_MFGREP"
        case .extendedRead: "osdp_XRD"
        }
    }
}

/// The error code of an `osdp_NAK` reply (SIA OSDP 2.2, section 7.3).
public struct OSDPNAKError: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The error byte.
    public var rawValue: UInt8

    /// Wraps an error byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 0x00: no error.
    public static let none = OSDPNAKError(rawValue: 0x00)
    /// 0x01: message check character(s) error (bad CRC or checksum).
    public static let badCheck = OSDPNAKError(rawValue: 0x01)
    /// 0x02: command length error.
    public static let badLength = OSDPNAKError(rawValue: 0x02)
    /// 0x03: unknown command code (this PD does not know the command).
    public static let unknownCommand = OSDPNAKError(rawValue: 0x03)
    /// 0x04: unexpected sequence number.
    public static let unexpectedSequence = OSDPNAKError(rawValue: 0x04)
    /// 0x05: this PD does not support the security block that was received.
    public static let securityBlockUnsupported = OSDPNAKError(rawValue: 0x05)
    /// 0x06: encrypted communication is required to process this command.
    public static let encryptionRequired = OSDPNAKError(rawValue: 0x06)
    /// 0x07: BIO_TYPE not supported.
    public static let bioTypeUnsupported = OSDPNAKError(rawValue: 0x07)
    /// 0x08: BIO_FORMAT not supported.
    public static let bioFormatUnsupported = OSDPNAKError(rawValue: 0x08)
    /// 0x09: unable to process the command record.
    public static let unableToProcess = OSDPNAKError(rawValue: 0x09)

    /// A short explanation.
    public var description: String {
        switch rawValue {
        case 0x00: "no error (0x00)"
        case 0x01: "message check error (0x01)"
        case 0x02: "command length error (0x02)"
        case 0x03: "unknown command code (0x03)"
        case 0x04: "unexpected sequence number (0x04)"
        case 0x05: "security block not supported (0x05)"
        case 0x06: "encrypted communication required (0x06)"
        case 0x07: "biometric type not supported (0x07)"
        case 0x08: "biometric format not supported (0x08)"
        case 0x09: "unable to process command record (0x09)"
        default: "error 0x\(String(format2: rawValue))"
        }
    }
}
