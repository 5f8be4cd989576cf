import ArgumentParser
import DC09Receiver
import Foundation
import Logging
import SIADC09

/// `station-sim dc09-receiver`: a simulated alarm receiving centre for DC-09 transmitters.
struct DC09ReceiverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dc09-receiver",
        abstract: "Run a simulated SIA DC-09 alarm receiving centre (answers ACK, NAK or DUH) until interrupted.",
        discussion: """
            Prints `listening on tcp://HOST:PORT` once it accepts connections (use --port 0 for any free port), \
            then one line per received frame: the decoded message and the answer.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 0
    @Option(name: .customLong("account"), help: "An account it knows (3-16 hex digits); repeat for more.")
    var accounts: [String] = []
    @Option(help: "AES key (32, 48 or 64 hex digits) the accounts must encrypt with.") var key: String?
    @Option(help: "Seconds added to the receiver's clock (provokes NAKs with its time).") var clockOffset = 0
    @Option(help: "Answer the first N readable messages with NAK.") var nakFirst = 0
    @Flag(help: "Record frames but never answer.") var silent = false
    @Flag(help: "Do not answer frames with a bad CRC or length (by default they get a NAK).") var ignoreCorrupt = false
    @Option(help: "Log level for diagnostics on standard error.") var logLevel = "warning"

    func validate() throws {
        guard !accounts.isEmpty else { throw ValidationError("give at least one --account (3-16 hex digits)") }
        for account in accounts {
            do { _ = try DC09Account(account) } catch { throw ValidationError(error.message) }
        }
        if let key {
            do { _ = try DC09Key(hex: key) } catch { throw ValidationError(error.message) }
        }
    }

    func run() async throws {
        let dc09Key = try key.map { hex throws(DC09Error) in try DC09Key(hex: hex) }
        var known: [DC09Account: DC09Key?] = [:]
        for account in accounts { known[try DC09Account(account)] = dc09Key }
        var logger = Logger(label: "station.dc09-receiver")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        let offset = TimeInterval(clockOffset)
        let server = try await DC09ReceiverServer.start(
            host: host, port: port, policy: DC09ReceiverPolicy(accounts: known, nakCorruptFrames: !ignoreCorrupt),
            clock: { Date().addingTimeInterval(offset) }, logger: logger
        ) { record in
            FileHandle.standardOutput.write(Data("\(DC09Timestamp(record.receivedAt)) \(record)\n".utf8))
        }
        server.setSilent(silent)
        server.nakNext(nakFirst)
        FileHandle.standardOutput.write(Data("listening on tcp://\(host):\(server.port)\n".utf8))
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(3600))
        }
        await server.shutdown()
    }
}
