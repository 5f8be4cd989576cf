import ArgumentParser
import ToolSupport

@main
struct StationAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "station-agent",
        abstract: "The service-station kiosk agent: reads card readers, stores every event durably, forwards it to the platform.",
        subcommands: [Run.self, CheckConfig.self, Status.self, Rejected.self, Requeue.self, Relabel.self, Ports.self, Identify.self, Setup.self, TestAlarm.self, Doctor.self],
        defaultSubcommand: nil
    )

    /// ArgumentParser's `main`, with a Foundation file error said plainly (``ReadableError``).
    static func main() async { await mainWithReadableErrors() }
}
