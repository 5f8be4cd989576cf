/// A position in a TOML document: 1-based line and column (columns count Unicode scalars).
struct TOMLPosition: Sendable, Hashable, CustomStringConvertible {
    var line: Int
    var column: Int

    var description: String { "\(line):\(column)" }
}

/// A TOML value as the parser produced it. Dates and times are not part of this subset.
enum TOMLValue: Sendable, Hashable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    /// The value's type with an article, as error messages print it ("a string", "an integer").
    var typeDescription: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .boolean: "a boolean"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// One key of a table with its value and where its key was written.
struct TOMLEntry: Sendable, Hashable {
    var value: TOMLValue
    /// Where the (last part of the) key was written.
    var position: TOMLPosition
}

/// A TOML table. Keys keep document order so that everything derived from a table (error
/// lists above all) comes out in a stable order.
struct TOMLTable: Sendable, Hashable {
    /// Where the table was defined: its `[header]` or `[[header]]`, the first dotted key that
    /// created it, or the `{` of an inline table. `nil` for the root table.
    var position: TOMLPosition?
    private(set) var keys: [String] = []
    private(set) var entries: [String: TOMLEntry] = [:]

    init(position: TOMLPosition? = nil) {
        self.position = position
    }

    subscript(key: String) -> TOMLEntry? { entries[key] }

    /// The entries in document order.
    var orderedEntries: [(key: String, entry: TOMLEntry)] {
        keys.compactMap { key in entries[key].map { (key, $0) } }
    }

    mutating func set(_ key: String, _ entry: TOMLEntry) {
        if entries[key] == nil { keys.append(key) }
        entries[key] = entry
    }
}
