import Foundation
import Glibc
import Synchronization

/// A child `station-agent run --config FILE` of the demo, the power-cut test and chaos: its
/// output echoed with an `agent` prefix (the demo) or appended to a log file (the others).
final class AgentChild: Sendable {
    enum Output {
        case echo(DemoOutput)
        case appendTo(String)
    }

    private let process: Process
    let pid: Int32

    init(path: String, configPath: String, output: Output) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["run", "--config", configPath]
        switch output {
        case .appendTo(let logPath):
            guard let log = FileHandle(forWritingAtPath: logPath) else {
                throw DemoFailure("cannot open the agent log \(logPath) for writing")
            }
            log.seekToEndOfFile()
            process.standardOutput = log
            process.standardError = log
        case .echo(let demo):
            let pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = pipe
            let buffer = Mutex(Data())
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                let lines: [String] = buffer.withLock { pending in
                    pending.append(data)
                    var lines: [String] = []
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                        pending.removeSubrange(pending.startIndex...newline)
                    }
                    return lines
                }
                for line in lines { demo.say("agent", Self.shorten(line)) }
                if data.isEmpty { handle.readabilityHandler = nil }
            }
        }
        try process.run()
        self.process = process
        self.pid = process.processIdentifier
    }

    var isRunning: Bool { process.isRunning }
    var exitStatus: Int32 { process.isRunning ? -1 : process.terminationStatus }

    /// The power cut: SIGKILL, then reap.
    func kill() {
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM (the agent drains and exits), then SIGKILL if it has not stopped within 10 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        kill()
    }

    /// Drops the log line's date and label: the demo prints its own time column.
    static func shorten(_ line: String) -> String {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].contains("T") else { return line }
        return parts[1] + " " + parts[2]
    }
}
