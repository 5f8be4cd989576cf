/// How the control panel talks to one reader.
public enum OSDPSecureChannelMode: Sendable, Hashable {
    /// Plain text (CRC-16 frames, no encryption, no MAC).
    case disabled
    /// Every command after discovery inside a secure session under `key`.
    ///
    /// With `allowInstall`, a reader that fails the handshake under `key` is tried under SCBK-D
    /// (install mode); when that works, `osdp_KEYSET` moves it to `key` and the session restarts
    /// under `key`. Turn it off once the reader is installed: a factory-fresh reader swapped in
    /// later would otherwise be keyed silently.
    case required(key: OSDPSecureChannelKey, allowInstall: Bool)
}

/// One reader (PD) on the bus.
public struct OSDPReaderConfiguration: Sendable, Hashable {
    /// The PD address, 0...126 (127 is broadcast).
    public var address: UInt8
    /// A name for events and logs, e.g. `entrance`.
    public var name: String
    /// Plain or secure.
    public var secureChannel: OSDPSecureChannelMode

    /// Creates a reader configuration.
    public init(address: UInt8, name: String, secureChannel: OSDPSecureChannelMode = .disabled) {
        self.address = address
        self.name = name
        self.secureChannel = secureChannel
    }
}

/// The control panel's timing and readers. Defaults follow SIA OSDP 2.2.
public struct OSDPControlPanelConfiguration: Sendable, Hashable {
    /// The readers on this bus, polled in this order.
    public var readers: [OSDPReaderConfiguration]
    /// The line speed, used to compute transmission times and the turnaround gap. Default 9600.
    public var baudRate: Int
    /// How long a PD has to start its reply after the command was transmitted: 200 ms.
    public var replyTimeout: Duration
    /// A partial frame is dropped after this gap between two bytes: 20 ms.
    public var interCharacterTimeout: Duration
    /// The quiet time before the CP transmits, at least two character times (SIA OSDP 2.2 5.7).
    /// Nil: two character times at ``baudRate``.
    public var turnaroundGap: Duration?
    /// The time between two polls of one idle reader. Default 50 ms.
    public var pollInterval: Duration
    /// A reader that gave no valid reply for this long is offline: 8 s.
    public var offlineTimeout: Duration
    /// How often an offline reader is probed (with `osdp_ID`, sequence 0). Default 1 s.
    public var offlineProbeInterval: Duration
    /// How long to wait before another handshake after a secure channel failure. Default 2 s.
    public var secureChannelRetryInterval: Duration
    /// How long to wait before re-sending a command answered with `osdp_BUSY`. Default 50 ms.
    public var busyRetryDelay: Duration
    /// The most commands (LED, buzzer, ...) queued per reader. Default 16.
    public var commandQueueLimit: Int

    /// Creates a configuration.
    public init(
        readers: [OSDPReaderConfiguration], baudRate: Int = 9600, replyTimeout: Duration = .milliseconds(200),
        interCharacterTimeout: Duration = .milliseconds(20), turnaroundGap: Duration? = nil,
        pollInterval: Duration = .milliseconds(50), offlineTimeout: Duration = .seconds(8),
        offlineProbeInterval: Duration = .seconds(1), secureChannelRetryInterval: Duration = .seconds(2),
        busyRetryDelay: Duration = .milliseconds(50), commandQueueLimit: Int = 16
    ) {
        self.readers = readers
        self.baudRate = baudRate
        self.replyTimeout = replyTimeout
        self.interCharacterTimeout = interCharacterTimeout
        self.turnaroundGap = turnaroundGap
        self.pollInterval = pollInterval
        self.offlineTimeout = offlineTimeout
        self.offlineProbeInterval = offlineProbeInterval
        self.secureChannelRetryInterval = secureChannelRetryInterval
        self.busyRetryDelay = busyRetryDelay
        self.commandQueueLimit = commandQueueLimit
    }

    /// The baud rates SIA OSDP 2.2 allows.
    public static let supportedBaudRates = [9600, 19_200, 38_400, 57_600, 115_200, 230_400]

    /// The time one byte takes on the line (10 bits: start, 8 data, stop).
    public var characterTime: Duration { .nanoseconds(Int64(10_000_000_000 / max(baudRate, 1))) }

