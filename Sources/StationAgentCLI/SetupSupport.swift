import Agent
import DeviceProtocols
import EventStore
import Foundation
import OSDP
import SerialTransport
import StationConfig
import SystemdNotify

#if canImport(Glibc)
import Glibc
#endif

/// One line on standard output, written at once even into a pipe (`| tee`, a script): the
/// prompts say what to do now.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// What `identify` and `setup` found, as the devices of a station.toml.
enum SetupDevices {
    /// A port as the file names it: by the adapter's USB identity when it has one, else its path.
    static func port(_ line: (path: String, info: SerialPortInfo?)) -> PortSpec {
        if let info = line.info, let vendor = info.usbVendor, let product = info.usbProduct {
            return .usb(vendor: vendor, product: product, serial: info.usbSerial)
        }
        return .path(line.path)
    }

    /// A card reader or an alarm box heard on `line` (the card number itself stays out of the file).
    static func device(_ finding: LineIdentifier.Finding, line: (path: String, info: SerialPortInfo?), number: Int) -> StationSetup.Device {
        switch finding {
        case .cardReader(let profile, _, _):
            return StationSetup.Device(
                name: "reader-\(number)", purpose: "check-in", kind: .cardReader(profile: profile), port: port(line),
                found: "card reader, profile \(profile.rawValue), on \(Identify.name(line))")
        case .alarmBox:
            return StationSetup.Device(
                name: "alarm-\(number)", purpose: "one-key-alarm", kind: .alarmBox, port: port(line),
                found: "one-key alarm box, on \(Identify.name(line))")
        }
    }

    /// The OSDP readers that answered on `line`: one bus.
    static func osdpBus(_ readers: [OSDPBusScan.Finding], baud: Int, line: (path: String, info: SerialPortInfo?), number: Int) -> StationSetup.Device {
        let named = readers.map { reader in
            StationSetup.Device.OSDPReader(
                address: Int(reader.address), name: "osdp-\(number)-\(reader.address)", purpose: "check-in",
                identity: reader.identification.map { "\(OSDPBusScan.Finding(address: reader.address, speed: reader.speed, identification: $0))" })
        }
        return StationSetup.Device(
            name: "osdp-bus-\(number)", purpose: "check-in", kind: .osdpBus(baud: baud, readers: named), port: port(line),
            found: "OSDP bus at \(baud) baud with \(readers.count) reader(s), on \(Identify.name(line))")
    }

    /// The dry-contact button found on `path`. A button is named by its path (the schema takes no
    /// USB identity for it): a /dev/serial/by-id/ link when the adapter has one.
    static func button(_ button: SetupProbes.Button, path: String) -> StationSetup.Device {
        let stable = (try? SerialPortCatalog.list())?.first { $0.path == (try? DevicePath.resolve(path)) }?.stableNames.first
        return StationSetup.Device(
            name: "button-1", purpose: "one-key-alarm",
            kind: .alarmButton(input: button.probe.input.rawValue, drive: button.probe.drive.rawValue, normallyClosed: button.normallyClosed),
            port: .path(stable ?? path),
            found: "dry-contact alarm button on \(button.probe.input.rawValue.uppercased()), powered by \(button.probe.drive.rawValue.uppercased()), on \(path)")
    }
}

enum SetupFiles {
    /// Writes `text` to `path` as the package's conffile is: a temporary file renamed over it,
    /// mode 0640, group station-agent when that group exists and this runs as root. `check` reads
    /// the temporary file first; when it throws, nothing is replaced. An existing file is kept as
    /// `path.bak`.
    static func install(_ text: String, at path: String, check: (String) throws -> Void) throws {
        let fileManager = FileManager.default
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let temporary = path + ".setup-\(getpid())"
        guard fileManager.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o640]) else {
            throw SetupStopped(description: "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        if geteuid() == 0, let group = getgrnam("station-agent") {
            _ = chown(temporary, 0, group.pointee.gr_gid)
        }
        do {
            try check(temporary)
        } catch {
            _ = unlink(temporary)
            throw error
        }
        if fileManager.fileExists(atPath: path) {
            _ = unlink(path + ".bak")
            guard link(path, path + ".bak") == 0 else {
                let reason = String(cString: strerror(errno))
                _ = unlink(temporary)
                throw SetupStopped(description: "cannot keep the old file as \(path).bak: \(reason)")
            }
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = unlink(temporary)
            throw SetupStopped(description: "cannot rename \(temporary) to \(path): \(reason)")
        }
    }
}

/// The agent that runs for the test alarm: the service when its unit is installed and reads this
/// file, otherwise this program's `run` as a child process, stopped after the test.
enum SetupAgent {
    case service
    case child(Process, log: String)

    /// Where the package installs the unit.
    static let unitFiles = ["/lib/systemd/system/station-agent.service", "/usr/lib/systemd/system/station-agent.service", "/etc/systemd/system/station-agent.service"]
    static let serviceConfig = "/etc/station-agent/station.toml"

    static func start(config: String, stateDirectory: String) async throws -> SetupAgent {
        let fileManager = FileManager.default
        let booted = fileManager.fileExists(atPath: "/run/systemd/system")
        if booted, config == serviceConfig, unitFiles.contains(where: fileManager.fileExists(atPath:)) {
            let status = try await run("/usr/bin/systemctl", ["restart", "station-agent"])
            guard status == 0 else {
                throw SetupStopped(description: "`systemctl restart station-agent` exited with \(status); `journalctl -u station-agent` says why")
            }
            return .service
        }
        let log = NSTemporaryDirectory() + "station-agent-setup-\(getpid()).log"
        guard fileManager.createFile(atPath: log, contents: nil), let handle = FileHandle(forWritingAtPath: log) else {
            throw SetupStopped(description: "cannot create the agent's log \(log)")
        }
        // Ready when it says so, as systemd hears a Type=notify unit (READY=1 on NOTIFY_SOCKET,
        // once every service runs), and once its store answers a read: the agent reads its
        // devices before the store is open, and the test follows the alarm in the store.
        let listener = try NotificationListener(path: NSTemporaryDirectory() + "station-agent-setup-\(getpid()).notify")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["run", "--config", config]
        process.environment = ProcessInfo.processInfo.environment.merging(["NOTIFY_SOCKET": listener.path]) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        if await listener.waitForReady(until: deadline, while: { process.isRunning }) {
            while ContinuousClock.now < deadline, process.isRunning {
                if let store = try? EventStore.openReadOnly(directory: stateDirectory), (try? await store.summary()) != nil {
                    return .child(process, log: log)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        guard process.isRunning else {
            throw SetupStopped(description: "the agent exited with \(process.terminationStatus); its log: \(log)")
        }
        process.terminate()
        throw SetupStopped(description: "the agent was not ready within 30 s; its log: \(log)")
    }

    var started: String {
        switch self {
        case .service: "The service was restarted with the new file."
        case .child(let process, let log): "The agent runs for this test (pid \(process.processIdentifier), log \(log))."
        }
    }

    var stopped: String {
        switch self {
        case .service: "The service keeps running with the new file."
        case .child: "The test's agent is stopped. Start the service: `systemctl enable --now station-agent`."
        }
    }

    /// Stops a child agent (SIGTERM; it drains and exits); the service keeps running.
    func stop() async {
        guard case .child(let process, _) = self, process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    private static func run(_ path: String, _ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        return process.terminationStatus
    }
}
