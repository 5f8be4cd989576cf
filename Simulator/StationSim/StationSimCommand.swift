import ArgumentParser
import ToolSupport

@main
struct StationSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "station-sim",
        abstract: "The StationAgent simulator: virtual devices on pseudo-terminals and the platform emulator.",
        subcommands: [Demo.self, PowerCut.self, Chaos.self, Emulator.self, Reader.self, OperatorCommand.self, DC09ReceiverCommand.self]
    )

    /// ArgumentParser's `main`, with a Foundation file error said plainly (``ReadableError``).
    static func main() async { await mainWithReadableErrors() }
}
