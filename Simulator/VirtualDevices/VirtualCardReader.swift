import DeviceProtocols
import Logging
import SerialTransport

/// A simulated serial card reader of a given ``DeviceProtocols/ReaderProfile``, on a
/// ``VirtualSerialDevice``: presenting a card writes exactly the bytes the real reader sends.
///
/// ```swift
/// let reader = try VirtualCardReader(profile: .rdm6300, linkPath: "/tmp/station-sim/reader-1")
/// try reader.tap(uid: "1A002F4B6C")                       // one frame
/// try await reader.hold(uid: "1A002F4B6C", repeats: 10)   // a held card: 10 frames, 65 ms apart
/// try await reader.sendSplit(uid: "1A002F4B6C", chunkSizes: [1, 5, 3])
/// reader.device.unplug()
/// ```
public final class VirtualCardReader: Sendable {
    /// The reader's wire protocol.
    public let profile: ReaderProfile
    /// The device the frames are written to (unplug/replug it to simulate cable faults).
    public let device: VirtualSerialDevice

    /// The interval between repeated frames of a held card on RDM6300-style readers.
    public static let heldCardInterval: Duration = .milliseconds(65)

    /// Creates a reader on a new virtual device at `linkPath`.
    public init(profile: ReaderProfile, linkPath: String, logger: Logger = Logger(label: "station.sim.reader"))
        throws(SerialError)
    {
        self.profile = profile
        self.device = try VirtualSerialDevice(linkPath: linkPath, logger: logger)
    }

    /// Creates a reader on an existing virtual device.
    public init(profile: ReaderProfile, device: VirtualSerialDevice) {
        self.profile = profile
        self.device = device
    }

    /// The stable path the agent is configured with.
    public var linkPath: String { device.linkPath }

    /// The frame this reader sends for `uid` (``DeviceProtocols/ReaderProfile/encode(uid:)``).
    /// - Throws: ``DeviceProtocols/CardEncodingError`` when `uid` does not fit the profile.
    public func frame(uid: String) throws(CardEncodingError) -> [UInt8] {
        try profile.encode(uid: uid)
    }

    /// Presents a card once: sends one frame.
    /// - Throws: ``DeviceProtocols/CardEncodingError`` for a bad UID, ``SerialTransport/SerialError``
    ///   while unplugged.
    public func tap(uid: String) throws {
        try device.send(frame(uid: uid))
    }

    /// Holds a card on the reader: sends the frame `repeats` times, `interval` apart, as
    /// RDM6300-style readers do while a card stays in the field. Stops early (throwing
    /// `CancellationError`) when the task is cancelled.
    public func hold(uid: String, repeats: Int, interval: Duration = VirtualCardReader.heldCardInterval) async throws {
        let bytes = try frame(uid: uid)
        for index in 0..<max(repeats, 0) {
            if index > 0 {
                try await Task.sleep(for: interval)
            }
            try device.send(bytes)
        }
    }

    /// Sends arbitrary bytes (line noise, a half frame, another device's chatter).
    public func sendGarbage(_ bytes: [UInt8]) throws {
        try device.send(bytes)
    }

    /// Sends the frame for `uid` in pieces of the given sizes with `pause` between them, as a
    /// slow UART or USB adapter delivers it. Bytes left after the listed sizes go in a last piece.
    /// - Throws: ``SerialTransport/SerialError`` with code `configuration` for a size below 1.
    public func sendSplit(uid: String, chunkSizes: [Int], pause: Duration = .milliseconds(5)) async throws {
        if let bad = chunkSizes.first(where: { $0 < 1 }) {
            throw SerialError(
                code: .configuration, path: linkPath, operation: "sendSplit",
                message: "chunk size \(bad) is not positive",
                hint: "Give chunk sizes of at least 1 byte.")
        }
        let bytes = try frame(uid: uid)
        var pieces: [ArraySlice<UInt8>] = []
        var offset = 0
        for size in chunkSizes where offset < bytes.count {
            let end = min(offset + size, bytes.count)
            pieces.append(bytes[offset..<end])
            offset = end
        }
        if offset < bytes.count { pieces.append(bytes[offset...]) }
        for (index, piece) in pieces.enumerated() {
            if index > 0 {
                try await Task.sleep(for: pause)
            }
            try device.send(Array(piece))
        }
    }
}
