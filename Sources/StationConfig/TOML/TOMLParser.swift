/// A problem in a TOML document, with where it is and, when known, the dotted key it concerns.
struct TOMLError: Error, Sendable, Hashable, CustomStringConvertible {
    var position: TOMLPosition
    /// The dotted key path concerned (`platform.url`, `device`), if the problem is about a key.
    var key: String?
    var message: String

    var description: String {
        "\(position): " + (key.map { "\($0): " } ?? "") + message
    }
}

/// Why a document could not be parsed: every problem found, in document order. Parsing stops at
/// the first syntax error (what follows it cannot be read reliably), but problems that leave the
/// syntax intact (duplicate keys and tables, dates) are collected and parsing goes on.
struct TOMLParseFailure: Error, Sendable, Hashable {
    var errors: [TOMLError]
}

/// A strict parser for the subset of TOML 1.0 that station configuration files use.
///
/// Supported: comments, bare, quoted and dotted keys, basic strings (escapes `\b \t \n \f \r \"
/// \\ \uXXXX \UXXXXXXXX`), literal strings, multi-line basic and literal strings, integers
/// (decimal with `_`, `0x`, `0o`, `0b`), floats (including `inf` and `nan`), booleans, arrays
/// (multi-line, trailing comma), inline tables, `[table]` and `[[array of tables]]`.
/// Not supported: offset date-times, local date-times, dates and times; they are reported as
/// errors that ask for a string instead.
///
/// Every key and table keeps the line and column where it was written, so that whoever reads
/// the values can point at them.
struct TOMLParser {
    /// Parses a whole document into its root table.
    static func parse(_ source: String) throws(TOMLParseFailure) -> TOMLTable {
        var parser = TOMLParser(source)
        do {
            try parser.parseDocument()
        } catch {
            parser.errors.append(error.error)
        }
        if !parser.errors.isEmpty {
            throw TOMLParseFailure(errors: parser.errors)
        }
        return parser.root.freeze()
    }

    // MARK: State

    private let text: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private var errors: [TOMLError] = []
    private let root = TableNode(origin: .root, position: nil)
    private var current: TableNode
    private var currentPath = ""

    private init(_ source: String) {
        text = Array(source.unicodeScalars)
        current = root
    }

    private struct SyntaxError: Error {
        var error: TOMLError
    }

    // MARK: Document

    private mutating func parseDocument() throws(SyntaxError) {
        if peek() == "\u{FEFF}" { index += 1; lineStart = index }
        while true {
            skipWhitespace()
            guard let c = peek() else { return }
            switch c {
            case "#", "\n", "\r":
                try expectLineEnd(after: nil)
            case "[":
                try parseTableHeader()
                try expectLineEnd(after: "the table header")
            default:
                try parseKeyValue(into: current, path: currentPath)
                try expectLineEnd(after: "the value")
            }
        }
    }

    /// Skips trailing whitespace and a comment, then requires a newline or the end of input.
    private mutating func expectLineEnd(after what: String?) throws(SyntaxError) {
        skipWhitespace()
        try skipComment()
        if atEnd { return }
        if try consumeNewline() { return }
        guard let found = peek() else { return }
        if let what {
            throw fail("unexpected \(quote(found)) after \(what); write one `key = value` per line (comments start with `#`)")
        }
        throw fail("unexpected \(quote(found))")
    }

    // MARK: Table headers

