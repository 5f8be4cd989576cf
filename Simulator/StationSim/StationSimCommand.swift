import ArgumentParser

@main
struct StationSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "station-sim",
        abstract: "The StationAgent simulator: virtual devices on pseudo-terminals and the platform emulator.",
        subcommands: [Demo.self, PowerCut.self, Chaos.self, Emulator.self, Reader.self, OperatorCommand.self, DC09ReceiverCommand.self]
    )
}
