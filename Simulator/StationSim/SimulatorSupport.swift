import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PlatformEmulator
import ServiceLifecycle
import ToolSupport

/// What `demo` and `power-cut` share: finding the agent binary, a working directory, and the
/// platform emulator running in this process for the length of a scenario.
enum SimulatorSupport {
    /// The `station-agent` to start (``SiblingBinary``): `override` if given, else the one next
    /// to this binary, else on `PATH`; when missing, one line saying what to build, exit 2.
    static func locateAgent(_ override: String?) throws -> String {
        do {
            return try SiblingBinary.locate("station-agent", override: override)
        } catch {
            FileHandle.standardError.write(Data("station-sim: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// `requested` (created if needed), or a new temporary directory named after `prefix`.
    static func makeWorkdir(_ requested: String?, prefix: String) throws -> String {
        if let requested {
            try FileManager.default.createDirectory(atPath: requested, withIntermediateDirectories: true)
            return requested
        }
        var template = Array((NSTemporaryDirectory() + "\(prefix)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw DemoFailure("cannot create a temporary directory in \(NSTemporaryDirectory()): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// Runs the platform emulator on a free loopback port, storing into `databasePath`, while
    /// `body` runs with that port and the emulator's store; then shuts the emulator down
    /// gracefully.
    static func withEmulator<T: Sendable>(
        databasePath: String, faults: FaultInjector = FaultInjector(), signingKeys: SigningKeyring = SigningKeyring(),
        _ body: @escaping @Sendable (_ port: Int, _ store: EmulatorStore) async throws -> T
    ) async throws -> T {
        let store = try EmulatorStore(path: databasePath)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        var configuration = EmulatorConfiguration(host: "127.0.0.1", port: 0, databasePath: databasePath)
        configuration.signingKeys = signingKeys
        let app = buildEmulatorApplication(
            configuration: configuration,
            store: store, logger: Logger(label: "station.platform"), faults: faults
        ) { port in
            portContinuation.yield(port)
            portContinuation.finish()
        }
        let platform = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "station.platform")))
        let result = try await withThrowingTaskGroup(of: T?.self, returning: T?.self) { group in
            group.addTask {
                try await platform.run()
                return nil
            }
            guard let port = await ports.first(where: { _ in true }) else {
                throw DemoFailure("the platform emulator did not start listening")
            }
            let result = try await body(port, store)
            await platform.triggerGracefulShutdown()
            return result
        }
        guard let result else { throw DemoFailure("the platform emulator stopped unexpectedly") }
        return result
    }
}
