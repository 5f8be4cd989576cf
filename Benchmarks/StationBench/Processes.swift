import Foundation
import GRDB

/// A child process (the agent, the emulator, the footprint floor) with its output in a log file.
final class Child: @unchecked Sendable {
    let process = Process()
    let logPath: String

    init(executable: String, arguments: [String], logPath: String) throws {
        try check(FileManager.default.isExecutableFile(atPath: executable), "\(executable) is not an executable; build it first (swift build -c release)")
        self.logPath = logPath
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// SIGTERM, then waits up to 10 s, then SIGKILL.
    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// The log so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Resident set size in MB (VmRSS of /proc/PID/status), nil when the process is gone.
    var rssMB: Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return nil
    }

    /// User + system CPU time in seconds (/proc/PID/stat fields 14 and 15).
    var cpuSeconds: Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); utime is field 14, stime field 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Polls `condition` every `interval` until it holds or `timeout` passes; returns whether it held.
func waitUntil(timeout: Duration, interval: Duration = .microseconds(200), _ condition: () throws -> Bool) rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try condition() { return true }
        let (s, atto) = interval.components
        usleep(UInt32(s) * 1_000_000 + UInt32(atto / 1_000_000_000_000))
    }
    return try condition()
}

/// Reads the platform emulator's database (`station-sim emulator --db FILE`) directly: cheaper
/// and more precise than polling its HTTP API while timing.
struct EmulatorProbe {
    let queue: DatabaseQueue

    init(path: String) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    func scalar(_ sql: String, _ arguments: StatementArguments = []) throws -> Int64 {
        try queue.read { try Int64.fetchOne($0, sql: sql, arguments: arguments) ?? 0 }
    }

    var alarms: Int64 { (try? scalar("SELECT COUNT(*) FROM alarm")) ?? 0 }
    var resetAlarms: Int64 { (try? scalar("SELECT COUNT(*) FROM alarm WHERE state = 'reset'")) ?? 0 }
    var accepted: Int64 { (try? scalar("SELECT value FROM counter WHERE name = 'accepted'")) ?? 0 }

    func heartbeatCount(station: String) -> String? {
        try? queue.read { try String.fetchOne($0, sql: "SELECT received_at FROM station_heartbeat WHERE station_id = ?", arguments: [station]) }
    }
}

/// Builds the footprint floor: a Swift program that imports Foundation and sleeps.
func buildFloorProgram(directory: String) throws -> String {
    let source = directory + "/floor.swift"
    let binary = directory + "/floor"
    try """
        import Foundation
        let started = Date()
        while true { Thread.sleep(forTimeInterval: 1); if started.timeIntervalSinceNow > 0 { print(started) } }
        """.write(toFile: source, atomically: true, encoding: .utf8)
    let swiftc = Process()
    swiftc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    swiftc.arguments = ["swiftc", "-O", source, "-o", binary]
    try swiftc.run()
    swiftc.waitUntilExit()
    try check(swiftc.terminationStatus == 0, "swiftc could not build the footprint floor program \(source) (exit \(swiftc.terminationStatus)); is swiftc on PATH?")
    return binary
}
