import DeviceProtocols
import EventModel
import EventStore
import Foundation
import GRDB
import OSDP
import SIADC09

/// The parts of the benchmark that need no agent process: decoders and the disk.
enum MicroBenchmarks {
    // MARK: Decoders

    /// Feeds `stream` to `decode` in 64-byte chunks (a serial read's size) until at least
    /// `totalBytes` went through; returns MB/s (10^6 bytes) and the frames decoded.
    static func throughput(stream: [UInt8], totalBytes: Int, decode: ([UInt8]) -> Int) -> (mbps: Double, frames: Int) {
        let chunks: [[UInt8]] = stride(from: 0, to: stream.count, by: 64).map { Array(stream[$0..<min($0 + 64, stream.count)]) }
        var bytes = 0
        var frames = 0
        let clock = ContinuousClock()
        let start = clock.now
        while bytes < totalBytes {
            for chunk in chunks { frames &+= decode(chunk) }
            bytes += stream.count
        }
        let elapsed = (clock.now - start).seconds
        return (Double(bytes) / elapsed / 1e6, frames)
    }

    /// Bytes per second through each device decoder.
    static func decoders(quick: Bool, into report: inout Report) throws {
        let total = quick ? 8_000_000 : 40_000_000
        let lineRate = 11_520.0 / 1e6  // 115200 baud 8N1 in MB/s
        let goal = "> 0.0115 (115200 baud)"

        for profile in ReaderProfile.allCases {
            var stream: [UInt8] = []
            var index = 0
            while stream.count < 64 * 1024 {
                let uid: String
                switch profile {
                case .rdm6300, .em18: uid = String(format: "%010X", 0x1A_0000_0000 + index)
                case .textHex: uid = String(format: "%08X", 0x04A2_0000 + index)
                case .textDecimal: uid = String(format: "%010d", 4_000_000 + index)
                }
                stream += try profile.encode(uid: uid)
                index += 1
            }
            var decoder = profile.makeDecoder()
            let result = throughput(stream: stream, totalBytes: total) { decoder.feed($0).count }
            try check(result.frames > 0, "the \(profile.rawValue) decoder decoded no card from its own encoder's frames")
            let name = "decode_\(profile.rawValue.replacingOccurrences(of: "-", with: "_"))_mbps"
            report.add(name, result.mbps, "MB/s", goal: goal, limit: lineRate, met: result.mbps > lineRate)
        }

        // The alarm box link (framing, CRC, sequence handling, acknowledgements).
        do {
            var stream: [UInt8] = []
            var sequence: UInt8 = 0
            let status = AlarmBoxStatus(uptimeSeconds: 1)
            stream += AlarmBoxFrame.hello(sequence: sequence, status: status).encoded()
            while stream.count < 64 * 1024 {
                sequence &+= 1
                stream += AlarmBoxFrame.event(.heartbeat(status), sequence: sequence, status: status).encoded()
            }
            var link = AlarmBoxLink()
            var tick: Int64 = 0
            let result = throughput(stream: stream, totalBytes: total) { chunk in
                tick += 1
                return link.received(chunk, now: .milliseconds(tick)).count
            }
            try check(link.counters.frames > 0, "the alarm box link decoded no frame from AlarmBoxFrame.encoded() output")
            report.add("decode_alarm_box_mbps", result.mbps, "MB/s", goal: goal, limit: lineRate, met: result.mbps > lineRate)
        }

        // OSDP: raw card data replies, CRC-16.
        do {
            var stream: [UInt8] = []
            var index = 0
            while stream.count < 64 * 1024 {
                let packet = OSDPPacket(
                    address: 1, isReply: true, sequence: UInt8(index % 3 + 1), code: 0x50,
                    data: [0x00, 0x01, 26, 0x00, UInt8(index & 0xFF), 0x12, 0x34, 0xC0])
                stream += packet.encoded()
                index += 1
            }
            var decoder = OSDPFrameDecoder()
            let result = throughput(stream: stream, totalBytes: total) { decoder.feed($0).count }
            try check(decoder.counters.frames > 0, "the OSDP frame decoder decoded no frame from OSDPPacket.encoded() output")
            report.add("decode_osdp_mbps", result.mbps, "MB/s", goal: goal, limit: lineRate, met: result.mbps > lineRate)
        }

        // SIA DC-09: plain SIA-DCS events and AES-encrypted ones, split and decoded; receiver ACKs parsed.
        let time = DC09Timestamp(Date(timeIntervalSince1970: 1_790_000_000))
        let account = try DC09Account("1234")
        let key = try DC09Key(hex: "000102030405060708090A0B0C0D0E0F")
        for (name, encrypted) in [("decode_dc09_mbps", false), ("decode_dc09_aes_mbps", true)] {
            var stream: [UInt8] = []
            var index = 0
            while stream.count < 64 * 1024 {
                let message = DC09Message(
                    token: .siaDCS, isEncrypted: encrypted, sequence: try DC09Sequence(index % 9999 + 1), prefix: try DC09LinePrefix("0"),
                    account: account, data: "#1234|Nri1/PA\(String(format: "%03d", index % 1000))", timestamp: time)
                stream += try DC09Frame.encode(message, key: encrypted ? key : nil)
                index += 1
            }
            var splitter = DC09FrameSplitter()
            var failures = 0
            let result = throughput(stream: stream, totalBytes: total / (encrypted ? 4 : 1)) { chunk in
                var decoded = 0
                for frame in splitter.append(chunk) {
                    do {
                        _ = try DC09Frame.decode(frame, key: encrypted ? key : nil)
                        decoded += 1
                    } catch {
                        failures += 1
                    }
                }
                return decoded
            }
            try check(result.frames > 0 && failures == 0, "DC-09 decode: \(result.frames) frames decoded, \(failures) failed")
            report.add(name, result.mbps, "MB/s", goal: goal, limit: lineRate, met: result.mbps > lineRate)
        }
        do {
            var frames: [[UInt8]] = []
            for index in 0..<512 {
                let sent = DC09Message(
                    token: .siaDCS, sequence: try DC09Sequence(index + 1), prefix: try DC09LinePrefix("0"), account: account,
                    data: "#1234|Nri1/PA001", timestamp: time)
                frames.append(try DC09Frame.encode(sent.response(.ack, timestamp: time), key: nil))
            }
            let bytesPerRound = frames.reduce(0) { $0 + $1.count }
            var bytes = 0
            var parsed = 0
            let clock = ContinuousClock()
            let start = clock.now
            while bytes < total / 2 {
                for frame in frames {
                    if case .ack = try DC09Response.parse(frame, key: nil) { parsed += 1 }
                }
                bytes += bytesPerRound
            }
            let mbps = Double(bytes) / (clock.now - start).seconds / 1e6
            try check(parsed > 0, "DC09Response.parse recognised no ACK")
            report.add("decode_dc09_response_mbps", mbps, "MB/s", goal: goal, limit: lineRate, met: mbps > lineRate)
        }
    }

