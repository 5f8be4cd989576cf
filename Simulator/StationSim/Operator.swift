import ArgumentParser
import AsyncHTTPClient
import EventModel
import Foundation
import NIOCore
import NIOHTTP1
import PlatformAPI

/// `station-sim operator`: the platform operator's console, against a running platform
/// emulator (`station-sim emulator`). It closes the alarm loop by hand: list the alarms,
/// acknowledge, dispatch or reset one (the station learns it through its command long-poll),
/// and see which stations still send heartbeats.
struct OperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Act as the platform's operator: list alarms, acknowledge, dispatch or reset them, watch stations.",
        discussion: """
            Talks to the platform emulator's operator routes (emulator only, see docs/platform-api.yaml). \
            Allowed transitions: received -> acknowledged -> dispatched, dispatch directly from received, \
            reset from any state but reset; anything else is refused with 409 and the emulator's reason.
            """,
        subcommands: [Alarms.self, Acknowledge.self, Dispatch.self, Reset.self, Stations.self]
    )
}

extension OperatorCommand {
    /// Where the emulator listens.
    struct PlatformOptions: ParsableArguments {
        @Option(help: "The platform emulator's base URL, as `station-sim emulator` printed it (http://127.0.0.1:8080).")
        var url: String

        func validate() throws {
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                scheme == "http" || scheme == "https", components.host?.isEmpty == false
            else {
                throw ValidationError("--url \(url): not an http(s) URL with a host; use the address `station-sim emulator` printed, like http://127.0.0.1:8080")
            }
        }

        /// `url` plus `path` and `query`, with the query percent-encoded.
        func endpoint(_ path: String, query: [URLQueryItem] = []) throws -> String {
            let base = url.hasSuffix("/") ? String(url.dropLast()) : url
            guard var components = URLComponents(string: base + path) else {
                throw OperatorFailure("--url \(url): cannot be combined with \(path)")
            }
            if !query.isEmpty {
                components.queryItems = query
            }
            guard let text = components.string else {
                throw OperatorFailure("--url \(url): cannot be combined with \(path)")
            }
            return text
        }
    }

    /// The alarm to act on and who acts.
    struct ActionOptions: ParsableArguments {
        @Argument(help: "The alarm's event id (the EVENT ID column of `operator alarms`).") var eventId: String
        @OptionGroup var platform: PlatformOptions
        @Option(help: "The operator's name, sent to the station with the command.") var name: String?
        @Option(help: "A note sent to the station with the command.") var note: String?

        func validate() throws {
            guard UUID(uuidString: eventId) != nil else {
                throw ValidationError("EVENTID \(eventId): not an event id; copy one from `station-sim operator alarms`")
            }
        }

        /// Sends `action` and prints the alarm as it is afterwards.
        func perform(_ action: String) async throws {
            let body = try JSONEncoder().encode(OperatorAction(operatorName: name, note: note))
            let answer = try await PlatformCall.send(
                .POST, try platform.endpoint("/v1/operator/alarms/\(eventId.lowercased())/\(action)"), body: body,
                platform: platform.url
            )
            let alarm = try answer.decode(AlarmView.self)
            print("alarm \(alarm.eventId) at \(alarm.stationID) (\(alarm.device)) is now \(alarm.state.rawValue)")
            for (label, time) in [
                ("received", Optional(alarm.receivedAt)), ("acknowledged", alarm.acknowledgedAt),
                ("dispatched", alarm.dispatchedAt), ("reset", alarm.resetAt),
            ] {
                if let time {
                    print("  \(label.padding(toLength: 13, withPad: " ", startingAt: 0)) \(time)")
                }
            }
            print("the station receives the command on its next long-poll answer (at once when it is connected)")
        }
    }

    struct Alarms: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List alarms, newest first, with their states.")

        @OptionGroup var platform: PlatformOptions
        @Option(help: "Only this station's alarms.") var station: String?
        @Option(help: "Only alarms in this state: received, acknowledged, dispatched or reset.") var state: String?
        @Option(help: "At most this many alarms.") var limit = 50

        func validate() throws {
            if let state, AlarmView.State(rawValue: state) == nil {
                throw ValidationError("--state \(state): not one of received, acknowledged, dispatched, reset")
            }
            guard limit >= 1 else { throw ValidationError("--limit must be 1 or more") }
        }