    private mutating func parseTableHeader() throws(SyntaxError) {
        let start = position
        index += 1  // [
        let isArray = peek() == "["
        if isArray { index += 1 }
        skipWhitespace()
        let parts = try parseKey()
        skipWhitespace()
        guard peek() == "]" else {
            throw fail(isArray ? "expected `]]` to close the array-of-tables header" : "expected `]` to close the table header")
        }
        index += 1
        if isArray {
            guard peek() == "]" else { throw fail("expected `]]` to close the array-of-tables header") }
            index += 1
        }
        let path = Self.render(parts.map(\.name))
        let header = isArray ? "[[\(path)]]" : "[\(path)]"
        currentPath = path

        var node = root
        for (i, part) in parts.dropLast().enumerated() {
            switch node.children[part.name] {
            case nil:
                let table = TableNode(origin: .implicit, position: start)
                node.add(part.name, .table(table, start))
                node = table
            case .table(let table, _)?:
                node = table
            case .tableArray(let array, _)?:
                node = array.tables[array.tables.count - 1]
            case .value(let value, let at)?:
                let prefix = Self.render(parts[...i].map(\.name))
                record(start, key: prefix, "cannot define \(header): `\(prefix)` already holds \(Self.valueKind(value)) (line \(at.line))")
                current = TableNode(origin: .header, position: start)
                return
            }
        }
        let last = parts[parts.count - 1]
        let existing = node.children[last.name]
        if isArray {
            switch existing {
            case nil:
                let table = TableNode(origin: .header, position: start)
                node.add(last.name, .tableArray(TableArrayNode(first: table), start))
                current = table
                return
            case .tableArray(let array, _)?:
                let table = TableNode(origin: .header, position: start)
                array.tables.append(table)
                current = table
                return
            case .table(let table, _)?:
                record(start, key: path, "cannot define \(header): `\(path)` is already a table (line \(table.position?.line ?? start.line))")
            case .value(let value, let at)?:
                record(start, key: path, "cannot define \(header): `\(path)` already holds \(Self.valueKind(value)) (line \(at.line))")
            }
        } else {
            switch existing {
            case nil:
                let table = TableNode(origin: .header, position: start)
                node.add(last.name, .table(table, start))
                current = table
                return
            case .table(let table, _)? where table.origin == .implicit:
                table.origin = .header
                table.position = start
                current = table
                return
            case .table(let table, _)? where table.origin == .dotted:
                record(start, key: path, "duplicate table \(header): it was already defined by dotted keys at line \(table.position?.line ?? start.line)")
            case .table(let table, _)?:
                record(start, key: path, "duplicate table \(header) (first defined at line \(table.position?.line ?? start.line))")
            case .tableArray(_, let at)?:
                record(start, key: path, "`\(path)` is an array of tables (line \(at.line)); write [[\(path)]] to add an element")
            case .value(let value, let at)?:
                record(start, key: path, "cannot define \(header): `\(path)` already holds \(Self.valueKind(value)) (line \(at.line))")
            }
        }
        // Keep parsing the section's keys (to find more problems) into a table nobody keeps.
        current = TableNode(origin: .header, position: start)
    }

    // MARK: Keys and values

    private struct KeyPart {
        var name: String
        var position: TOMLPosition
    }

    /// Parses a simple or dotted key.
    private mutating func parseKey() throws(SyntaxError) -> [KeyPart] {
        var parts: [KeyPart] = []
        while true {
            skipWhitespace()
            let start = position
            guard let c = peek() else { throw fail("expected a key") }
            let name: String
            if c == "\"" {
                if peek(1) == "\"" && peek(2) == "\"" { throw fail("a multi-line string cannot be a key") }
                name = try parseBasicString()
            } else if c == "'" {
                if peek(1) == "'" && peek(2) == "'" { throw fail("a multi-line string cannot be a key") }
                name = try parseLiteralString()
            } else if Self.isBareKey(c) {
                var scalars = String.UnicodeScalarView()
                while let k = peek(), Self.isBareKey(k) {
                    scalars.append(k)
                    index += 1
                }
                name = String(scalars)
            } else if c == "\n" || c == "\r" || c == "#" {
                throw fail("expected a key")
            } else {
                throw fail("expected a key, found \(quote(c)); keys are made of A-Z a-z 0-9 _ - or quoted")
            }
            parts.append(KeyPart(name: name, position: start))
            skipWhitespace()
            guard peek() == "." else { return parts }
            index += 1
        }
    }

