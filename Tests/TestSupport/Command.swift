import Subprocess
import SystemPackage

/// A short command run to completion with swift-subprocess: its exit status and its output
/// (standard output and standard error together, as a terminal shows them).
///
/// The long-running children of the end-to-end tests (agents, emulators, receivers) stay on
/// `ChildProcess` (Foundation's `Process`): a test starts one, acts on it across many steps
/// (SIGSTOP, SIGKILL mid-write, a restart while a second one runs) and reads its log while it
/// runs. swift-subprocess scopes a child to the closure of its `run` call, so keeping one open
/// across a test's steps would take an unstructured task per child; for a command that runs to
/// its end, it is the better tool, and it is used here.
public struct CommandResult: Sendable {
    /// The exit status, or 128 + the signal number when a signal ended it (as a shell reports it).
    public var status: Int32
    public var output: String
}

public enum Command {
    /// Runs `executable` with `arguments` in `directory` (the current one when nil).
    ///
    /// - Parameter limit: the most output kept, in bytes; more is an error, not a silent cut.
    public static func run(
        _ executable: String, _ arguments: [String], in directory: String? = nil, limit: Int = 4 << 20
    ) async throws -> CommandResult {
        let result = try await Subprocess.run(
            .path(FilePath(executable)), arguments: Arguments(arguments), workingDirectory: directory.map { FilePath($0) },
            output: .string(limit: limit), error: .combinedWithOutput)
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        return CommandResult(status: status, output: result.standardOutput ?? "")
    }
}