    // MARK: Disk

    /// 200-byte appends each followed by `fdatasync`, with no agent code: the disk's synced-commit rate.
    static func rawFsync(directory: String, count: Int) throws -> Double {
        let path = directory + "/fsync.bin"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        try check(fd >= 0, "cannot create \(path): errno \(errno); pass a writable --workdir")
        defer {
            close(fd)
            unlink(path)
        }
        let record = [UInt8](repeating: 0x41, count: 200)
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<count {
            let written = record.withUnsafeBytes { write(fd, $0.baseAddress, 200) }
            try check(written == 200, "write to \(path) failed: errno \(errno)")
            try check(fdatasync(fd) == 0, "fdatasync of \(path) failed: errno \(errno)")
        }
        return Double(count) / (clock.now - start).seconds
    }

    /// Plain SQLite through GRDB (WAL, `synchronous=FULL` on the writer, as the agent runs it),
    /// inserting rows shaped like the agent's events in transactions of `perTransaction` rows.
    static func rawSQLiteBatched(directory: String, count: Int, perTransaction: Int = 1000) throws -> Double {
        let path = directory + "/raw.sqlite"
        defer {
            for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        }
        let pool = try DatabasePool(path: path)
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            let level = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            try check(level == 2, "raw SQLite writer runs with synchronous=\(level), not FULL")
            try db.execute(
                sql: """
                    CREATE TABLE event (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                        lane TEXT NOT NULL, device TEXT NOT NULL, purpose TEXT, card_uid TEXT, card_format TEXT,
                        detail TEXT, occurred_at TEXT NOT NULL, monotonic_nanos INTEGER NOT NULL, boot_id TEXT,
                        stored_at TEXT NOT NULL, delivered_at TEXT, outcome TEXT)
                    """)
            try db.execute(sql: "CREATE INDEX event_pending ON event (lane, seq) WHERE delivered_at IS NULL")
        }
        // The row values are made before the clock starts: this figure is the disk and SQLite, not string formatting.
        let ids = (0..<count).map { _ in UUID().uuidString }
        let uids = (0..<count).map { String(format: "%010X", $0) }
        let now = Timestamp.format(Date())
        let clock = ContinuousClock()
        let start = clock.now
        var inserted = 0
        while inserted < count {
            let rows = min(perTransaction, count - inserted)
            let base = inserted
            try pool.write { db in
                let statement = try db.cachedStatement(
                    sql: """
                        INSERT INTO event (id, kind, lane, device, purpose, card_uid, card_format, occurred_at,
                                           monotonic_nanos, boot_id, stored_at)
                        VALUES (?, 'card_tap', 'normal', 'reader-1', 'check-in', ?, 'em4100', ?, ?, 'boot', ?)
                        """)
                for row in base..<(base + rows) {
                    try statement.execute(arguments: [ids[row], uids[row], now, row, now])
                }
            }
            inserted += rows
        }
        return Double(count) / (clock.now - start).seconds
    }

    /// `EventStore.append` from `writers` concurrent tasks, each appending one event at a time
    /// (as a device does): events per second accepted with full durability.
    static func durableIngest(directory: String, count: Int, writers: Int) async throws -> Double {
        let dir = directory + "/ingest"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try EventStore.open(directory: dir)
        try check(try store.synchronousLevel() == 2, "EventStore did not open with synchronous=FULL")
        let perWriter = count / writers
        let uids = (0..<perWriter).map { String(format: "%010X", $0) }
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let device = "reader-\(writer)"
                    for index in 0..<perWriter {
                        _ = try await store.append(
                            NewEvent(kind: .cardTap, device: device, purpose: "check-in", card: CardRead(uid: uids[index], format: "em4100")))
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(perWriter * writers) / (clock.now - start).seconds
    }

    /// Writes `count` card taps into a new store in `directory` (the backlog an agent finds at start).
    static func prefill(directory: String, count: Int) async throws {
        let store = try EventStore.open(directory: directory)
        var written = 0
        while written < count {
            let batch = (0..<min(5000, count - written)).map { index in
                NewEvent(
                    kind: .cardTap, device: "reader-1", purpose: "check-in",
                    card: CardRead(uid: String(format: "%010X", 0x10_0000_0000 + written + index), format: "em4100"))
            }
            _ = try await store.append(contentsOf: batch)
            written += batch.count
        }
    }
}

/// A benchmark that could not run as it must; the message says what and where.
struct BenchFailure: Error, CustomStringConvertible {
    var description: String
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw BenchFailure(description: message()) }
}