    private mutating func parseKeyValue(into table: TableNode, path: String) throws(SyntaxError) {
        let parts = try parseKey()
        let keyPath = Self.join(path, Self.render(parts.map(\.name)))
        skipWhitespace()
        guard peek() == "=" else {
            if let c = peek(), c != "\n", c != "\r", c != "#" {
                if Self.isBareKey(c) {
                    throw fail("expected `=` after the key `\(keyPath)`, found \(quote(c)); a key with spaces must be quoted")
                }
                throw fail("expected `=` after the key `\(keyPath)`, found \(quote(c))")
            }
            throw fail("expected `=` after the key `\(keyPath)`")
        }
        index += 1
        skipWhitespace()
        guard let value = try parseValue(path: keyPath) else { return }
        insert(value, at: parts, into: table, path: path)
    }

    /// Adds a key/value to `table`, creating the tables of a dotted key. Problems (duplicates,
    /// extending a table that dotted keys may not extend) are recorded, not thrown: the syntax
    /// is intact, so parsing can go on.
    private mutating func insert(_ value: TOMLValue, at parts: [KeyPart], into table: TableNode, path: String) {
        var node = table
        var keyPath = path
        for part in parts.dropLast() {
            keyPath = Self.join(keyPath, Self.render([part.name]))
            switch node.children[part.name] {
            case nil:
                let child = TableNode(origin: .dotted, position: part.position)
                node.add(part.name, .table(child, part.position))
                node = child
            case .table(let child, _)? where child.origin == .dotted:
                node = child
            case .table(let child, _)?:
                record(part.position, key: keyPath, "dotted keys cannot add to the table `\(keyPath)` defined at line \(child.position?.line ?? part.position.line); write the key in its [\(keyPath)] section")
                return
            case .tableArray(_, let at)?:
                record(part.position, key: keyPath, "`\(keyPath)` is an array of tables (line \(at.line)); dotted keys cannot add to it")
                return
            case .value(.table, let at)?:
                record(part.position, key: keyPath, "`\(keyPath)` is an inline table (line \(at.line)), which cannot be extended")
                return
            case .value(let existing, let at)?:
                record(part.position, key: keyPath, "`\(keyPath)` already holds \(Self.valueKind(existing)) (line \(at.line)); it cannot also be a table")
                return
            }
        }
        let last = parts[parts.count - 1]
        keyPath = Self.join(keyPath, Self.render([last.name]))
        if let existing = node.children[last.name] {
            record(last.position, key: keyPath, "duplicate key (first defined at line \(existing.position.line))")
            return
        }
        node.add(last.name, .value(value, last.position))
    }

