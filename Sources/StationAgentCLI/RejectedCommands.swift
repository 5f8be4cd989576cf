import Agent
import ArgumentParser
import EventModel
import EventStore
import Foundation

/// `station-agent rejected`: the events the platform refused, kept for an operator.
struct Rejected: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the events the platform rejected, with its reason (they are kept until requeued).")

    @OptionGroup var options: ConfigOption

    @Option(name: .long, help: "Show at most this many.")
    var limit: Int = 100

    func run() async throws {
        let (_, settings) = try loadSettings(path: options.config)
        let store = try openStore(settings, forWriting: false, command: "rejected")
        let rejected = try await store.rejectedEvents(limit: max(1, limit))
        print(Self.render(rejected))
    }

    static func render(_ rejected: [RejectedEvent]) -> String {
        guard !rejected.isEmpty else { return "no rejected events" }
        var lines: [String] = []
        for entry in rejected {
            let event = entry.event
            lines.append(
                "seq \(event.seq)  \(event.event.kind.rawValue) from \(event.event.device) at \(Timestamp.format(event.event.occurredAt))"
                    + "  rejected \(Timestamp.format(entry.rejectedAt)): \(entry.reason ?? "no reason given")")
        }
        lines.append("\(rejected.count) rejected event(s); `station-agent requeue --all` (or `requeue SEQ ...`) sends them again")
        if rejected.contains(where: { $0.event.event.lane == .alarm }) {
            lines.append("alarms among them are sent again by the agent itself every 5 minutes: an alarm is never refused for good")
        }
        return lines.joined(separator: "\n")
    }
}

/// `station-agent relabel`: sends the events recorded under an earlier station id as this one.
struct Relabel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send the queued events recorded under an earlier station id as this station (when the platform refuses the old id).",
        discussion: """
            After `[station] id` changes, events recorded before still go out as the station that \
            recorded them. If the platform refuses that id (`status` names the fault), this command \
            relabels them with the current id. Run it as the agent's user; the running agent picks \
            them up within a minute.
            """)

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let (_, settings) = try loadSettings(path: options.config)
        let store = try openStore(settings, forWriting: true, command: "relabel")
        let changed = try await store.relabelUndelivered(as: settings.stationID)
        print("relabelled \(changed) queued event(s) as station \(settings.stationID)")
    }
}

/// `station-agent requeue`: sends rejected events again (after the platform was fixed).
struct Requeue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put rejected events back in the queue, so the agent sends them again.",
        discussion: """
            Run it as the agent's user (sudo -u station-agent ...). The running agent picks the
            events up within a minute; a stopped one at its next start.
            """)

    @OptionGroup var options: ConfigOption

    @Flag(name: .long, help: "Requeue every rejected event.")
    var all = false

    @Argument(help: "Sequence numbers of the rejected events to requeue (from `station-agent rejected`).")
    var seqs: [Int64] = []

    func validate() throws {
        if all == !seqs.isEmpty {
            throw ValidationError("name the events to requeue (sequence numbers from `station-agent rejected`), or give --all")
        }
    }

    func run() async throws {
        let (_, settings) = try loadSettings(path: options.config)
        let store = try openStore(settings, forWriting: true, command: "requeue")
        let requeued = try await store.requeueRejected(seqs: all ? nil : seqs)
        let missed = Set(seqs).subtracting(requeued).sorted()
        print("requeued \(requeued.count) event(s); the running agent sends them within a minute")
        if !missed.isEmpty {
            printError("not rejected (or unknown), left as they are: \(missed.map(String.init).joined(separator: " "))")
            throw ExitCode(1)
        }
    }
}
