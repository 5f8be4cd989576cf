import Foundation
import TestSupport
import Testing

/// Every shell command in a `sh` block of README.md and docs/*.md runs, from the repository's
/// folder with this build's binaries first on `PATH`, and succeeds. A block that cannot run here
/// (real hardware, root, a network, SwiftPM itself) is preceded by
/// `<!-- docs-check: skip: REASON -->`; its commands are listed as skipped with the reason.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DocumentedCommandsTests {
    /// One command of a block, where it is written.
    struct Command: Sendable, CustomStringConvertible {
        var file: String
        var line: Int
        var text: String
        /// Why it is not run, if it is not.
        var skip: String?

        var description: String { "\(file):\(line) `\(text)`" }
    }

    static let root: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The commands of the `sh`, `bash` and `shell` blocks of `text`. Comment lines and blank
    /// lines are not commands; a line ending in `\` continues on the next.
    static func commands(in text: String, file: String) -> [Command] {
        var found: [Command] = []
        var inBlock = false
        var skip: String?
        var lastNonBlank = ""
        var pending: (line: Int, text: String)?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if !inBlock {
                if ["```sh", "```bash", "```shell"].contains(line) {
                    inBlock = true
                    skip = nil
                    if let range = lastNonBlank.range(of: "<!-- docs-check: skip:") {
                        skip = String(lastNonBlank[range.upperBound...]).replacingOccurrences(of: "-->", with: "")
                            .trimmingCharacters(in: .whitespaces)
                    }
                } else if !line.isEmpty {
                    lastNonBlank = line
                }
                continue
            }
            if line.hasPrefix("```") {
                inBlock = false
                lastNonBlank = ""
                continue
            }
            if pending == nil && (line.isEmpty || line.hasPrefix("#")) { continue }
            var command = line
            if let comment = command.range(of: "  # ") ?? command.range(of: "\t# ") { command = String(command[..<comment.lowerBound]) }
            command = command.trimmingCharacters(in: .whitespaces)
            if command.hasSuffix("\\") {
                let part = String(command.dropLast()).trimmingCharacters(in: .whitespaces)
                pending = (pending?.line ?? index + 1, [pending?.text, part].compactMap { $0 }.joined(separator: " "))
                continue
            }
            let start = pending?.line ?? index + 1
            let whole = [pending?.text, command].compactMap { $0 }.joined(separator: " ")
            pending = nil
            found.append(Command(file: file, line: start, text: whole, skip: skip))
        }
        return found
    }

    static func documentedCommands() throws -> [Command] {
        let docs = try FileManager.default.contentsOfDirectory(atPath: root + "/docs").filter { $0.hasSuffix(".md") }.sorted()
        return try (["README.md"] + docs.map { "docs/" + $0 }).flatMap { file in
            commands(in: try String(contentsOfFile: root + "/" + file, encoding: .utf8), file: file)
        }
    }

    @Test func theParserFindsCommandsAndSkipsAndContinuations() {
        let text = """
            <!-- docs-check: skip: needs a serial adapter -->
            ```sh
            station-agent ports   # lists them
            ```

            ```sh
            # a comment
            station-sim chaos \\
              --kills 3
            ```

            ```toml
            not = "a command"
            ```
            """
        let found = Self.commands(in: text, file: "X.md")
        #expect(found.map(\.text) == ["station-agent ports", "station-sim chaos --kills 3"])
        #expect(found.map(\.skip) == ["needs a serial adapter", nil])
        #expect(found.map(\.line) == [3, 8])
    }

    @Test func everyDocumentedCommandRuns() async throws {
        let commands = try Self.documentedCommands()
        let path = Binaries.directory + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        var ran = 0
        for command in commands {
            if let reason = command.skip {
                print("docs-check: SKIP \(command): \(reason)")
                continue
            }
            let started = ContinuousClock.now
            let child = try ChildProcess("/bin/sh", ["-c", "cd '\(Self.root)' && \(command.text)"], environment: ["PATH": path])
            let status = await child.waitForExit(timeout: .seconds(180))
            _ = await child.waitForEndOfOutput()
            let took = ContinuousClock.now - started
            print("docs-check: \(status == 0 ? "ok  " : "FAIL") \(command) (\(took.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))))")
            #expect(status == 0, "\(command) exited with \(status.map(String.init) ?? "no status (still running)"); output:\n\(child.log)")
            if status == nil { child.signal(SIGKILL) }
            ran += 1
        }
        let skipped = commands.filter { $0.skip != nil }.count
        print("docs-check: \(ran) documented command(s) run, \(skipped) skipped")
        #expect(ran >= 5, "the README's own commands are found and run: \(commands)")
    }
}
