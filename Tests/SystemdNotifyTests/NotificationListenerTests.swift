import Foundation
import Testing

@testable import SystemdNotify

/// The listening side `setup` uses to know its child agent is ready, against the notifier the
/// agent sends with.
@Suite struct NotificationListenerTests {
    @Test func readyIsHeardAfterOtherNotifications() async throws {
        let listener = try NotificationListener(path: temporarySocketPath())
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.path])
        try notifier.notify(.status("opening the store"))
        try notifier.notify([.ready, .status("running: 1 reader(s)")])
        #expect(await listener.waitForReady(until: .now + .seconds(30), while: { true }))
    }

    @Test func aChildThatIsGoneOrSilentIsNotReady() async throws {
        let listener = try NotificationListener(path: temporarySocketPath())
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.path])
        try notifier.notify(.status("opening the store"))
        #expect(await !listener.waitForReady(until: .now + .seconds(30), while: { false }), "the child exited")
        #expect(await !listener.waitForReady(until: .now, while: { true }), "the deadline passed")
    }

    @Test func theSocketFileIsRemovedWithTheListenerAndATooLongPathIsRefused() throws {
        let path = temporarySocketPath()
        do {
            let listener = try NotificationListener(path: path)
            #expect(FileManager.default.fileExists(atPath: listener.path))
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(throws: SystemdNotifyError.self) { try NotificationListener(path: "/tmp/" + String(repeating: "x", count: 120)) }
    }
}
