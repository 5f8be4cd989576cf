import Agent
import EventModel
import EventStore
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import PlatformAPI
import SerialTransport
import StationConfig
import Uplink

#if canImport(Glibc)
import Glibc
#endif

/// `station-agent doctor`: the one-minute field check. Every line is OK, WARN or FAIL with what to
/// do; the exit status is 1 when any line is FAIL, else 0.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check devices, permissions, state directory, clock, platform and DC-09 receiver; say what to fix.",
        discussion: """
            Each line is OK, WARN or FAIL. Exit status 0 when nothing FAILs, 1 otherwise.
            Run it as the service user to see what the agent sees:
              sudo -u station-agent station-agent doctor
            """)

    @OptionGroup var options: ConfigOption

    @Option(name: .long, help: "Seconds to wait for the platform.")
    var timeout: Int = 5

    func run() async throws {
        if await !Self.check(config: options.config, timeout: .seconds(max(1, timeout))) { throw ExitCode(1) }
    }

    /// Runs every check of `config` and prints the report; false when any line is FAIL.
    /// `setup` runs it too, on the file it wrote.
    static func check(config: String, timeout: Duration) async -> Bool {
        var report = DoctorReport()
        let configuration: StationConfiguration
        let settings: AgentSettings
        do {
            (configuration, settings) = try loadSettings(path: config)
        } catch {
            report.add(.fail, "config", "\(config) cannot be used (the reasons are above)",
                do: "fix the file; `station-agent check-config \(config)` checks it again")
            report.finish()
            return false
        }
        report.add(.ok, "config", "\(config): station \(settings.stationID), \(configuration.devices.count) device(s)")

        let ports = (try? SerialPortCatalog.list()) ?? []
        for device in configuration.devices {
            report.add(DoctorChecks.device(device, ports: ports))
        }
        report.add(contentsOf: DoctorChecks.permissions())
        report.add(contentsOf: DoctorChecks.stateDirectory(settings.stateDirectory))
        report.add(DoctorChecks.clock())
        report.add(contentsOf: await DoctorChecks.platform(
            url: settings.platformURL, caFile: settings.caFile, clientCertificate: settings.security.clientCertificate,
            timeout: timeout))
        report.add(contentsOf: await DoctorChecks.delivery(stateDirectory: settings.stateDirectory))
        if let dc09 = settings.dc09 {
            report.add(await DoctorChecks.dc09(dc09, connectTimeout: timeout))
        }
        report.finish()
        return !report.failed
    }
}

/// One line of the doctor's report.
struct DoctorLine: Sendable, Equatable {
    enum Level: String, Sendable {
        case ok = "OK"
        case warn = "WARN"
        case fail = "FAIL"
    }

    var level: Level
    var subject: String
    var message: String
    var action: String?

    /// `FAIL  device reader-1: ... ` and, indented below, `-> what to do`.
    var rendered: String {
        let tag = level.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
        var text = "\(tag) \(subject): \(message)"
        if let action { text += "\n      -> \(action)" }
        return text
    }
}

struct DoctorReport {
    private(set) var lines: [DoctorLine] = []

    var failed: Bool { lines.contains { $0.level == .fail } }

    mutating func add(_ level: DoctorLine.Level, _ subject: String, _ message: String, do action: String? = nil) {
        add(DoctorLine(level: level, subject: subject, message: message, action: action))
    }

    mutating func add(_ line: DoctorLine) {
        lines.append(line)
        say(line.rendered)
    }

    mutating func add(contentsOf more: [DoctorLine]) {
        for line in more { add(line) }
    }

    func finish() {
        let count = { (level: DoctorLine.Level) in lines.filter { $0.level == level }.count }
        say("doctor: \(count(.ok)) OK, \(count(.warn)) WARN, \(count(.fail)) FAIL")
    }
}

enum DoctorChecks {
    // MARK: Devices

