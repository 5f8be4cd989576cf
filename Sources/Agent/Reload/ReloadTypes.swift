import Foundation
import StationConfig
import Synchronization

/// How the agent reads its configuration again on SIGHUP.
public struct ConfigurationReloader: Sendable {
    /// The configuration file (named in messages).
    public var file: String
    /// Loads and validates the file; throws a ``ConfigError`` (or another error) describing
    /// every problem.
    public var load: @Sendable () async throws -> AgentSettings

    public init(file: String, load: @escaping @Sendable () async throws -> AgentSettings) {
        self.file = file
        self.load = load
    }

    /// Reads `file` with ``ConfigLoader`` and maps it as `station-agent run` does.
    public static func file(_ path: String) -> ConfigurationReloader {
        ConfigurationReloader(file: path) { try AgentSettings(ConfigLoader.load(path: path)) }
    }
}

/// What happened to a reload request.
public enum ReloadEvent: Sendable {
    /// SIGHUP arrived and the new file is valid: the services are being restarted with it.
    case reloading
    /// The new configuration runs.
    case applied(AgentSettings)
    /// The new configuration was not applied (the reason, one problem per line); the old one
    /// keeps running.
    case rejected(String)
}

/// Whether a generation of services drains the queue on graceful shutdown (SIGTERM: yes) or
/// only finishes what is in flight (a reload: the next generation sends the rest).
public final class DrainSwitch: Sendable {
    private let draining = Atomic<Bool>(true)

    public init() {}

    public var drains: Bool { draining.load(ordering: .acquiring) }

    /// From now on, graceful shutdown stops after the request in flight.
    public func stopAfterInFlight() { draining.store(false, ordering: .releasing) }
}

/// The settings a reload cannot change, because the process keeps them: the store stays open
/// (its directory and space policy) and the metrics endpoint stays bound.
public enum FixedSettings {
    /// One line per setting that differs, `FILE: key: what to do`; empty when none does.
    public static func problems(old: AgentSettings, new: AgentSettings, file: String) -> [String] {
        var problems: [String] = []
        func restart(_ key: String, _ from: String, _ to: String) {
            problems.append(
                "\(file): \(key): changed from \(from) to \(to), which a reload cannot apply (the process keeps it); "
                    + "restart the agent (`systemctl restart station-agent`) or put the old value back")
        }
        if old.stateDirectory != new.stateDirectory {
            restart("station.state_dir", old.stateDirectory, new.stateDirectory)
        }
        if old.storeBudgetBytes != new.storeBudgetBytes {
            restart("store.max_mb", "\(old.storeBudgetBytes >> 20)", "\(new.storeBudgetBytes >> 20)")
        }
        if old.alarmReserveBytes != new.alarmReserveBytes {
            restart("store.alarm_reserve_mb", "\(old.alarmReserveBytes >> 20)", "\(new.alarmReserveBytes >> 20)")
        }
        if old.metricsListen != new.metricsListen {
            restart(
                "metrics.listen", "\"\(old.metricsListen?.description ?? "")\"", "\"\(new.metricsListen?.description ?? "")\"")
        }
        return problems
    }
}

extension AgentSettings {
    /// Every configured device name (readers, alarm devices, OSDP buses and their readers).
    var deviceNames: Set<String> {
        Set(
            readers.map(\.name) + alarmBoxes.map(\.name) + alarmButtons.map(\.name)
                + osdpBuses.flatMap { [$0.name] + $0.readers.map(\.name) })
    }
}
