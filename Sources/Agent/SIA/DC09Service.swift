import EventModel
import EventStore
import Foundation
import Logging
import SIADC09
import ServiceLifecycle

/// Where and how alarms also go over SIA DC-09.
public struct DC09Settings: Sendable {
    public var host: String
    public var port: Int
    public var configuration: DC09TransmitterConfiguration

    public init(host: String, port: Int, configuration: DC09TransmitterConfiguration) {
        self.host = host
        self.port = port
        self.configuration = configuration
    }
}

/// Sends the alarm lane (alarms, their resets, tamper) to an alarm receiving centre over SIA
/// DC-09, in addition to the HTTP platform, in sequence order, each event until the receiver
/// ACKs it (or refuses it with DUH). Its own cursor is stored, so a restart neither loses nor
/// repeats an event; the DC-09 sequence number survives restarts in `dc09-sequence`.
///
/// The first start with DC-09 configured begins with events stored from then on: earlier alarms
/// went to the platform only.
public struct DC09Service<C: Clock>: Service where C.Duration == Duration {
    let settings: DC09Settings
    let store: EventStore
    let clock: C
    let logger: Logger

    public init(settings: DC09Settings, store: EventStore, clock: C, logger: Logger) {
        self.settings = settings
        self.store = store
        self.clock = clock
        var logger = logger
        logger[metadataKey: "dc09.receiver"] = "\(settings.host):\(settings.port)"
        self.logger = logger
    }

    public func run() async throws {
        let sequences = DC09FileSequenceStore(
            path: ((store.directory ?? NSTemporaryDirectory()) as NSString).appendingPathComponent("dc09-sequence"))
        let link = try DC09Link(
            configuration: settings.configuration, host: settings.host, port: settings.port, sequenceStore: sequences, logger: logger)
        try await runUntilGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await link.run() }
                group.addTask { try await forward(through: link) }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    private func forward(through link: DC09Link) async throws {
        var cursor = try await DC09Cursor.prepare(in: store)
        var saved = cursor
        var storeFailures = StoreFailures(logger: logger)
        while !Task.isCancelled {
            let events: [StoredEvent]
            do {
                if saved != cursor {
                    // A cursor not saved yet (the store refused): saved before going on, so a
                    // restart repeats as little as possible.
                    try await store.meta.set(DC09Cursor.key, String(cursor))
                    saved = cursor
                }
                events = try await store.laneEvents(.alarm, afterSeq: cursor, limit: 20)
                storeFailures.succeeded()
            } catch {
                if Task.isCancelled { return }
                guard await storeFailures.wait(after: error, doing: "read the DC-09 lane or save its place", on: clock) else { return }
                continue
            }
            if events.isEmpty {
                try await clock.sleep(for: .milliseconds(50))
                continue
            }
            for event in events {
                if let message = DC09Event(event.event) {
                    switch await link.deliver(message, id: event.id) {
                    case .delivered(let sequence, let attempts):
                        logger.notice(
                            "DC-09 receiver acknowledged", metadata: ["event.seq": "\(event.seq)", "dc09.sequence": "\(sequence)", "attempts": "\(attempts)"])
                    case .refused(let sequence, let reason):
                        logger.error(
                            "DC-09 receiver refused an event (DUH); it is not repeated",
                            metadata: ["event.seq": "\(event.seq)", "dc09.sequence": "\(sequence)", "reason": "\(reason)"])
                    case .stopped:
                        return
                    }
                }
                cursor = event.seq
                do {
                    try await store.meta.set(DC09Cursor.key, String(cursor))
                    saved = cursor
                } catch {
                    // Kept in memory and saved on the next pass; a restart before that sends
                    // the events after the saved place again (the receiver sees a repeat).
                    logger.warning("cannot save the DC-09 lane's place in the store yet", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// The DC-09 lane's cursor: the sequence number of the last alarm-lane event it has handled,
/// kept in the store's `meta` table.
public enum DC09Cursor {
    static let key = "dc09_cursor"

    /// Fixes where the DC-09 lane begins, and must run before any device service can store an
    /// event: the first start with DC-09 configured begins after the events already stored;
    /// every later start (or reload) goes on from the saved cursor. Fixing it inside `run()`
    /// instead raced with the devices: an alarm stored before the service read the last
    /// sequence number was skipped and never went over DC-09. Returns the cursor.
    @discardableResult
    public static func prepare(in store: EventStore) async throws -> Int64 {
        if let saved = try await store.meta.value(key).flatMap(Int64.init) { return saved }
        let cursor = try await store.summary().lastSeq
        try await store.meta.set(key, String(cursor))
        return cursor
    }
}
