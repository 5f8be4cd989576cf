import Foundation

/// Finds another of this package's programs for a program that starts it (`station-sim demo`,
/// `power-cut` and `chaos` start `station-agent`; `station-bench` starts both): an explicit
/// path first, then the same build folder as the running program (the same configuration, debug
/// or release), then `PATH`. When it is nowhere, the error names the binary, where it looked and
/// the command that builds it, in one line.
///
/// ```swift
/// let agent = try SiblingBinary.locate("station-agent", override: options.agent)
/// ```
public enum SiblingBinary {
    public struct Missing: Error, CustomStringConvertible, Sendable {
        public var name: String
        public var looked: [String]
        public var build: String

        public var description: String {
            "cannot find \(name) (looked in \(looked.joined(separator: ", "))); build it with `\(build)`, or pass its path with --agent"
        }
    }

    /// The path of `name`, or ``Missing``.
    ///
    /// - Parameters:
    ///   - override: a path the user gave (`--agent PATH`); it must be an executable file.
    ///   - own: this program's path (`CommandLine.arguments[0]` by default).
    ///   - environment: where `PATH` comes from.
    public static func locate(
        _ name: String, override: String? = nil, own: String = CommandLine.arguments[0],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Missing) -> String {
        let folder = URL(fileURLWithPath: own).resolvingSymlinksInPath().deletingLastPathComponent()
        let build = buildCommand(name, folder: folder.path)
        if let override {
            guard FileManager.default.isExecutableFile(atPath: override) else {
                throw Missing(name: name, looked: [override + " (given, not an executable file)"], build: build)
            }
            return override
        }
        var looked = [folder.path]
        let sibling = folder.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        for directory in (environment["PATH"] ?? "").split(separator: ":").map(String.init) where !directory.isEmpty {
            let candidate = (directory as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        looked.append("PATH")
        throw Missing(name: name, looked: looked, build: build)
    }

    /// The command that builds `name` into `folder`: `swift build -c release --product NAME` when
    /// the folder is a release build's, `swift build --product NAME` otherwise.
    static func buildCommand(_ name: String, folder: String) -> String {
        let release = folder.split(separator: "/").contains { $0 == "release" }
        return "swift build\(release ? " -c release" : "") --product \(name)"
    }
}
