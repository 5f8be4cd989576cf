import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import Metrics
import SerialTransport
import ServiceLifecycle
import StationConfig
import Uplink

/// A configured card reader.
public struct CardReaderDevice: Sendable, Hashable {
    public var name: String
    public var purpose: String
    public var profile: ReaderProfile
    public var port: PortSpec
    public var settings: SerialSettings
    /// A card seen again within this time of its last sighting is the same tap.
    public var dedupWindow: Duration
    /// Backoff between attempts to (re)open the port.
    public var reopen: RetryPolicy

    public init(
        name: String, purpose: String, profile: ReaderProfile, port: PortSpec, settings: SerialSettings,
        dedupWindow: Duration, reopen: RetryPolicy
    ) {
        self.name = name
        self.purpose = purpose
        self.profile = profile
        self.port = port
        self.settings = settings
        self.dedupWindow = dedupWindow
        self.reopen = reopen
    }
}

/// Reads one card reader: opens its port (retrying with backoff until it exists), decodes what
/// it sends, turns each new card presentation into a durably stored `card_tap` event, and reports
/// the device offline when the line hangs up (unplug) and online when it is back.
///
/// Reads happen on a dedicated thread (see `SerialByteStream`, which also closes the port when
/// the stream ends), never on the cooperative pool;
/// the only thing this service awaits per tap is the local commit, never the network.
public struct CardReaderService<C: Clock>: Service where C.Duration == Duration {
    let device: CardReaderDevice
    let intake: EventIntake
    let ports: any SerialPortProvider
    let clock: C
    let logger: Logger
    /// Raw numbers or pseudonyms (`[privacy] card_ids`).
    let cardIDs: CardIDPolicy

    public init(
        device: CardReaderDevice, intake: EventIntake, ports: any SerialPortProvider, cardIDs: CardIDPolicy, clock: C, logger: Logger
    ) {
        self.cardIDs = cardIDs
        self.device = device
        self.intake = intake
        self.ports = ports
        self.clock = clock
        var logger = logger
        logger[metadataKey: "device"] = "\(device.name)"
        self.logger = logger
    }

    public func run() async throws {
        try await runUntilGracefulShutdown { try await readForever() }
    }

    private func readForever() async throws {
        var health = DeviceHealth(name: device.name, purpose: device.purpose, intake: intake, logger: logger)
        var deduplicator = TapDeduplicator(window: device.dedupWindow)
        let origin = clock.now
        let taps = Counter(label: "station_card_taps_total", dimensions: [("device", device.name)])
        try await DeviceLineDriver(reopen: device.reopen, port: "\(device.port)", clock: clock).run(
            health: &health,
            open: { try ports.open(device.port, settings: device.settings) }
        ) { port, health in
            logger.info("reader open", metadata: ["port": "\(port.name)", "settings": "\(device.settings)"])
            await health.online("open on \(port.name)")
            var decoder = device.profile.makeDecoder()
            var lastCounters = decoder.counters
            do {
                for try await chunk in SerialByteStream(port: port, marksIdleLine: true, logger: logger).chunks {
                    guard !chunk.isEmpty else {
                        // The line went quiet: an unfinished frame is noise (and, for EM-18,
                        // which has no start byte, the next frame starts afresh).
                        decoder.noteLineIdle()
                        continue
                    }
                    let cards = decoder.feed(chunk)
                    if decoder.counters != lastCounters {
                        reportDecoderProblems(old: lastCounters, new: decoder.counters)
                        lastCounters = decoder.counters
                    }
                    for card in cards {
                        guard deduplicator.admit(card.uid, at: origin.duration(to: clock.now)) else { continue }
                        guard let stored = await storeTap(card) else { continue }
                        taps.increment()
                        logger.info(
                            "card tap stored",
                            metadata: [
                                "event.seq": "\(stored.seq)", "event.id": "\(stored.id)",
                                "card": "\(Self.masked(stored.event.card?.uid ?? ""))",
                            ])
                    }
                }
                return nil  // the stream ends without an error only when we are cancelled
            } catch let error as SerialError where error.code == .hangup {
                logger.warning("reader hung up (unplugged?); reopening", metadata: ["error": "\(error)"])
            } catch is CancellationError {
                return nil
            } catch {
                logger.warning("reader failed; reopening", metadata: ["error": "\(error)"])
            }
            return "lost \(port.name)"
        }
    }

    /// Stores a tap through the intake: the stored event, or nil while the store refuses
    /// writes (a full disk, say) and the tap is held in memory and retried (``EventIntake``);
    /// the reader goes on reading meanwhile.
    private func storeTap(_ card: DecodedCard) async -> StoredEvent? {
        await intake.append(
            NewEvent(
                kind: .cardTap, device: device.name, purpose: device.purpose,
                card: cardIDs.apply(CardRead(uid: card.uid, format: card.format.rawValue))))
    }

    private func reportDecoderProblems(old: DecoderCounters, new: DecoderCounters) {
        let errors = Counter(label: "station_decoder_errors_total", dimensions: [("device", device.name)])
        let added =
            (new.badChecksum - old.badChecksum) + (new.overlongLines - old.overlongLines)
            + (new.invalidLines - old.invalidLines) + (new.garbageBytes - old.garbageBytes)
        errors.increment(by: max(0, added))
        logger.debug(
            "reader sent bytes that are not a valid frame",
            metadata: [
                "decoder.bad_checksum": "\(new.badChecksum)", "decoder.garbage_bytes": "\(new.garbageBytes)",
                "decoder.overlong_lines": "\(new.overlongLines)", "decoder.invalid_lines": "\(new.invalidLines)",
            ])
    }

    /// A stored card uid for logs: never the whole of it (a raw number is personal data, and
    /// with `card_ids = "pseudonym"` what is stored is already the pseudonym).
    static func masked(_ uid: String) -> String {
        uid.count <= 4 ? "****" : "…" + uid.suffix(4)
    }
}