    /// Parses a value. Returns nil when the value was consumed but is one this subset does not
    /// take (a date or time): the problem is recorded and parsing goes on.
    private mutating func parseValue(path: String) throws(SyntaxError) -> TOMLValue? {
        let start = position
        guard let c = peek(), c != "\n", c != "\r", c != "#" else {
            throw fail("expected a value after `=`")
        }
        switch c {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" { return .string(try parseMultilineBasicString()) }
            return .string(try parseBasicString())
        case "'":
            if peek(1) == "'" && peek(2) == "'" { return .string(try parseMultilineLiteralString()) }
            return .string(try parseLiteralString())
        case "[":
            return try parseArray(path: path)
        case "{":
            return .table(try parseInlineTable(path: path))
        default:
            break
        }
        guard Self.isTokenScalar(c) else {
            throw fail("expected a value (a string, number, boolean, array or inline table), found \(quote(c))")
        }
        var token = String.UnicodeScalarView()
        while let k = peek(), Self.isTokenScalar(k) {
            token.append(k)
            index += 1
        }
        let word = String(token)
        if Self.looksLikeDateOrTime(word) {
            // Consume the time part of a "date time" written with a space.
            if peek() == " ", let h1 = peek(1), let h2 = peek(2), peek(3) == ":", Self.isDigit(h1), Self.isDigit(h2) {
                index += 1
                while let k = peek(), Self.isTokenScalar(k) { index += 1 }
            }
            record(start, key: path, "dates are not supported here; write the value as a string")
            return nil
        }
        switch word {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if let first = word.unicodeScalars.first, Self.isDigit(first) || first == "+" || first == "-" || first == "." {
            return try parseNumber(word, at: start)
        }
        throw fail("unquoted text `\(word)`; strings must be quoted: \"\(word)\"", at: start)
    }

    private mutating func parseArray(path: String) throws(SyntaxError) -> TOMLValue {
        let start = position
        index += 1  // [
        var items: [TOMLValue] = []
        while true {
            try skipWhitespaceCommentsAndNewlines()
            guard let c = peek() else { throw fail("unterminated array: missing `]`", at: start) }
            if c == "]" {
                index += 1
                return .array(items)
            }
            if let item = try parseValue(path: "\(path)[\(items.count)]") {
                items.append(item)
            }
            try skipWhitespaceCommentsAndNewlines()
            guard let d = peek() else { throw fail("unterminated array: missing `]`", at: start) }
            if d == "," {
                index += 1
            } else if d == "]" {
                index += 1
                return .array(items)
            } else {
                throw fail("expected `,` or `]` in the array, found \(quote(d))")
            }
        }
    }

    private mutating func parseInlineTable(path: String) throws(SyntaxError) -> TOMLTable {
        let start = position
        index += 1  // {
        let node = TableNode(origin: .inline, position: start)
        skipWhitespace()
        if peek() == "}" {
            index += 1
            return node.freeze()
        }
        while true {
            skipWhitespace()
            if peek() == "\n" || peek() == "\r" || atEnd {
                throw fail("an inline table must be written on one line; use a [\(path)] section for longer tables")
            }
            try parseKeyValue(into: node, path: path)
            skipWhitespace()
            guard let c = peek(), c != "\n", c != "\r" else {
                throw fail("an inline table must be written on one line and end with `}`")
            }
            if c == "," {
                index += 1
                skipWhitespace()
                if peek() == "}" { throw fail("a trailing comma is not allowed in an inline table") }
            } else if c == "}" {
                index += 1
                return node.freeze()
            } else {
                throw fail("expected `,` or `}` in the inline table, found \(quote(c))")
            }
        }
    }

    // MARK: Strings

    private mutating func parseBasicString() throws(SyntaxError) -> String {
        let start = position
        index += 1  // "
        var result = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw fail("unterminated string: missing the closing `\"`", at: start) }
            switch c {
            case "\"":
                index += 1
                return String(result)
            case "\\":
                try parseEscape(into: &result)
            case "\n", "\r":
                throw fail("unterminated string: a string in \"quotes\" must end on its line (use \"\"\" for a multi-line string)", at: start)
            default:
                try checkNotControl(c)
                result.append(c)
                index += 1
            }
        }
    }

    private mutating func parseLiteralString() throws(SyntaxError) -> String {
        let start = position
        index += 1  // '
        var result = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw fail("unterminated string: missing the closing `'`", at: start) }
            switch c {
            case "'":
                index += 1
                return String(result)
            case "\n", "\r":
                throw fail("unterminated string: a string in 'quotes' must end on its line (use ''' for a multi-line string)", at: start)
            default:
                try checkNotControl(c)
                result.append(c)
                index += 1
            }
        }
    }

    private mutating func parseMultilineBasicString() throws(SyntaxError) -> String {
        let start = position
        index += 3
        _ = try consumeNewline()  // a newline right after the opening delimiter is trimmed
        var result = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw fail("unterminated string: missing the closing `\"\"\"`", at: start) }
            switch c {
            case "\"":
                if try closeMultiline(quote: "\"", into: &result) { return String(result) }
            case "\\":
                if isLineEndingBackslash() {
                    index += 1
                    while true {
                        skipWhitespace()
                        if try !consumeNewline() { break }
                    }
                } else {
                    try parseEscape(into: &result)
                }
            case "\n", "\r":
                _ = try consumeNewline()
                result.append("\n")
            default:
                try checkNotControl(c)
                result.append(c)
                index += 1
            }
        }
    }

    private mutating func parseMultilineLiteralString() throws(SyntaxError) -> String {
        let start = position
        index += 3
        _ = try consumeNewline()
        var result = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw fail("unterminated string: missing the closing `'''`", at: start) }
            switch c {
            case "'":
                if try closeMultiline(quote: "'", into: &result) { return String(result) }
            case "\n", "\r":
                _ = try consumeNewline()
                result.append("\n")
            default:
                try checkNotControl(c)
                result.append(c)
                index += 1
            }
        }
    }

    /// At a run of quote characters inside a multi-line string: three or more close it (up to two
    /// more belong to the content); fewer are content. Returns true when the string is closed.
    private mutating func closeMultiline(quote q: Unicode.Scalar, into result: inout String.UnicodeScalarView) throws(SyntaxError) -> Bool {
        var count = 0
        while peek(count) == q { count += 1 }
        if count > 5 { throw fail("too many quotes in a row: at most five may end a multi-line string") }
        let content = count >= 3 ? count - 3 : count
        for _ in 0..<content { result.append(q) }
        index += count
        return count >= 3
    }

    /// A backslash followed by optional whitespace and a newline (it trims the line break and the
    /// whitespace after it).
    private func isLineEndingBackslash() -> Bool {
        var offset = 1
        while let c = peek(offset), c == " " || c == "\t" { offset += 1 }
        return peek(offset) == "\n" || (peek(offset) == "\r" && peek(offset + 1) == "\n")
    }

    private mutating func parseEscape(into result: inout String.UnicodeScalarView) throws(SyntaxError) {
        let start = position
        index += 1  // backslash
        guard let c = peek() else { throw fail("unterminated string: missing the closing quote", at: start) }
        index += 1
        switch c {
        case "b": result.append("\u{08}")
        case "t": result.append("\t")
        case "n": result.append("\n")
        case "f": result.append("\u{0C}")
        case "r": result.append("\r")
        case "\"": result.append("\"")
        case "\\": result.append("\\")
        case "u", "U":
            let length = c == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<length {
                guard let h = peek(), h.properties.isASCIIHexDigit else {
                    throw fail("`\\\(c)` needs exactly \(length) hex digits", at: start)
                }
                hex.unicodeScalars.append(h)
                index += 1
            }
            guard let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                throw fail("`\\\(c)\(hex)` is not a Unicode scalar value", at: start)
            }
            result.append(scalar)
        default:
            throw fail("invalid escape `\\\(Self.printable(c))`; valid escapes are \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX", at: start)
        }
    }

    private func checkNotControl(_ c: Unicode.Scalar) throws(SyntaxError) {
        if (c.value < 0x20 && c != "\t") || c.value == 0x7F {
            throw fail("control character \(Self.hexCode(c)) is not allowed here; write it as an escape such as \\u\(String(format4: c.value))")
        }
    }

    // MARK: Numbers

    private func parseNumber(_ word: String, at start: TOMLPosition) throws(SyntaxError) -> TOMLValue {
        let prefixes: [(String, Int, String)] = [("0x", 16, "hex"), ("0o", 8, "octal"), ("0b", 2, "binary")]
        for (prefix, radix, name) in prefixes where word.hasPrefix(prefix) {
            let digits = String(word.dropFirst(2))
            guard Self.validDigitGroups(digits, radix: radix) else {
                throw fail("invalid \(name) integer `\(word)`", at: start)
            }
            guard let magnitude = UInt64(digits.replacingUnderscores(), radix: radix), magnitude <= UInt64(Int64.max) else {
                throw fail("integer `\(word)` does not fit in 64 bits", at: start)
            }
            return .integer(Int64(magnitude))
        }
        var body = Substring(word)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        if body.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            return .float(try parseFloat(word, body: body, at: start))
        }
        guard Self.validDigitGroups(String(body), radix: 10) else {
            let onlyDigitsAndUnderscores = body.unicodeScalars.allSatisfy { Self.isDigit($0) || $0 == "_" }
            throw fail(onlyDigitsAndUnderscores ? "invalid number `\(word)`: an underscore must sit between two digits" : "invalid number `\(word)`", at: start)
        }
        guard body.count == 1 || body.first != "0" else {
            throw fail("invalid number `\(word)`: leading zeros are not allowed", at: start)
        }
        guard let value = Int64(word.replacingUnderscores()) else {
            throw fail("integer `\(word)` does not fit in 64 bits", at: start)
        }
        return .integer(value)
    }

    private func parseFloat(_ word: String, body: Substring, at start: TOMLPosition) throws(SyntaxError) -> Double {
        var mantissa = body
        var exponent: Substring?
        if let e = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = body[..<e]
            exponent = body[body.index(after: e)...]
        }
        var integerPart = mantissa
        var fraction: Substring?
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fraction = mantissa[mantissa.index(after: dot)...]
        }
        guard Self.validDigitGroups(String(integerPart), radix: 10) else {
            throw fail("invalid number `\(word)`", at: start)
        }
        guard integerPart.count == 1 || integerPart.first != "0" else {
            throw fail("invalid number `\(word)`: leading zeros are not allowed", at: start)
        }
        if let fraction, !Self.validDigitGroups(String(fraction), radix: 10) {
            throw fail("invalid number `\(word)`: a decimal point must have digits on both sides", at: start)
        }
        if var exponent {
            if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
            guard Self.validDigitGroups(String(exponent), radix: 10) else {
                throw fail("invalid number `\(word)`: the exponent needs digits", at: start)
            }
        }
        guard let value = Double(word.replacingUnderscores()) else {
            throw fail("invalid number `\(word)`", at: start)
        }
        return value
    }

    /// Digits of `radix`, optionally separated by single underscores between two digits.
    private static func validDigitGroups(_ text: String, radix: Int) -> Bool {
        var previousWasDigit = false
        for c in text.unicodeScalars {
            if c == "_" {
                guard previousWasDigit else { return false }
                previousWasDigit = false
            } else if let digit = Int(String(c), radix: radix), digit >= 0 {
                previousWasDigit = true
            } else {
                return false
            }
        }
        return previousWasDigit
    }

    private static func looksLikeDateOrTime(_ word: String) -> Bool {
        let s = Array(word.unicodeScalars)
        let isDate = s.count >= 5 && s[0..<4].allSatisfy(isDigit) && s[4] == "-"
        let isTime = s.count >= 3 && isDigit(s[0]) && isDigit(s[1]) && s[2] == ":"
        return isDate || isTime
    }

    // MARK: Whitespace, comments, newlines

    private var atEnd: Bool { index >= text.count }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let i = index + offset
        return i < text.count ? text[i] : nil
    }

    private var position: TOMLPosition {
        TOMLPosition(line: line, column: index - lineStart + 1)
    }

    private mutating func skipWhitespace() {
        while let c = peek(), c == " " || c == "\t" { index += 1 }
    }

    private mutating func skipComment() throws(SyntaxError) {
        guard peek() == "#" else { return }
        index += 1
        while let c = peek(), c != "\n" {
            if c == "\r" && peek(1) == "\n" { return }
            try checkNotControl(c)
            index += 1
        }
    }

    /// Consumes `\n` or `\r\n`. A carriage return on its own is an error.
    private mutating func consumeNewline() throws(SyntaxError) -> Bool {
        if peek() == "\n" {
            index += 1
        } else if peek() == "\r" {
            guard peek(1) == "\n" else { throw fail("a carriage return must be followed by a line feed") }
            index += 2
        } else {
            return false
        }
        line += 1
        lineStart = index
        return true
    }

    private mutating func skipWhitespaceCommentsAndNewlines() throws(SyntaxError) {
        while true {
            skipWhitespace()
            try skipComment()
            if try !consumeNewline() { return }
        }
    }

    // MARK: Errors

    private func fail(_ message: String, at where: TOMLPosition? = nil) -> SyntaxError {
        SyntaxError(error: TOMLError(position: `where` ?? position, key: nil, message: message))
    }

    private mutating func record(_ at: TOMLPosition, key: String?, _ message: String) {
        errors.append(TOMLError(position: at, key: key, message: message))
    }

    private func quote(_ c: Unicode.Scalar) -> String {
        "`\(Self.printable(c))`"
    }

    private static func printable(_ c: Unicode.Scalar) -> String {
        (c.value < 0x20 || c.value == 0x7F) ? hexCode(c) : String(c)
    }

    private static func hexCode(_ c: Unicode.Scalar) -> String {
        "U+" + String(format4: c.value)
    }

    // MARK: Character classes and key rendering

    static func isBareKey(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }

    private static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

    /// Scalars that may appear in a bare value token (numbers, booleans, dates, and bare words
    /// that should have been quoted).
    private static func isTokenScalar(_ c: Unicode.Scalar) -> Bool {
        isBareKey(c) || c == "+" || c == "." || c == ":"
    }

    private static func valueKind(_ value: TOMLValue) -> String {
        if case .table = value { return "an inline table" }
        return value.typeDescription
    }

    /// Renders key parts as a dotted key, quoting the parts that are not bare.
    static func render(_ parts: [String]) -> String {
        parts.map { part in
            if !part.isEmpty && part.unicodeScalars.allSatisfy(isBareKey) { return part }
            return TOMLWriter.quoted(part)
        }.joined(separator: ".")
    }

    private static func join(_ prefix: String, _ suffix: String) -> String {
        prefix.isEmpty ? suffix : "\(prefix).\(suffix)"
    }
}

