import Foundation
import Testing

@testable import SystemdNotify

#if canImport(Glibc)
import Glibc
#endif

/// A bound AF_UNIX datagram socket standing in for systemd's notification socket. The address
/// is built here independently of the code under test.
final class Receiver {
    let descriptor: Int32
    let path: String?

    /// Binds to a file system path (`abstractName == nil`) or a Linux abstract name.
    init(path: String? = nil, abstractName: String? = nil) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw ReceiverError("socket: errno \(errno)") }
        self.path = path
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name: [UInt8] = path.map { Array($0.utf8) + [0] } ?? ([0] + Array((abstractName ?? "").utf8))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in name.enumerated() { raw[index] = byte }
        }
        // Abstract names are exactly as long as given: offset of sun_path (2) + bytes.
        let length = socklen_t(2 + name.count)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard rc == 0 else { throw ReceiverError("bind: errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func receive() throws -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count >= 0 else { throw ReceiverError("recv: errno \(errno)") }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }
}

struct ReceiverError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func temporarySocketPath() -> String {
    NSTemporaryDirectory() + "notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
}

@Suite struct SystemdNotifierTests {
    @Test func sendsReadyAndStatusToAPathSocket() throws {
        let path = temporarySocketPath()
        let receiver = try Receiver(path: path)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        #expect(notifier.isEnabled)
        #expect(try notifier.notify([.ready, .status("reading 2 devices")]))
        #expect(try receiver.receive() == "READY=1\nSTATUS=reading 2 devices")
    }

    @Test func sendsToAnAbstractSocket() throws {
        let name = "station-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let receiver = try Receiver(abstractName: name)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name])
        try notifier.notify(.watchdog)
        try notifier.notify(.stopping)
        #expect(try receiver.receive() == "WATCHDOG=1")
        #expect(try receiver.receive() == "STOPPING=1")
    }

    @Test func everyStateHasItsProtocolLine() {
        #expect(NotifyState.ready.line == "READY=1")
        #expect(NotifyState.reloading.line == "RELOADING=1")
        #expect(NotifyState.stopping.line == "STOPPING=1")
        #expect(NotifyState.watchdog.line == "WATCHDOG=1")
        #expect(NotifyState.watchdogTrigger.line == "WATCHDOG=trigger")
        #expect(NotifyState.errno(5).line == "ERRNO=5")
        #expect(NotifyState.mainPID(4242).line == "MAINPID=4242")
        #expect(NotifyState.monotonicMicroseconds(123_456_789).line == "MONOTONIC_USEC=123456789")
        #expect(NotifyState.status("a\nb\r\nc").line == "STATUS=a b c")
    }

    @Test func withoutNotifySocketNothingIsSent() throws {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(try notifier.notify(.ready) == false)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]).isEnabled == false)
    }

    @Test func aMissingSocketIsAnErrorNamingIt() throws {
        let path = temporarySocketPath()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        let error = #expect(throws: SystemdNotifyError.self) { try notifier.notify(.ready) }
        #expect(error?.socket == path)
        #expect(error?.description.contains("sendto failed") == true)
    }

    @Test func unsupportedAndOverlongAddressesAreRejected() {
        let vsock = SystemdNotifier(environment: ["NOTIFY_SOCKET": "vsock:2:1234"])
        #expect(throws: SystemdNotifyError.self) { try vsock.notify(.ready) }
        let long = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 107)])
        #expect(throws: SystemdNotifyError.self) { try long.notify(.ready) }
        let emptyAbstract = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@"])
        #expect(throws: SystemdNotifyError.self) { try emptyAbstract.notify(.ready) }
    }

    @Test func watchdogIntervalIsHalfTheTimeout() {
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000"], pid: 77)
        #expect(notifier.watchdogTimeout == .seconds(30))
        #expect(notifier.watchdogInterval == .seconds(15))
    }

    @Test func watchdogPIDMustBeThisProcess() {
        let mine = SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "77"], pid: 77)
        #expect(mine.watchdogInterval == .seconds(1))
        let other = SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "78"], pid: 77)
        #expect(other.watchdogInterval == nil)
        let garbage = SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "x"], pid: 77)
        #expect(garbage.watchdogInterval == nil)
    }

    @Test(arguments: ["", "0", "-5", "abc", "1.5", "99999999999999999999"])
    func unusableWatchdogValuesMeanNoWatchdog(_ value: String) {
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": value]).watchdogTimeout == nil)
    }

    @Test func noWatchdogWithoutTheVariable() {
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/systemd/notify"]).watchdogInterval == nil)
    }
}