    /// The effective turnaround gap.
    public var effectiveTurnaroundGap: Duration { turnaroundGap ?? characterTime * 2 }

    /// Checks addresses, names and timings.
    /// - Throws: ``OSDPConfigurationError`` naming the reader or field.
    public func validate() throws(OSDPConfigurationError) {
        guard !readers.isEmpty else {
            throw OSDPConfigurationError(field: "readers", message: "an OSDP bus needs at least one reader")
        }
        var seen: [UInt8: String] = [:]
        for reader in readers {
            guard reader.address < OSDPPacket.broadcastAddress else {
                throw OSDPConfigurationError(
                    field: "reader \(reader.name).address",
                    message: "address \(reader.address) is outside 0...126 (127 is broadcast)")
            }
            if let other = seen[reader.address] {
                throw OSDPConfigurationError(
                    field: "reader \(reader.name).address",
                    message: "address \(reader.address) is already used by reader \(other); every reader on a bus needs its own")
            }
            seen[reader.address] = reader.name
        }
        guard Self.supportedBaudRates.contains(baudRate) else {
            throw OSDPConfigurationError(
                field: "baud", message: "\(baudRate) is not an OSDP baud rate (\(Self.supportedBaudRates.map(String.init).joined(separator: ", ")))")
        }
        guard replyTimeout > .zero, pollInterval >= .zero, offlineTimeout > replyTimeout, commandQueueLimit > 0 else {
            throw OSDPConfigurationError(
                field: "timing", message: "reply timeout and offline timeout must be positive, offline longer than the reply timeout")
        }
    }
}

/// A configuration the control panel cannot run with.
public struct OSDPConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field, e.g. `reader entrance.address`.
    public var field: String
    /// What is wrong and what to do.
    public var message: String

    /// Creates an error.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// `OSDP configuration <field>: <message>`
    public var description: String { "OSDP configuration \(field): \(message)" }
}

/// A command the control panel refused to queue.
public struct OSDPControlPanelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why.
    public enum Reason: Sendable, Hashable {
        /// No reader with this address is configured.
        case unknownReader
        /// The reader is offline; feedback would come too late.
        case readerOffline
        /// The reader answered this command with NAK 0x03 before.
        case notSupported
        /// The reader's queue is full.
        case queueFull
        /// Handshake and key commands are the control panel's own.
        case reservedCommand
    }

    /// The reader address.
    public var address: UInt8
    /// Why the command was refused.
    public var reason: Reason
    /// The command's name.
    public var command: String

    /// Describes the refusal.
    public var description: String {
        let why = switch reason {
        case .unknownReader: "no reader with this address is configured"
        case .readerOffline: "the reader is offline"
        case .notSupported: "the reader does not support it (it answered NAK 0x03)"
        case .queueFull: "the reader's command queue is full"
        case .reservedCommand: "handshake and key commands are sent by the control panel itself"
        }
        return "OSDP reader \(address): cannot send \(command): \(why)"
    }
}

/// A card presented at a reader.
public struct OSDPCardRead: Sendable, Hashable {
    /// The raw bits as the reader sent them.
    public var raw: OSDPRawCardData
    /// The Wiegand 26/34 decoding (facility code and card number), or why there is none.
    public var wiegand: WiegandDecoding

    /// Creates a card read from raw data, decoding Wiegand.
    public init(raw: OSDPRawCardData) {
        self.raw = raw
        self.wiegand = raw.wiegand
    }
}

/// Why a secure session could not be opened or was lost.
public enum OSDPSecureChannelFailure: Sendable, Hashable, CustomStringConvertible {
    /// The reader does not support the secure channel (NAK 0x03 or 0x05 to `osdp_CHLNG`).
    case notSupported
    /// The reader holds another key (its client cryptogram does not verify).
    case wrongKey
    /// The reader rejected the CP's server cryptogram.
    case rejectedByReader
    /// The reader's initial R-MAC does not verify.
    case badInitialRMAC
    /// A reply's MAC did not verify, or its data did not decrypt.
    case badMAC
    /// The reader dropped the session (NAK 0x06, or a plain reply inside the session).
    case sessionLost
    /// The reader refused `osdp_KEYSET`.
    case keySetRefused(OSDPNAKError)
    /// The reader insists on encryption but this reader is configured plain.
    case requiredByReader

