import ArgumentParser
import DeviceProtocols
import Foundation
import VirtualDevices

struct Reader: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a card reader on a pseudo-terminal, driven by commands on standard input.",
        discussion: """
            Creates a pty and a stable link to it (point the agent's `port` at the link), then reads \
            commands, one per line:
              tap UID            present a card once
              hold UID N         hold a card: N repeated frames, 65 ms apart
              garbage            send random bytes (line noise)
              unplug / replug    hang up the line / bring a new one up at the same link
              quit
            """)

    @Option(help: "Reader profile: \(ReaderProfile.allCases.map(\.rawValue).joined(separator: ", ")).")
    var profile = ReaderProfile.rdm6300.rawValue
    @Option(help: "Path of the link to create (like a udev by-id name).") var link: String

    func validate() throws {
        guard ReaderProfile(rawValue: profile) != nil else {
            throw ValidationError("unknown profile '\(profile)'; expected one of \(ReaderProfile.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let reader = try VirtualCardReader(profile: ReaderProfile(rawValue: profile)!, linkPath: link)
        say("\(profile) reader on \(reader.linkPath) -> \(reader.device.currentSlavePath ?? "?")")
        while let line = readLine() {
            let words = line.split(separator: " ").map(String.init)
            do {
                switch words.first {
                case "tap" where words.count == 2:
                    try reader.tap(uid: words[1])
                case "hold" where words.count == 3:
                    let frame = try reader.frame(uid: words[1])
                    for _ in 0..<(Int(words[2]) ?? 1) {
                        try reader.device.send(frame)
                        Thread.sleep(forTimeInterval: 0.065)
                    }
                case "garbage":
                    try reader.sendGarbage((0..<32).map { _ in UInt8.random(in: 0...255) })
                case "unplug":
                    reader.device.unplug()
                case "replug":
                    try reader.device.replug()
                    say("replugged: \(reader.linkPath) -> \(reader.device.currentSlavePath ?? "?")")
                case "quit":
                    return
                case nil:
                    continue
                default:
                    say("unknown command '\(line)'; expected tap UID, hold UID N, garbage, unplug, replug or quit")
                }
            } catch {
                say("error: \(error)")
            }
        }
    }

    /// Prints a line and flushes it at once (the reader is usually driven through a pipe).
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
