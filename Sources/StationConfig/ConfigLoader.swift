import Foundation

/// Reads station configuration files (TOML; the reference is `docs/configuration.md`).
///
/// ```swift
/// do {
///     let configuration = try ConfigLoader.load(path: "/etc/station-agent/station.toml")
///     print(configuration)  // the effective configuration, token redacted
/// } catch {
///     print(error)  // one line per problem: "station.toml:14: device[1].baud: expected one of …"
/// }
/// ```
///
/// Every problem in the file is reported, not only the first, each with the file, line and key
/// and what is expected. One exception: after a TOML syntax error the rest of the file cannot
/// be read reliably, so only the problems up to it are reported.
public enum ConfigLoader {
    /// Reads and checks the configuration file at `path`. Relative paths in the file resolve
    /// against the file's directory.
    ///
    /// - Throws: a ``ConfigError`` naming the file when it is missing, unreadable or not UTF-8,
    ///   or listing every problem in it.
    public static func load(path: String) throws(ConfigError) -> StationConfiguration {
        let text = try readText(path: path, what: "the configuration file")
        return try parse(text, file: path)
    }

    /// Checks configuration text. `file` names it in messages, and its directory is where
    /// relative paths in the text resolve (a relative `file` is taken from the current
    /// directory).
    ///
    /// - Throws: a ``ConfigError`` listing every problem.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> StationConfiguration {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            throw ConfigError(issues: error.errors.map {
                ConfigIssue(file: file, line: $0.position.line, column: $0.position.column, key: $0.key, message: $0.message)
            })
        }
        var decoder = SchemaDecoder(
            file: file,
            baseDirectory: PathResolver.directory(of: file, currentDirectory: FileManager.default.currentDirectoryPath)
        )
        return try decoder.decode(root)
    }

    /// Reads a UTF-8 text file, turning every failure into an issue that names the file.
    static func readText(path: String, what: String) throws(ConfigError) -> String {
        func failure(_ message: String, line: Int? = nil) -> ConfigError {
            ConfigError(issues: [ConfigIssue(file: path, line: line, message: message)])
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw failure("cannot read \(what): no such file; check the path")
        }
        if isDirectory.boolValue {
            throw failure("cannot read \(what): it is a directory; name the file itself")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as CocoaError where error.code == .fileReadNoPermission {
            throw failure("cannot read \(what): permission denied; make it readable by the agent's user")
        } catch {
            throw failure("cannot read \(what): \(error.localizedDescription)")
        }
        if let text = String(data: data, encoding: .utf8) {
            return text
        }
        // Find the line with the bad bytes (a UTF-8 sequence never contains a newline byte).
        var line = 1
        for chunk in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if String(data: Data(chunk), encoding: .utf8) == nil { break }
            line += 1
        }
        throw failure("\(what) is not valid UTF-8 text; save it as UTF-8", line: line)
    }
}