    static func device(_ device: StationConfiguration.Device, ports: [SerialPortInfo]) -> DoctorLine {
        let subject = "device \(device.name)"
        let path: String
        var identity: String
        switch device.port {
        case .path(let configured) where ModemLineOpener.isSimulated(configured):
            // A simulated modem-line file (`sim:PATH`, or a plain file) written by station-sim,
            // not a serial device: it only has to exist.
            let file = ModemLineStateFile.statePath(forPort: configured)
            guard FileManager.default.fileExists(atPath: file) else {
                return DoctorLine(
                    level: .fail, subject: subject, message: "\(configured): the simulated line file \(file) does not exist",
                    action: "start the virtual device first (station-sim), or fix `port`")
            }
            return DoctorLine(level: .ok, subject: subject, message: "\(configured) is a simulated line file (station-sim), present")
        case .path(let configured):
            do {
                path = try DevicePath.resolve(configured)
            } catch {
                return DoctorLine(
                    level: .fail, subject: subject, message: "\(configured) not found (\(error.message))",
                    action: "plug the \(device.kind.name.rawValue) in and check the cable; `station-agent ports` lists the ports present")
            }
            identity = configured == path ? path : "\(configured) -> \(path)"
            if let info = ports.first(where: { $0.path == path }) {
                identity += " (\(usbIdentity(info)))"
            }
        case .usb(let vendor, let product, let serial):
            do {
                let info = try SerialPortCatalog.select(from: ports, vendor: vendor, product: product, serial: serial)
                path = info.path
                identity = "\(device.port) found at \(path) (\(usbIdentity(info)))"
            } catch {
                return DoctorLine(
                    level: .fail, subject: subject, message: error.message,
                    action: error.hint)
            }
        }

        switch try? DevicePath.kind(ofResolved: path) {
        case .notCharacterDevice?:
            return DoctorLine(
                level: .fail, subject: subject, message: "\(identity) is not a serial device",
                action: "point `port` at the tty device (`station-agent ports` lists them)")
        case .pseudoTerminal?:
            identity += " (pseudo-terminal)"
        default:
            break
        }

        let descriptor = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        if descriptor < 0 {
            let code = errno
            if code == EACCES || code == EPERM {
                return DoctorLine(
                    level: .fail, subject: subject,
                    message: "\(identity) found but not openable: permission denied (\(ownerAndMode(path)))",
                    action: "the user needs the device's group: `sudo usermod -aG dialout $USER` and log in again; the service user station-agent gets it from the package")
            }
            if code == EBUSY {
                return DoctorLine(
                    level: .warn, subject: subject, message: "\(identity) found, in use by another process (EBUSY)",
                    action: "if the agent runs (`systemctl status station-agent`), this is expected; otherwise `fuser \(path)` names the holder")
            }
            return DoctorLine(
                level: .fail, subject: subject, message: "\(identity) found but cannot be opened: \(String(cString: strerror(code)))",
                action: "unplug and replug the adapter; `dmesg | tail` shows what the kernel saw")
        }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EWOULDBLOCK {
                return DoctorLine(
                    level: .warn, subject: subject, message: "\(identity) found, in use by the agent (locked)",
                    action: "expected while the agent runs; stop it (`systemctl stop station-agent`) to test the device alone")
            }
        } else {
            _ = flock(descriptor, LOCK_UN)
        }
        return DoctorLine(level: .ok, subject: subject, message: "\(identity) found and openable")
    }

    static func usbIdentity(_ info: SerialPortInfo) -> String {
        var parts: [String] = [info.transport.rawValue]
        if let vendor = info.usbVendor, let product = info.usbProduct {
            parts.append(String(format: "%04x:%04x", vendor, product))
        }
        if let serial = info.usbSerial { parts.append("serial \(serial)") }
        if let product = info.product ?? (info.description.isEmpty ? nil : info.description) { parts.append("\"\(product)\"") }
        return parts.joined(separator: " ")
    }

    static func ownerAndMode(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "no stat" }
        let group = getgrgid(info.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "\(info.st_gid)"
        let mode = String(info.st_mode & 0o777, radix: 8)
        return "group \(group), mode \(mode)"
    }

    // MARK: Permissions

    static func permissions(serviceUser: String = "station-agent", group: String = "dialout") -> [DoctorLine] {
        var lines: [DoctorLine] = []
        let userName = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
        guard let entry = getgrnam(group) else {
            return [DoctorLine(
                level: .warn, subject: "permissions", message: "there is no group \(group) on this system",
                action: "serial devices belong to another group here: `ls -l /dev/ttyUSB*` shows which; add the user to it")]
        }
        let groupID = entry.pointee.gr_gid
        var members: [String] = []
        var index = 0
        while let member = entry.pointee.gr_mem[index] {
            members.append(String(cString: member))
            index += 1
        }

        if geteuid() == 0 {
            lines.append(DoctorLine(
                level: .ok, subject: "permissions",
                message: "running as root (every device opens; the service itself runs as \(serviceUser))"))
        } else {
            let count = getgroups(0, nil)
            var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
            let filled = getgroups(count, &groups)
            let inGroup = getegid() == groupID || groups.prefix(Int(max(filled, 0))).contains(groupID)
            lines.append(
                inGroup
                    ? DoctorLine(level: .ok, subject: "permissions", message: "\(userName) is in group \(group)")
                    : DoctorLine(
                        level: .warn, subject: "permissions", message: "\(userName) is not in group \(group) (this shell)",
                        action: "`sudo usermod -aG \(group) \(userName)` and log in again, or run `sudo -u \(serviceUser) station-agent doctor`"))
        }

        if let account = getpwnam(serviceUser) {
            let primary = account.pointee.pw_gid == groupID
            if primary || members.contains(serviceUser) {
                lines.append(DoctorLine(level: .ok, subject: "service user", message: "\(serviceUser) is in group \(group)"))
            } else {
                lines.append(DoctorLine(
                    level: .fail, subject: "service user", message: "\(serviceUser) is not in group \(group)",
                    action: "`sudo usermod -aG \(group) \(serviceUser)`; the unit also sets SupplementaryGroups=\(group)"))
            }
        } else {
            lines.append(DoctorLine(
                level: .warn, subject: "service user", message: "no user \(serviceUser) on this system",
                action: "the Debian package creates it; by hand: `sudo adduser --system --group --no-create-home \(serviceUser) && sudo usermod -aG \(group) \(serviceUser)`"))
        }
        return lines
    }

    // MARK: State directory

    /// Below this much free space the agent cannot keep a day of events: FAIL.
    static let freeSpaceFail: UInt64 = 20 << 20
    /// Below this much: WARN.
    static let freeSpaceWarn: UInt64 = 200 << 20

    static func stateDirectory(_ path: String) -> [DoctorLine] {
        let subject = "state directory"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return [DoctorLine(
                level: .fail, subject: subject, message: "\(path) does not exist",
                action: "systemd creates it (StateDirectory=station-agent); by hand: `sudo install -d -m 0700 -o station-agent -g station-agent \(path)`")]
        }
        guard isDirectory.boolValue else {
            return [DoctorLine(
                level: .fail, subject: subject, message: "\(path) is not a directory",
                action: "move the file away or set `state_dir` to a directory")]
        }
        var lines: [DoctorLine] = []
        var template = Array((path + "/.doctor-XXXXXX").utf8CString)
        let probe = mkstemp(&template)
        if probe < 0 {
            let code = errno
            lines.append(DoctorLine(
                level: .fail, subject: subject, message: "\(path) is not writable: \(String(cString: strerror(code))) (\(ownerAndMode(path)))",
                action: "`sudo chown -R station-agent:station-agent \(path)`, or run doctor as the service user"))
        } else {
            close(probe)
            unlink(template)
            var info = stat()
            let worldReadable = stat(path, &info) == 0 && (info.st_mode & 0o007) != 0
            if worldReadable {
                lines.append(DoctorLine(
                    level: .warn, subject: subject, message: "\(path) is writable but other users can read it (mode \(String(info.st_mode & 0o777, radix: 8)))",
                    action: "`sudo chmod 0700 \(path)`: the queue holds personal data"))
            } else {
                lines.append(DoctorLine(level: .ok, subject: subject, message: "\(path) is writable"))
            }
        }

        var space = statvfs()
        if statvfs(path, &space) == 0 {
            let free = UInt64(space.f_bavail) * UInt64(space.f_frsize)
            let total = UInt64(space.f_blocks) * UInt64(space.f_frsize)
            let text = "\(megabytes(free)) free of \(megabytes(total))"
            if free < freeSpaceFail {
                lines.append(DoctorLine(
                    level: .fail, subject: "disk", message: text,
                    action: "free space on this file system (`du -xsh /var/* | sort -h`); the queue needs room while offline"))
            } else if free < freeSpaceWarn {
                lines.append(DoctorLine(
                    level: .warn, subject: "disk", message: text,
                    action: "free space soon; a long offline period fills the queue"))
            } else {
                lines.append(DoctorLine(level: .ok, subject: "disk", message: text))
            }
        }
        return lines
    }

    static func megabytes(_ bytes: UInt64) -> String {
        bytes >= 10 << 30 ? "\(bytes >> 30) GiB" : "\(bytes >> 20) MiB"
    }

    // MARK: Clock

    static func clock() -> DoctorLine {
        if let answer = timedatectlSynchronized() {
            return answer
                ? DoctorLine(level: .ok, subject: "clock", message: "synchronised (timedatectl: NTPSynchronized=yes)")
                : DoctorLine(
                    level: .warn, subject: "clock", message: "not synchronised (timedatectl: NTPSynchronized=no)",
                    action: "event times may be wrong: `timedatectl set-ntp true`; check that UDP 123 or the district's NTP server is reachable")
        }
        switch kernelClockState() {
        case nil:
            return DoctorLine(
                level: .warn, subject: "clock", message: "synchronisation unknown (no timedatectl answer, adjtimex unavailable)",
                action: "check `chronyc tracking` or `timedatectl timesync-status` by hand")
        case timeError?:
            return DoctorLine(
                level: .warn, subject: "clock", message: "not synchronised (kernel: adjtimex reports TIME_ERROR, STA_UNSYNC; no timedatectl answer)",
                action: "event times may be wrong: run an NTP client (systemd-timesyncd or chrony)")
        case let state?:
            return DoctorLine(level: .ok, subject: "clock", message: "synchronised (kernel: adjtimex state \(state))")
        }
    }

    /// adjtimex(2)'s `TIME_ERROR`: the kernel's clock is not synchronised (`STA_UNSYNC`).
    static let timeError: Int32 = 5

    /// The kernel's clock state from a read-only `adjtimex(2)` (`modes = 0`): `TIME_OK` (0) to
    /// `TIME_WAIT` (4) when synchronised, ``timeError`` when not, `nil` when the call fails.
    /// Swift's Glibc module does not export `<sys/timex.h>`, so the function is looked up with
    /// `dlsym` and given a zeroed buffer larger than `struct timex` (208 bytes on LP64).
    static func kernelClockState() -> Int32? {
        typealias Adjtimex = @convention(c) (UnsafeMutableRawPointer?) -> Int32
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "adjtimex") else { return nil }
        let adjtimex = unsafeBitCast(symbol, to: Adjtimex.self)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
        let state = adjtimex(buffer)
        return state < 0 ? nil : state
    }

    /// `timedatectl show -p NTPSynchronized --value`: `true`/`false`, or `nil` when there is no
    /// answer (no timedatectl, or systemd not running).
    static func timedatectlSynchronized() -> Bool? {
        let candidates = ["/usr/bin/timedatectl", "/bin/timedatectl"]
        guard let tool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["show", "-p", "NTPSynchronized", "--value"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        switch String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) {
        case "yes": return true
        case "no": return false
        default: return nil
        }
    }

    // MARK: Delivery

    /// What the running agent found when it delivered: a platform fault it recorded per lane
    /// (FAIL: events wait) and events the platform rejected (WARN: kept for an operator).
    /// Nothing when no store exists yet (the state directory line says why).
    static func delivery(stateDirectory: String, now: Date = Date()) async -> [DoctorLine] {
        guard let store = try? EventStore.openReadOnly(directory: stateDirectory) else { return [] }
        var lines: [DoctorLine] = []
        let faults = (try? await PlatformFault.readAll(from: store)) ?? []
        let summary = try? await store.summary(now: now)
        for fault in faults {
            let waiting = summary?.lanes[fault.lane]?.count ?? 0
            // With nothing waiting, nothing is held back: the record clears at the lane's next answer.
            lines.append(
                DoctorLine(
                    level: waiting == 0 ? .warn : .fail, subject: "delivery",
                    message: "the agent's \(fault.lane.rawValue) lane finds the platform \(fault.summary) since \(Timestamp.format(fault.since)), "
                        + "\(waiting) event(s) waiting (first failure: \(fault.message.prefix(200)))",
                    action: "events are kept and sent once the platform answers; "
                        + "check `platform.url`, the token and signing key, and any proxy in between"))
        }
        if faults.isEmpty {
            lines.append(DoctorLine(level: .ok, subject: "delivery", message: "the agent records no platform fault"))
        }
        let rejected = ((try? await store.rejectedCounts()) ?? [:]).values.reduce(0, +)
        if rejected > 0 {
            lines.append(
                DoctorLine(
                    level: .warn, subject: "delivery", message: "\(rejected) event(s) rejected by the platform are kept here",
                    action: "`station-agent rejected` lists them with the reason; `station-agent requeue` sends them again"))
        }
        return lines
    }

    // MARK: Platform

    static func platform(
        url base: String, caFile: String?, clientCertificate: ClientCertificateFiles? = nil, timeout: Duration
    ) async -> [DoctorLine] {
        var lines: [DoctorLine] = []
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        let healthURL = trimmed + PlatformAPI.healthPath
        guard let components = URLComponents(string: trimmed), let host = components.host,
            let scheme = components.scheme?.lowercased()
        else {
            return [DoctorLine(level: .fail, subject: "platform", message: "\(base) is not a usable URL", action: "fix `platform.url`")]
        }
        let https = scheme == "https"
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.trustRoots = .file(caFile) }
        // The files were checked when the configuration was loaded.
        try? clientCertificate?.apply(to: &tls)

        if https, let line = await certificate(host: host, port: components.port ?? 443, tls: tls, timeout: timeout) {
            lines.append(line)
        }

        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(Int64(timeout.components.seconds)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let started = ContinuousClock.now
        do {
            let sentAt = Date()
            let response = try await client.execute(HTTPClientRequest(url: healthURL), timeout: .seconds(Int64(timeout.components.seconds)))
            _ = try? await response.body.collect(upTo: 64 << 10)
            if let line = clockAgainstPlatform(response.headers, sentAt: sentAt, answeredAt: Date()) { lines.append(line) }
            let elapsed = ContinuousClock.now - started
            let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            if (200..<300).contains(response.status.code) {
                lines.append(DoctorLine(
                    level: .ok, subject: "platform", message: "\(healthURL) answered \(response.status.code) in \(milliseconds) ms\(https ? " over verified TLS" : " (plain http: not encrypted)")"))
            } else {
                lines.append(DoctorLine(
                    level: .fail, subject: "platform", message: "\(healthURL) answered \(response.status.code) \(response.status.reasonPhrase)",
                    action: "check `platform.url` (path prefix?) and the platform's status"))
            }
        } catch {
            lines.append(DoctorLine(
                level: .fail, subject: "platform", message: "\(healthURL) not reachable: \(error)",
                action: https
                    ? "check the network (`ping \(host)`), DNS, the proxy/firewall, and the certificate line above"
                    : "check the network (`ping \(host)`), DNS and the firewall; the agent keeps events queued meanwhile"))
        }
        try? await client.shutdown()
        return lines
    }

    /// This kiosk's clock against the platform's `Date` header: WARN when they differ by more
    /// than ``ClockSkewEstimator/threshold`` (the agent then signs and stamps with the platform's
    /// time, but the clock itself should be fixed by NTP). Nil without a readable header.
    static func clockAgainstPlatform(_ headers: HTTPHeaders, sentAt: Date, answeredAt: Date) -> DoctorLine? {
        var estimator = ClockSkewEstimator()
        guard let value = headers.first(name: "Date"), let date = ClockSkewEstimator.parseHTTPDate(value) else { return nil }
        _ = estimator.observe(platformDate: date, sentAt: sentAt, answeredAt: answeredAt)
        guard estimator.offset != 0 else {
            return DoctorLine(level: .ok, subject: "clock", message: "agrees with the platform's (its Date header) within \(Int(ClockSkewEstimator.threshold)) s")
        }
        let seconds = Int(estimator.offset.rounded())
        return DoctorLine(
            level: .warn, subject: "clock",
            message: "the platform's clock is \(abs(seconds)) s \(seconds > 0 ? "ahead of" : "behind") this kiosk's (its Date header: \(value)); "
                + "the agent signs requests and corrects unsynchronised event times with the platform's time",
            action: "set the clock: check NTP (`timedatectl`, `systemctl status systemd-timesyncd`) and that the NTP server is reachable")
    }

    /// Connects with TLS and reports the server certificate's expiry. When verification fails,
    /// connects again without verification only to show the certificate that was offered.
    /// `nil` when no TCP connection could be made (the platform line reports that).
    static func certificate(host: String, port: Int, tls: TLSConfiguration, timeout: Duration) async -> DoctorLine? {
        do {
            let certificate = try await peerCertificate(host: host, port: port, tls: tls, timeout: timeout)
            guard let certificate else {
                return DoctorLine(level: .warn, subject: "tls", message: "\(host):\(port) sent no certificate")
            }
            let expiry = Date(timeIntervalSince1970: TimeInterval(certificate.notValidAfter))
            let days = Int(expiry.timeIntervalSinceNow / 86_400)
            let when = expiry.formatted(.iso8601)
            if days < 14 {
                return DoctorLine(
                    level: .warn, subject: "tls", message: "\(host): certificate valid, but it expires \(when) (in \(days) days)",
                    action: "tell the platform operators to renew it")
            }
            return DoctorLine(level: .ok, subject: "tls", message: "\(host): certificate verified, expires \(when) (in \(days) days)")
        } catch is ConnectFailed {
            return nil
        } catch {
            var insecure = tls
            insecure.certificateVerification = .none
            var shown = ""
            if let offered = try? await peerCertificate(host: host, port: port, tls: insecure, timeout: timeout) {
                let expiry = Date(timeIntervalSince1970: TimeInterval(offered.notValidAfter))
                shown = "; the certificate offered expires \(expiry.formatted(.iso8601))"
            }
            return DoctorLine(
                level: .fail, subject: "tls", message: "\(host):\(port): TLS failed: \(error)\(shown)",
                action: "check the clock line, `platform.ca_file` for a private CA, and that the URL's host name matches the certificate")
        }
    }

    static func peerCertificate(host: String, port: Int, tls: TLSConfiguration, timeout: Duration) async throws -> NIOSSLCertificate? {
        let context = try NIOSSLContext(configuration: tls)
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: NIOSSLCertificate?.self)
        let serverName = isIPAddress(host) ? nil : host
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(Int64(timeout.components.seconds)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: promise))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            promise.fail(error)
            throw ConnectFailed(underlying: error)
        }
        let scheduled = channel.eventLoop.scheduleTask(in: .seconds(Int64(timeout.components.seconds))) {
            promise.fail(DoctorTimeout(host: host, port: port))
        }
        defer {
            scheduled.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

struct ConnectFailed: Error, CustomStringConvertible {
    var underlying: any Error
    var description: String { "\(underlying)" }
}

struct DoctorTimeout: Error, CustomStringConvertible {
    var host: String
    var port: Int
    var description: String { "no TLS handshake with \(host):\(port) in time" }
}

/// Completes its promise with the peer certificate once the TLS handshake is done, or fails it.
final class HandshakeWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let promise: EventLoopPromise<NIOSSLCertificate?>

    init(promise: EventLoopPromise<NIOSSLCertificate?>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            promise.completeWith(context.channel.nioSSL_peerCertificate())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}
