import AsyncHTTPClient
import DeviceProtocols
import EventStore
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PlatformAPI
import Synchronization
import TestSupport
import VirtualDevices

/// Where `swift build` put the binaries under test: next to the test bundle.
enum Binaries {
    static let directory: String = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // The test runner may sit inside a `.xctest` bundle directory.
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("station-agent").path) { return url.path }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }()

    static var agent: String { directory + "/station-agent" }
    static var sim: String { directory + "/station-sim" }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A child process whose output is collected (and shown when a test fails).
final class ChildProcess: Sendable {
    let process: Process
    private let output = LogBuffer()
    private let lines: AsyncStream<String>
    /// Set when the child closed its output (end of file on the pipe).
    private let outputClosed = ClosedFlag()

    /// Where `send` writes: the child's standard input, when it was asked for.
    private let input: FileHandle?

    /// `environment` adds to (or replaces in) this process's environment; with `input`, the
    /// child's standard input is a pipe that ``send(_:)`` writes (otherwise it is this process's).
    init(_ path: String, _ arguments: [String], environment: [String: String] = [:], input: Bool = false) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("\(path) is not built; `swift build` builds it (swift test does too)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let inputPipe = input ? Pipe() : nil
        if let inputPipe { process.standardInput = inputPipe }
        self.input = inputPipe?.fileHandleForWriting
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let (lines, continuation) = AsyncStream<String>.makeStream()
        self.lines = lines
        let output = self.output
        let outputClosed = self.outputClosed
        let pending = Mutex(Data())
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                outputClosed.set()
                handle.readabilityHandler = nil
                continuation.finish()
                return
            }
            let complete: [String] = pending.withLock { pending in
                pending.append(data)
                var complete: [String] = []
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    complete.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
                return complete
            }
            for line in complete {
                output.append(line)
                continuation.yield(line)
            }
        }
        try process.run()
        self.process = process
    }

    /// A test that fails before stopping its children must not leave them running.
    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Writes `line` and a newline to the child's standard input (an answer to a prompt).
    func send(_ line: String) throws {
        guard let input else { throw HarnessError("the child was started without `input: true`") }
        try input.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Closes the child's standard input: it reads end of file.
    func closeInput() throws {
        guard let input else { throw HarnessError("the child was started without `input: true`") }
        try input.close()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var log: String { output.text }

    /// The first output line containing `text`, waiting up to `timeout`.
    func firstLine(containing text: String, timeout: Duration = .seconds(20)) async throws -> String {
        let found = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { [lines] in
                for await line in lines where line.contains(text) { return line }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let found else { throw HarnessError("no line containing '\(text)' within \(timeout); output so far:\n\(log)") }
        return found
    }

    /// Waits until the child has closed its output, so that `log` holds every line it wrote.
    func waitForEndOfOutput(timeout: Duration = .seconds(15)) async -> Bool {
        await eventually(timeout: timeout) { outputClosed.isSet }
    }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit and returns its status (nil if it did not exit in time).
    func waitForExit(timeout: Duration = .seconds(15)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { return nil }
        // Its last lines may still be in the pipe: `log` is complete once the output has closed.
        _ = await waitForEndOfOutput(timeout: .seconds(5))
        return process.terminationStatus
    }

    /// Stops it for good (SIGKILL if SIGTERM is not enough).
    func stop() async {
        guard process.isRunning else { return }
        signal(SIGTERM)
        if await waitForExit(timeout: .seconds(10)) == nil {
            signal(SIGKILL)
            process.waitUntilExit()
        }
    }
}

extension ChildProcess {
    /// Waits for an output line containing `prompt`, then writes `text` as the answer.
    func answer(_ prompt: String, _ text: String) async throws {
        _ = try await firstLine(containing: prompt, timeout: .seconds(60))
        try send(text)
    }
}

/// Taps each card on its reader again every quarter second until `done` (30 s at the most):
/// a command that listens (`identify`, `setup`) opens its ports just after its prompt and takes
/// turns at each line speed, so one tap may fall where nobody listens. True when `done` came.
func keepTapping(_ taps: [(reader: VirtualCardReader, uid: String)], until done: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    var lastTap = clock.now - .seconds(1)
    return await eventually {
        if clock.now - lastTap > .milliseconds(250) {
            lastTap = clock.now
            for (reader, uid) in taps { try reader.tap(uid: uid) }
        }
        return done()
    }
}

/// Set once, read from any thread.
final class ClosedFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}

final class LogBuffer: Sendable {
    private let lines = Mutex("")

    func append(_ line: String) { lines.withLock { $0 += line + "\n" } }
    var text: String { lines.withLock { $0 } }
}

/// The platform emulator as a separate `station-sim emulator` process, and a client for its read
/// and control API.
final class EmulatorProcess: Sendable {
    let child: ChildProcess
    let port: Int
    let database: String

    init(database: String, port: Int = 0, arguments: [String] = []) async throws {
        child = try ChildProcess(
            Binaries.sim, ["emulator", "--port", String(port), "--db", database, "--log-level", "warning"] + arguments)
        let line = try await child.firstLine(containing: "listening on http://")
        guard let portText = line.split(separator: ":").last, let port = Int(portText) else {
            throw HarnessError("cannot read the port from '\(line)'")
        }
        self.port = port
        self.database = database
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func received(station: String = "ST-E2E") async throws -> [ReceivedEvent] {
        var all: [ReceivedEvent] = []
        var after: Int64 = 0
        while true {
            let page: ReceivedPage = try await get("\(PlatformAPI.receivedPath)?station=\(station)&after=\(after)&limit=10000")
            all += page.events
            if page.events.isEmpty { return all }
            after = page.next
        }
    }

    func stats() async throws -> EmulatorStats {
        try await get(PlatformAPI.statsPath)
    }

    func alarms(station: String = "ST-E2E") async throws -> [AlarmView] {
        try await get("/v1/operator/alarms?station=\(station)")
    }

    func stations() async throws -> [StationView] {
        try await get("/v1/stations?silentAfterSeconds=5")
    }

    /// An operator's action on an alarm: `acknowledge`, `dispatch` or `reset`.
    func operatorAction(_ action: String, alarm eventID: String) async throws {
        var request = HTTPClientRequest(url: baseURL + "/v1/operator/alarms/\(eventID)/\(action)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"operatorName": "e2e-operator"}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw HarnessError("\(action) answered \(response.status): \(String(buffer: body))") }
    }

    func setFaults(_ json: String) async throws {
        var request = HTTPClientRequest(url: baseURL + "/v1/control/faults")
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        guard response.status == .ok else { throw HarnessError("PUT faults answered \(response.status)") }
    }

    func clearFaults() async throws {
        var request = HTTPClientRequest(url: baseURL + "/v1/control/faults")
        request.method = .DELETE
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        guard response.status == .ok else { throw HarnessError("DELETE faults answered \(response.status)") }
    }

    private func get<T: Decodable>(_ path: String) async throws -> T {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + path), timeout: .seconds(15))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok else { throw HarnessError("GET \(path) answered \(response.status): \(String(buffer: body))") }
        return try JSONDecoder().decode(T.self, from: body)
    }

    func stop() async { await child.stop() }
}

/// A scratch station: a directory with the agent's config, its state, and virtual reader links.
final class Station: Sendable {
    let directory: String
    let readers: [String: VirtualCardReader]

    init(readers: [(String, ReaderProfile)]) throws {
        var template = Array((NSTemporaryDirectory() + "station-e2e-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw HarnessError("mkdtemp failed") }
        directory = String(cString: made)
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        var virtual: [String: VirtualCardReader] = [:]
        for (name, profile) in readers {
            virtual[name] = try VirtualCardReader(profile: profile, linkPath: "\(directory)/\(name)")
        }
        self.readers = virtual
    }

    var configPath: String { directory + "/station.toml" }
    var stateDirectory: String { directory + "/state" }

    /// - Parameter privacy: the `[privacy]` table; raw card numbers unless a test asks otherwise,
    ///   so that tests can compare the numbers they tap with what the platform received.
    func writeConfig(
        platformURL: String, extraPlatform: String = "", extraDevices: String = "", privacy: String = "card_ids = \"raw\""
    ) throws {
        var text = """
            [station]
            id = "ST-E2E"
            state_dir = "\(stateDirectory)"

            [platform]
            url = "\(platformURL)"
            retry_initial_ms = 50
            retry_max_ms = 500
            \(extraPlatform)

            [privacy]
            \(privacy)

            """
        for (name, reader) in readers.sorted(by: { $0.key < $1.key }) {
            text += """

                [[device]]
                name = "\(name)"
                kind = "card-reader"
                profile = "\(reader.profile.rawValue)"
                purpose = "check-in"
                port = "\(reader.linkPath)"
                reopen_initial_ms = 50
                reopen_max_ms = 200

                """
        }
        text += "\n" + extraDevices
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Overwrites a page in the middle of the event database with junk: the cheap checks at
    /// open still pass, the full integrity check finds it.
    func damageMiddlePageOfTheStore() throws {
        let path = stateDirectory + "/" + EventStore.fileName
        guard let handle = FileHandle(forUpdatingAtPath: path) else { throw HarnessError("cannot open \(path) to damage it") }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: (size / 4096 / 2) * 4096)
        try handle.write(contentsOf: Data(repeating: 0x5A, count: 4096))
    }

    func startAgent() throws -> ChildProcess {
        try ChildProcess(Binaries.agent, ["run", "--config", configPath])
    }

    /// What `station-agent <command> --config` prints (standard output and error), once it ends.
    func agentCommand(_ command: String, _ arguments: [String] = []) async throws -> String {
        let child = try ChildProcess(Binaries.agent, [command, "--config", configPath] + arguments)
        guard await child.waitForExit(timeout: .seconds(60)) != nil else {
            await child.stop()
            throw HarnessError("station-agent \(command) did not end within 60 s; output:\n\(child.log)")
        }
        // The output pipe may still hold the last lines when the process is gone.
        _ = await child.waitForEndOfOutput()
        return child.log
    }

    func remove() {
        for reader in readers.values { reader.device.unplug() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Figures a test measures on its way (how long a window lasted), printed as `measured: …` lines
/// so a run's output shows them; never asserted on (tests wait for events, not for time).
enum Measured {
    static func report(_ what: String, since start: ContinuousClock.Instant) {
        let elapsed = (ContinuousClock.now - start).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        print("measured: \(what): \(String(format: "%.2f", seconds)) s")
    }
}