        func run() async throws {
            var query = [URLQueryItem(name: "limit", value: String(limit))]
            if let station { query.append(URLQueryItem(name: "station", value: station)) }
            if let state { query.append(URLQueryItem(name: "state", value: state)) }
            let answer = try await PlatformCall.send(
                .GET, try platform.endpoint("/v1/operator/alarms", query: query), platform: platform.url
            )
            let alarms = try answer.decode([AlarmView].self)
            guard !alarms.isEmpty else {
                print("no alarms" + (station.map { " for station \($0)" } ?? "") + (state.map { " in state \($0)" } ?? ""))
                return
            }
            var rows = [["EVENT ID", "STATION", "DEVICE", "STATE", "OCCURRED (UTC)", "RECEIVED", "ACKNOWLEDGED", "DISPATCHED", "RESET"]]
            for alarm in alarms {
                let occurred = Timestamp.parse(alarm.occurredAt)
                rows.append([
                    alarm.eventId, alarm.stationID, alarm.device, alarm.state.rawValue, alarm.occurredAt,
                    Table.offset(alarm.receivedAt, from: occurred), Table.offset(alarm.acknowledgedAt, from: occurred),
                    Table.offset(alarm.dispatchedAt, from: occurred), Table.offset(alarm.resetAt, from: occurred),
                ])
            }
            print(Table.render(rows), terminator: "")
            print("times after OCCURRED are offsets from the press; - = not yet")
        }
    }

    struct Acknowledge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Acknowledge an alarm: an operator took it (the kiosk shows it).")
        @OptionGroup var options: ActionOptions
        func run() async throws { try await options.perform("acknowledge") }
    }

    struct Dispatch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark an alarm dispatched: help is on its way.")
        @OptionGroup var options: ActionOptions
        func run() async throws { try await options.perform("dispatch") }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reset a latched alarm from the platform (the kiosk unlatches it and records an alarm_reset).")
        @OptionGroup var options: ActionOptions
        func run() async throws { try await options.perform("reset") }
    }

    struct Stations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every station the emulator knows, its last heartbeat, and which went silent.")

        @OptionGroup var platform: PlatformOptions
        @Option(help: "Seconds without a heartbeat after which a station counts as silent.") var silentAfter = 90

        func validate() throws {
            guard silentAfter >= 1 else { throw ValidationError("--silent-after must be 1 or more") }
        }

        func run() async throws {
            let answer = try await PlatformCall.send(
                .GET,
                try platform.endpoint("/v1/stations", query: [URLQueryItem(name: "silentAfterSeconds", value: String(silentAfter))]),
                platform: platform.url
            )
            let stations = try answer.decode([StationView].self)
            guard !stations.isEmpty else {
                print("no stations yet: none has sent an event or a heartbeat")
                return
            }
            var rows = [["STATION", "STATUS", "LAST HEARTBEAT (UTC)", "AGENT", "QUEUED alarm/normal", "LATCHED", "DEVICES"]]
            for station in stations {
                let heartbeat = station.heartbeat
                rows.append([
                    station.stationID, station.silent ? "SILENT" : "ok", station.lastHeartbeatAt ?? "never",
                    heartbeat?.agentVersion ?? "-",
                    heartbeat.map { "\($0.queued["alarm"] ?? 0)/\($0.queued["normal"] ?? 0)" } ?? "-",
                    heartbeat.map { String($0.latchedAlarms.count) } ?? "-",
                    heartbeat.map { $0.devices.map { "\($0.name):\($0.state)" }.joined(separator: " ") } ?? "-",
                ])
            }
            print(Table.render(rows), terminator: "")
            let silent = stations.filter(\.silent).count
            print("\(stations.count) station(s), \(silent) silent (no heartbeat for more than \(silentAfter) s)")
        }
    }
}

extension OperatorCommand {
    /// One request to the emulator, and what came back.
    struct PlatformCall {
        var status: Int
        var body: Data

        /// Longest time one request may take.
        static let timeout = TimeAmount.seconds(10)
        /// Largest answer read.
        static let maxAnswerBytes = 16 * 1024 * 1024

        /// Sends the request; any answer but 2xx becomes an ``OperatorFailure`` carrying the
        /// emulator's `ErrorBody`.
        static func send(_ method: HTTPMethod, _ url: String, body: Data? = nil, platform: String) async throws -> PlatformCall {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Accept", value: "application/json")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let call: PlatformCall
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: timeout)
                let buffer = try await response.body.collect(upTo: maxAnswerBytes)
                call = PlatformCall(status: Int(response.status.code), body: Data(buffer.readableBytesView))
            } catch {
                throw OperatorFailure(
                    "\(method.rawValue) \(url): no answer from the platform emulator (\(error)); "
                        + "check that `station-sim emulator` runs at \(platform)"
                )
            }
            guard (200..<300).contains(call.status) else {
                if let problem = try? JSONDecoder().decode(ErrorBody.self, from: call.body) {
                    throw OperatorFailure("HTTP \(call.status) \(problem.error): \(problem.detail)")
                }
                let text = String(decoding: call.body.prefix(500), as: UTF8.self)
                throw OperatorFailure("HTTP \(call.status) from \(method.rawValue) \(url): \(text.isEmpty ? "(no body)" : text)")
            }
            return call
        }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do {
                return try JSONDecoder().decode(type, from: body)
            } catch {
                throw OperatorFailure(
                    "the emulator's answer is not a \(type) as docs/platform-api.yaml describes: \(error); "
                        + "are --url and the emulator of the same version?"
                )
            }
        }
    }

    /// A failure of an operator command, printed as `Error: <description>`.
    struct OperatorFailure: Error, CustomStringConvertible {
        var description: String

        init(_ description: String) {
            self.description = description
        }
    }

    /// Plain-text tables for the terminal.
    enum Table {
        /// Left-aligned columns, two spaces apart, one line per row.
        static func render(_ rows: [[String]]) -> String {
            let columns = rows.map(\.count).max() ?? 0
            var widths = Array(repeating: 0, count: columns)
            for row in rows {
                for (index, cell) in row.enumerated() {
                    widths[index] = max(widths[index], cell.count)
                }
            }
            var text = ""
            for row in rows {
                let cells = row.enumerated().map { index, cell in
                    index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                }
                text += cells.joined(separator: "  ") + "\n"
            }
            return text
        }

        /// How long after `start`: `+0.012s`, `+4m05s`, `+2h17m`; the raw text when either time
        /// does not parse, `-` for none.
        static func offset(_ time: String?, from start: Date?) -> String {
            guard let time else { return "-" }
            guard let start, let date = Timestamp.parse(time) else { return time }
            let seconds = date.timeIntervalSince(start)
            let sign = seconds < 0 ? "-" : "+"
            let magnitude = abs(seconds)
            if magnitude < 60 {
                return sign + String(format: "%.3fs", magnitude)
            }
            let whole = Int(magnitude)
            if whole < 3600 {
                return sign + String(format: "%dm%02ds", whole / 60, whole % 60)
            }
            return sign + String(format: "%dh%02dm", whole / 3600, whole / 60 % 60)
        }
    }
}
