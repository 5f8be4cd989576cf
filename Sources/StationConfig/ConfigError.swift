/// One problem in a configuration file: which file, which line, which key, and what is expected.
///
/// Its `description` is one line, in the form compilers use, so editors can jump to it:
///
/// ```
/// station.toml:14: device[1].baud: expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200; got 9601
/// station.toml:3: platform.url: required key is missing
/// station.toml:7:12: unterminated string: missing the closing `"`
/// ```
public struct ConfigIssue: Sendable, Hashable, CustomStringConvertible {
    /// The file, as it was named to the loader.
    public var file: String
    /// The 1-based line the problem is on; nil when it is on no line (a key missing from a
    /// table that is not in the file at all, a file that cannot be read).
    public var line: Int?
    /// The 1-based column, for syntax errors.
    public var column: Int?
    /// The dotted key path concerned: `platform.url`, `device[2].baud` (devices count from 0,
    /// in the order of their `[[device]]` sections).
    public var key: String?
    /// What is wrong and what is expected.
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = file
        if let line {
            text += ":\(line)"
            if let column { text += ":\(column)" }
        }
        text += ": "
        if let key { text += "\(key): " }
        return text + message
    }
}

/// Why a configuration could not be loaded: every problem found, in file order (problems that
/// are on no line come last). Its `description` prints one issue per line.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}