    /// A short explanation.
    public var description: String {
        switch self {
        case .notSupported: "the reader does not support the secure channel"
        case .wrongKey: "the reader holds another key (client cryptogram mismatch)"
        case .rejectedByReader: "the reader rejected the server cryptogram"
        case .badInitialRMAC: "the initial R-MAC does not verify"
        case .badMAC: "a reply failed MAC verification or decryption"
        case .sessionLost: "the reader dropped the secure session"
        case .keySetRefused(let error): "the reader refused the new key: \(error)"
        case .requiredByReader: "the reader requires the secure channel but it is configured plain"
        }
    }
}

/// Something the control panel reports about a reader.
public struct OSDPEvent: Sendable, Hashable {
    /// The reader address.
    public var address: UInt8
    /// The reader's configured name.
    public var readerName: String
    /// What happened.
    public var kind: Kind

    /// Creates an event.
    public init(address: UInt8, readerName: String, kind: Kind) {
        self.address = address
        self.readerName = readerName
        self.kind = kind
    }

    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// The reader answered (first time, or after being offline).
        case online
        /// No valid reply for the offline timeout (8 s).
        case offline(silentFor: Duration)
        /// `osdp_PDID` received during discovery.
        case identified(OSDPDeviceIdentification)
        /// `osdp_PDCAP` received during discovery.
        case capabilities([OSDPCapability])
        /// A secure session is up; `defaultKey` is true under SCBK-D (install mode).
        case secureChannelEstablished(defaultKey: Bool)
        /// The secure session failed or was lost; the CP retries every
        /// ``OSDPControlPanelConfiguration/secureChannelRetryInterval`` without plain-text polling.
        /// A failure repeating on every retry is reported once, until a session is established
        /// or the reader goes offline.
        case secureChannelFailed(OSDPSecureChannelFailure)
        /// `osdp_KEYSET` was acknowledged: the reader now holds the configured key.
        case keyInstalled
        /// A card was read (`osdp_RAW`).
        case cardRead(OSDPCardRead)
        /// Keys were pressed (`osdp_KEYPAD`).
        case keypad(OSDPKeypadData)
        /// An input changed (first report: only active inputs are reported).
        case inputChanged(input: Int, active: Bool)
        /// The tamper switch changed (first report: only when tampered).
        case tamperChanged(tampered: Bool)
        /// The power status changed (first report: only on failure).
        case powerChanged(failure: Bool)
        /// A queued command (LED, buzzer, output, ...) was acknowledged.
        case commandAcknowledged(code: UInt8)
        /// A command was refused with `osdp_NAK`.
        case commandRejected(code: UInt8, error: OSDPNAKError)
        /// The reader answered NAK 0x03: the command is marked unsupported and not sent again.
        case capabilityMissing(code: UInt8)
        /// A queued command was dropped without being sent (reader went offline, or unsupported).
        case commandDropped(code: UInt8, reason: String)
        /// A reply that does not fit the command, or cannot be decoded.
        case protocolError(String)
    }
}

extension OSDPControlPanel {
    /// What the control panel asks its driver to do.
    public enum Action: Sendable, Hashable {
        /// Write these bytes to the bus (mark byte included).
        case send([UInt8])
        /// Report this event.
        case event(OSDPEvent)
    }
}

/// A snapshot of one reader as the control panel sees it.
public struct OSDPReaderStatus: Sendable, Hashable {
    /// The configuration.
    public var configuration: OSDPReaderConfiguration
    /// True after a valid reply, until the offline timeout.
    public var isOnline: Bool
    /// True while a secure session is established.
    public var isSecureChannelActive: Bool
    /// The identification from discovery.
    public var identification: OSDPDeviceIdentification?
    /// The capabilities from discovery.
    public var capabilities: [OSDPCapability]
    /// Command codes the reader refused with NAK 0x03.
    public var unsupportedCommands: Set<UInt8>
    /// The last reported input states.
    public var inputs: [Bool]?
    /// The last reported tamper and power status.
    public var localStatus: OSDPLocalStatus?
    /// The sequence number the next new command will carry.
    public var nextSequence: UInt8
    /// Commands sent again with the same sequence number after a timeout or `osdp_BUSY`.
    public var retransmissions: Int
    /// Commands that got no reply in time.
    public var timeouts: Int
}
