/// Everything that can go wrong while building, parsing, encrypting or exchanging DC-09
/// frames. Match on ``code``; ``description`` says what happened, where, and what to do.
///
/// A struct with a code rather than an enum, so that codes can be added without breaking
/// callers.
public struct DC09Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidField, invalidKey, malformedFrame, lengthMismatch, crcMismatch
            case missingKey, decryptionFailed, unexpectedResponse
            case connectFailed, timedOut, connectionClosed, frameTooLong, sequenceStore
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A configured field (account, receiver, prefix, zone, ...) is out of range.
        public static let invalidField = Code(.invalidField)
        /// An encryption key is not 32, 48 or 64 hex digits.
        public static let invalidKey = Code(.invalidKey)
        /// The bytes are not a DC-09 frame (missing quote, bad sequence, missing bracket, ...).
        public static let malformedFrame = Code(.malformedFrame)
        /// The `0LLL` length field does not match the number of bytes received.
        public static let lengthMismatch = Code(.lengthMismatch)
        /// The CRC field does not match the CRC of the bytes received.
        public static let crcMismatch = Code(.crcMismatch)
        /// The frame is encrypted (`*` before the id token) but no key is configured for it.
        public static let missingKey = Code(.missingKey)
        /// Decryption produced no readable message: a wrong key, or a corrupted frame.
        public static let decryptionFailed = Code(.decryptionFailed)
        /// A response token other than ACK, NAK, DUH or RSP arrived where a response was due.
        public static let unexpectedResponse = Code(.unexpectedResponse)
        /// The TCP connection to the receiver could not be opened.
        public static let connectFailed = Code(.connectFailed)
        /// The receiver did not answer within the configured time.
        public static let timedOut = Code(.timedOut)
        /// The receiver closed the connection before answering.
        public static let connectionClosed = Code(.connectionClosed)
        /// More bytes arrived without a terminating `<CR>` than any DC-09 frame can hold.
        public static let frameTooLong = Code(.frameTooLong)
        /// The sequence-number store could not be read or written.
        public static let sequenceStore = Code(.sequenceStore)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What happened, where, and what to do about it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "DC-09 \(code): \(message)" }
}