// MARK: - The tree built while parsing

/// Mutable while the document is read; frozen into `TOMLTable` values at the end.
private final class TableNode {
    enum Origin {
        case root
        /// Created as the parent of a header (`[a]` for `[a.b]`); a later `[a]` may define it.
        case implicit
        /// Defined by a `[header]` or `[[header]]`.
        case header
        /// Created by a dotted key; only more dotted keys may add to it.
        case dotted
        /// An inline table: complete as written.
        case inline
    }

    enum Child {
        case table(TableNode, TOMLPosition)
        case tableArray(TableArrayNode, TOMLPosition)
        case value(TOMLValue, TOMLPosition)

        var position: TOMLPosition {
            switch self {
            case .table(_, let p), .tableArray(_, let p), .value(_, let p): p
            }
        }
    }

    var origin: Origin
    var position: TOMLPosition?
    private(set) var keys: [String] = []
    private(set) var children: [String: Child] = [:]

    init(origin: Origin, position: TOMLPosition?) {
        self.origin = origin
        self.position = position
    }

    func add(_ key: String, _ child: Child) {
        keys.append(key)
        children[key] = child
    }

    func freeze() -> TOMLTable {
        var table = TOMLTable(position: position)
        for key in keys {
            guard let child = children[key] else { continue }
            switch child {
            case .table(let node, let at):
                table.set(key, TOMLEntry(value: .table(node.freeze()), position: at))
            case .tableArray(let array, let at):
                table.set(key, TOMLEntry(value: .array(array.tables.map { .table($0.freeze()) }), position: at))
            case .value(let value, let at):
                table.set(key, TOMLEntry(value: value, position: at))
            }
        }
        return table
    }
}

private final class TableArrayNode {
    var tables: [TableNode]

    init(first: TableNode) {
        tables = [first]
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(unicodeScalars.filter { $0 != "_" })
    }

    /// Four or more upper-case hex digits.
    fileprivate init(format4 value: UInt32) {
        let hex = String(value, radix: 16, uppercase: true)
        self = String(repeating: "0", count: Swift.max(0, 4 - hex.count)) + hex
    }
}
