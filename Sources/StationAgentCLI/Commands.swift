import Agent
import ArgumentParser
import DeviceProtocols
import EventModel
import EventStore
import Foundation
import Logging
import SerialTransport
import StationConfig
import SystemdNotify

/// Exit status for a configuration the agent cannot use (`EX_CONFIG` from sysexits.h); the
/// systemd unit does not restart on it, because a restart cannot fix a bad file.
let exitConfigurationError: Int32 = 78

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The agent's TOML configuration file.")
    var config: String = "/etc/station-agent/station.toml"
}

/// Loads and validates the configuration, or prints every problem (file:line: key: what is
/// expected) to standard error and exits with `EX_CONFIG`.
func loadSettings(path: String) throws -> (StationConfiguration, AgentSettings) {
    let configuration: StationConfiguration
    do {
        configuration = try ConfigLoader.load(path: path)
    } catch {
        printError(error.description)
        throw ExitCode(exitConfigurationError)
    }
    do {
        return (configuration, try AgentSettings(configuration))
    } catch {
        printError("\(error)")
        throw ExitCode(exitConfigurationError)
    }
}

/// The store of `settings` for a command that runs beside the agent: read-only (`status`,
/// `rejected`), or writable for one that changes it (`requeue`, `relabel`; run as the agent's
/// user). A store that cannot be opened is one line on standard error and exit status 1.
func openStore(_ settings: AgentSettings, forWriting: Bool, command: String) throws -> EventStore {
    do {
        return forWriting
            ? try EventStore.open(directory: settings.stateDirectory, policy: StoragePolicy(integrityCheckAtOpen: false))
            : try EventStore.openReadOnly(directory: settings.stateDirectory)
    } catch {
        printError(forWriting ? "\(error)\nRun this as the agent's user: sudo -u station-agent station-agent \(command) ..." : "\(error)")
        throw ExitCode(1)
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the agent: read the devices, store events, deliver them. SIGTERM/SIGINT drain and stop.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let (configuration, settings) = try loadSettings(path: options.config)
        // A write past a file size limit (systemd's LimitFSIZE=, a quota) must be an error the
        // store reports and the intake holds through, not SIGXFSZ's default: ending the process.
        signal(SIGXFSZ, SIG_IGN)
        let level = LogLevelSwitch(Logger.Level(configuration.log.level))
        LoggingSystem.bootstrap { label in
            SwitchableLogHandler(inner: StreamLogHandler.standardError(label: label), level: level)
        }
        // Metrics go to Prometheus only when the endpoint is on; otherwise they cost nothing.
        let metrics = settings.metricsListen == nil ? nil : AgentMetrics.bootstrap()
        var agentLogger = Logger(label: "station.agent")
        agentLogger[metadataKey: "station"] = "\(settings.stationID)"
        let logger = agentLogger
        let notifier = SystemdNotifier()
        let onReload: @Sendable (ReloadEvent) -> Void = { event in
            if case .applied(let settings) = event { level.current = Logger.Level(settings.logLevel) }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec / 1000)
            do {
                try notifier.notify(ReloadNotification.states(for: event, monotonicMicroseconds: microseconds))
            } catch {
                logger.warning("sd_notify failed", metadata: ["error": "\(error)"])
            }
        }
        // WATCHDOG=1 only while the agent makes progress (its alarm loops and commit path):
        // `WatchdogService` decides, the notifier sends.
        let watchdog = notifier.watchdogInterval.map { interval in
            (interval: interval, ping: { @Sendable in
                do {
                    try notifier.notify(.watchdog)
                } catch {
                    logger.warning("watchdog ping failed", metadata: ["error": "\(error)"])
                }
            })
        }
        do {
            try await StationAgent.run(
                settings: settings, logger: logger, metrics: metrics, reloader: .file(options.config),
                onReady: {
                    do {
                        try notifier.notify([.ready, .status("running: \(settings.readers.count) reader(s)")])
                    } catch {
                        logger.warning("sd_notify failed", metadata: ["error": "\(error)"])
                    }
                }, watchdog: watchdog, onReload: onReload)
            _ = try? notifier.notify(.stopping)
        } catch let error as EventStoreError {
            logger.critical("cannot use the event store", metadata: ["error": "\(error)"])
            throw ExitCode(73)  // EX_CANTCREAT
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration file without starting anything.")

    @Argument(help: "The TOML configuration file to check.")
    var file: String

    func run() throws {
        let (_, settings) = try loadSettings(path: file)
        print("\(file): OK")
        print("  station \(settings.stationID), state in \(settings.stateDirectory)")
        print("  platform \(settings.platformURL) (batches of up to \(settings.batchSize))")
        for reader in settings.readers {
            print("  \(reader.name): \(reader.profile.rawValue) reader for \(reader.purpose) on \(reader.port) at \(reader.settings)")
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what is queued, what was last delivered, and each device's state.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let (_, settings) = try loadSettings(path: options.config)
        let store = try openStore(settings, forWriting: false, command: "status")
        let now = Date()
        let summary = try await store.summary(now: now)
        let drain = try await store.drainCounts(now: now)
        let lastReload = try await store.meta.value(AgentGenerations<ContinuousClock>.lastReloadKey)
        let faults = try await PlatformFault.readAll(from: store)
        let rejected = try await store.rejectedCounts()
        let otherStations = try await store.undeliveredUnderOtherStations(current: settings.stationID)
        print(
            StatusReport.render(
                summary, station: settings.stationID, now: now, drain: drain, lastReload: lastReload, faults: faults,
                rejected: rejected, otherStations: otherStations))
    }
}

struct Ports: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List serial ports with their USB vendor, product and serial number.")

    static let noneFound = "no serial ports found (is the adapter plugged in? `dmesg | tail` shows what the kernel saw)"

    func run() throws {
        let ports: [SerialPortInfo]
        do {
            ports = try SerialPortCatalog.list()
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        if ports.isEmpty {
            print(Self.noneFound)
            return
        }
        for port in ports {
            var line = port.path
            if let vendor = port.usbVendor, let product = port.usbProduct {
                line += String(format: "  usb %04x:%04x", vendor, product)
            }
            if let serial = port.usbSerial { line += "  serial \(serial)" }
            line += "  \(port.description)"
            print(line)
        }
    }
}
