import Testing

@testable import StationConfig

/// Parses `text`, returning the root table, or records the failure.
private func parse(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> TOMLTable? {
    do {
        return try TOMLParser.parse(text)
    } catch {
        Issue.record("unexpected parse failure: \(error.errors)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The problems found in `text`, as "line:column: key: message" (empty when it parses).
private func problems(_ text: String) -> [String] {
    do {
        _ = try TOMLParser.parse(text)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

/// The value at a dotted path of plain keys (no quoting) in `table`.
private func value(_ table: TOMLTable?, _ path: String) -> TOMLValue? {
    var current = table
    var result: TOMLValue?
    for key in path.split(separator: ".") {
        guard let entry = current?[String(key)] else { return nil }
        result = entry.value
        if case .table(let next) = entry.value { current = next } else { current = nil }
    }
    return result
}

@Suite("TOML parser: values")
struct TOMLValueTests {
    @Test func basicStringEscapes() {
        let root = parse(#"s = "tab\tnl\ncr\rbs\bff\fquote\"back\\e\u00E9smile\U0001F600""#)
        #expect(value(root, "s") == .string("tab\tnl\ncr\rbs\u{08}ff\u{0C}quote\"back\\eésmile😀"))
    }

    @Test func basicStringKeepsUnicodeAndTabs() {
        let root = parse("s = \"和平路\tstation\"")
        #expect(value(root, "s") == .string("和平路\tstation"))
    }

    @Test func literalStringsTakeBackslashesAsIs() {
        let root = parse(#"path = 'C:\Users\agent\n'"#)
        #expect(value(root, "path") == .string(#"C:\Users\agent\n"#))
    }

    @Test func multilineBasicString() {
        let text = "s = \"\"\"\nRoses are red\n  Violets \\\n     are blue\"\"\"\n"
        #expect(value(parse(text), "s") == .string("Roses are red\n  Violets are blue"))
    }

    @Test func multilineStringsMayEndWithQuotes() {
        #expect(value(parse(#"s = """say "hi"""""#), "s") == .string(#"say "hi""#))
        #expect(value(parse(#"s = """two ""quotes"" inside""""#), "s") == .string(#"two ""quotes"" inside"#))
        #expect(value(parse("s = '''it's ''fine'''''"), "s") == .string("it's ''fine''"))
    }

    @Test func multilineLiteralString() {
        let text = "s = '''\nfirst\\n line\n  second'''\n"
        #expect(value(parse(text), "s") == .string("first\\n line\n  second"))
    }

    @Test func crlfInsideMultilineStringBecomesLineFeed() {
        #expect(value(parse("s = \"\"\"a\r\nb\"\"\"\r\n"), "s") == .string("a\nb"))
    }

    @Test func decimalIntegers() {
        let root = parse("a = 0\nb = +17\nc = -17\nd = 1_000_000\ne = 9223372036854775807\nf = -9223372036854775808\ng = -0")
        #expect(value(root, "a") == .integer(0))
        #expect(value(root, "b") == .integer(17))
        #expect(value(root, "c") == .integer(-17))
        #expect(value(root, "d") == .integer(1_000_000))
        #expect(value(root, "e") == .integer(Int64.max))
        #expect(value(root, "f") == .integer(Int64.min))
        #expect(value(root, "g") == .integer(0))
    }

    @Test func prefixedIntegers() {
        let root = parse("h = 0xDEADbeef\ni = 0xdead_beef\no = 0o755\nb = 0b1101_0110\nz = 0x0")
        #expect(value(root, "h") == .integer(0xDEAD_BEEF))
        #expect(value(root, "i") == .integer(0xDEAD_BEEF))
        #expect(value(root, "o") == .integer(0o755))
        #expect(value(root, "b") == .integer(0b1101_0110))
        #expect(value(root, "z") == .integer(0))
    }

    @Test func floats() {
        let root = parse("""
            a = 3.1415
            b = -0.01
            c = 5e+22
            d = 1e06
            e = -2E-2
            f = 6.626e-34
            g = 224_617.445_991
            h = inf
            i = -inf
            j = +inf
            k = 0.0
            """)
        #expect(value(root, "a") == .float(3.1415))
        #expect(value(root, "b") == .float(-0.01))
        #expect(value(root, "c") == .float(5e22))
        #expect(value(root, "d") == .float(1e6))
        #expect(value(root, "e") == .float(-0.02))
        #expect(value(root, "f") == .float(6.626e-34))
        #expect(value(root, "g") == .float(224_617.445_991))
        #expect(value(root, "h") == .float(.infinity))
        #expect(value(root, "i") == .float(-.infinity))
        #expect(value(root, "j") == .float(.infinity))
        #expect(value(root, "k") == .float(0))
    }

    @Test func nan() {
        for text in ["x = nan", "x = +nan", "x = -nan"] {
            guard case .float(let v)? = value(parse(text), "x") else {
                Issue.record("\(text) is not a float")
                continue
            }
            #expect(v.isNaN)
        }
    }

    @Test func booleans() {
        let root = parse("t = true\nf = false")
        #expect(value(root, "t") == .boolean(true))
        #expect(value(root, "f") == .boolean(false))
    }

    @Test func arrays() {
        let root = parse("""
            empty = []
            ints = [1, 2, 3]
            nested = [[1, 2], ["a", 'b'], []]
            mixed = [1, "two", 3.0, true, { x = 1 }]
            multi = [
              "one",   # a comment
              # another
              "two",
            ]
            """)
        #expect(value(root, "empty") == .array([]))
        #expect(value(root, "ints") == .array([.integer(1), .integer(2), .integer(3)]))
        #expect(value(root, "nested") == .array([.array([.integer(1), .integer(2)]), .array([.string("a"), .string("b")]), .array([])]))
        guard case .array(let mixed)? = value(root, "mixed") else {
            Issue.record("mixed is not an array")
            return
        }
        #expect(mixed.count == 5)
        #expect(mixed[0...3] == [.integer(1), .string("two"), .float(3), .boolean(true)])
        guard case .table(let inline) = mixed[4] else {
            Issue.record("the last element is not a table")
            return
        }
        #expect(inline["x"]?.value == .integer(1))
        #expect(value(root, "multi") == .array([.string("one"), .string("two")]))
    }

    @Test func inlineTables() {
        let root = parse(#"point = { x = 1, y = -2, label.text = "origin", "quoted key" = true, inner = { z = 3 } }"#)
        #expect(value(root, "point.x") == .integer(1))
        #expect(value(root, "point.y") == .integer(-2))
        #expect(value(root, "point.label.text") == .string("origin"))
        #expect(value(root, "point.quoted key") == .boolean(true))
        #expect(value(root, "point.inner.z") == .integer(3))
        #expect(value(parse("e = {}"), "e") == .table(TOMLTable(position: TOMLPosition(line: 1, column: 5))))
    }
}

@Suite("TOML parser: keys and tables")
struct TOMLStructureTests {
    @Test func keysBareQuotedAndDotted() {
        let root = parse("""
            bare_key-1 = 1
            "quoted key" = 2
            'literal "key"' = 3
            "" = 4
            a.b.c = 5
            site . "google.com" = 6
            1234 = 7
            """)
        #expect(value(root, "bare_key-1") == .integer(1))
        #expect(value(root, "quoted key") == .integer(2))
        #expect(root?[#"literal "key""#]?.value == .integer(3))
        #expect(root?[""]?.value == .integer(4))
        #expect(value(root, "a.b.c") == .integer(5))
        guard case .table(let site)? = root?["site"]?.value else {
            Issue.record("site is not a table")
            return
        }
        #expect(site["google.com"]?.value == .integer(6))
        #expect(value(root, "1234") == .integer(7))
    }

    @Test func keysKeepDocumentOrder() {
        let root = parse("z = 1\na = 2\nm = 3\n[b]\n[c]")
        #expect(root?.keys == ["z", "a", "m", "b", "c"])
    }

    @Test func tablesAndSubtables() {
        let root = parse("""
            [station]
            id = "ST-1"
            [station.location]
            grid = "G7"
            [ platform . tls ]
            ca = "x"
            """)
        #expect(value(root, "station.id") == .string("ST-1"))
        #expect(value(root, "station.location.grid") == .string("G7"))
        #expect(value(root, "platform.tls.ca") == .string("x"))
    }

    @Test func implicitTableMayBeDefinedLater() {
        let root = parse("[a.b.c]\nx = 1\n[a]\ny = 2\n[a.b]\nz = 3")
        #expect(value(root, "a.b.c.x") == .integer(1))
        #expect(value(root, "a.y") == .integer(2))
        #expect(value(root, "a.b.z") == .integer(3))
        guard case .table(let b)? = value(root, "a.b") else {
            Issue.record("a.b is not a table")
            return
        }
        #expect(b.position == TOMLPosition(line: 5, column: 1))
    }

    @Test func subtableUnderDottedKeys() {
        let root = parse("[fruit]\napple.color = \"red\"\n[fruit.apple.texture]\nsmooth = true")
        #expect(value(root, "fruit.apple.color") == .string("red"))
        #expect(value(root, "fruit.apple.texture.smooth") == .boolean(true))
    }

    @Test func arraysOfTables() {
        let root = parse("""
            [[device]]
            name = "a"
            [device.extra]
            k = 1

            [[device]]
            name = "b"
            [[device.port]]
            p = 1
            [[device.port]]
            p = 2
            """)
        guard case .array(let devices)? = value(root, "device") else {
            Issue.record("device is not an array")
            return
        }
        #expect(devices.count == 2)
        guard case .table(let first) = devices[0], case .table(let second) = devices[1] else {
            Issue.record("devices are not tables")
            return
        }
        #expect(first["name"]?.value == .string("a"))
        #expect(value(first, "extra.k") == .integer(1))
        #expect(second["name"]?.value == .string("b"))
        #expect(first.position == TOMLPosition(line: 1, column: 1))
        #expect(second.position == TOMLPosition(line: 6, column: 1))
        guard case .array(let ports)? = second["port"]?.value else {
            Issue.record("device[1].port is not an array")
            return
        }
        #expect(ports.count == 2)
    }

    @Test func positionsOfKeysAndHeaders() {
        let root = parse("# header comment\n\n[platform]   # comment\n  url = \"x\"\n\ttimeout_ms=5\nsub.key = 1\n")
        guard case .table(let platform)? = value(root, "platform") else {
            Issue.record("platform is not a table")
            return
        }
        #expect(root?["platform"]?.position == TOMLPosition(line: 3, column: 1))
        #expect(platform.position == TOMLPosition(line: 3, column: 1))
        #expect(platform["url"]?.position == TOMLPosition(line: 4, column: 3))
        #expect(platform["timeout_ms"]?.position == TOMLPosition(line: 5, column: 2))
        // A dotted key: the table is where its first part was written, the value where its last was.
        #expect(platform["sub"]?.position == TOMLPosition(line: 6, column: 1))
        guard case .table(let sub)? = platform["sub"]?.value else {
            Issue.record("sub is not a table")
            return
        }
        #expect(sub.position == TOMLPosition(line: 6, column: 1))
        #expect(sub["key"]?.position == TOMLPosition(line: 6, column: 5))
    }

    @Test func linesCountAcrossMultilineValuesAndCRLF() {
        let root = parse("a = [\r\n  1,\r\n  2,\r\n]\r\ns = \"\"\"\r\nx\r\ny\"\"\"\r\nb = 1\r\n")
        #expect(root?["b"]?.position == TOMLPosition(line: 8, column: 1))
    }

    @Test func commentsAndBlankLinesAnywhere() {
        let root = parse("\u{FEFF}# only comments\n\n   \t\n[t] # c\nk = 1 # c\n# end")
        #expect(value(root, "t.k") == .integer(1))
    }

    @Test func emptyDocument() {
        #expect(parse("")?.keys == [])
        #expect(parse("\n# nothing\n")?.keys == [])
    }
}

@Suite("TOML parser: errors")
struct TOMLErrorTests {
    @Test func duplicateKeys() {
        #expect(problems("a = 1\nb = 2\na = 3") == ["3:1: a: duplicate key (first defined at line 1)"])
        #expect(problems("[t]\nx.y = 1\nx.y = 2") == ["3:3: t.x.y: duplicate key (first defined at line 2)"])
        #expect(problems("p = { a = 1, a = 2 }") == ["1:14: p.a: duplicate key (first defined at line 1)"])
    }

    @Test func duplicateTables() {
        #expect(problems("[a]\nx = 1\n[b]\n[a]\ny = 2") == ["4:1: a: duplicate table [a] (first defined at line 1)"])
        #expect(problems("[a]\nb.c = 1\n[a.b]") == ["3:1: a.b: duplicate table [a.b]: it was already defined by dotted keys at line 2"])
        #expect(problems("[[a]]\n[a]") == ["2:1: a: `a` is an array of tables (line 1); write [[a]] to add an element"])
        #expect(problems("[a]\n[[a]]") == ["2:1: a: cannot define [[a]]: `a` is already a table (line 1)"])
        #expect(problems("a = [1]\n[[a]]") == ["2:1: a: cannot define [[a]]: `a` already holds an array (line 1)"])
        #expect(problems("a = 1\n[a.b]") == ["2:1: a: cannot define [a.b]: `a` already holds an integer (line 1)"])
    }

    @Test func tablesThatCannotBeExtended() {
        #expect(problems("a = { x = 1 }\na.y = 2") == ["2:1: a: `a` is an inline table (line 1), which cannot be extended"])
        #expect(problems("a = { x = 1 }\n[a]") == ["2:1: a: cannot define [a]: `a` already holds an inline table (line 1)"])
        #expect(problems("[a.b]\nz = 9\n[a]\nb.t = 1") == ["4:1: a.b: dotted keys cannot add to the table `a.b` defined at line 1; write the key in its [a.b] section"])
        #expect(problems("a = 1\na.b = 2") == ["2:1: a: `a` already holds an integer (line 1); it cannot also be a table"])
    }

    @Test func problemsThatKeepTheSyntaxIntactAreAllCollected() {
        let text = "a = 1\na = 2\nd = 1979-05-27\n[t]\n[t]\nx = 07:32:00"
        #expect(problems(text) == [
            "2:1: a: duplicate key (first defined at line 1)",
            "3:5: d: dates are not supported here; write the value as a string",
            "5:1: t: duplicate table [t] (first defined at line 4)",
            "6:5: t.x: dates are not supported here; write the value as a string",
        ])
    }

    @Test func datesAndTimesOfEveryForm() {
        for date in ["1979-05-27", "1979-05-27T07:32:00Z", "1979-05-27T00:32:00.999999-07:00", "1979-05-27 07:32:00", "07:32:00", "1979-05-27T07:32:00"] {
            #expect(problems("when = \(date)\nnext = 1") == ["1:8: when: dates are not supported here; write the value as a string"], "\(date)")
        }
        #expect(problems("list = [1, 2024-01-01]") == ["1:12: list[1]: dates are not supported here; write the value as a string"])
    }

    @Test func syntaxErrorsStopParsingWithLineAndColumn() {
        let cases: [(String, String)] = [
            ("a = \"unterminated\nb = 1", "1:5: unterminated string: a string in \"quotes\" must end on its line (use \"\"\" for a multi-line string)"),
            ("a = 'open", "1:5: unterminated string: missing the closing `'`"),
            ("s = \"\"\"never closed\n", "1:5: unterminated string: missing the closing `\"\"\"`"),
            ("x = 1\nkey value", "2:5: expected `=` after the key `key`, found `v`; a key with spaces must be quoted"),
            ("[t]\nkey", "2:4: expected `=` after the key `t.key`"),
            ("key =", "1:6: expected a value after `=`"),
            ("key = # nothing", "1:7: expected a value after `=`"),
            ("level = info", "1:9: unquoted text `info`; strings must be quoted: \"info\""),
            ("a = 1 2", "1:7: unexpected `2` after the value; write one `key = value` per line (comments start with `#`)"),
            ("a = \"x\" b = 1", "1:9: unexpected `b` after the value; write one `key = value` per line (comments start with `#`)"),
            ("[table", "1:7: expected `]` to close the table header"),
            ("[[array]", "1:9: expected `]]` to close the array-of-tables header"),
            ("[t] x = 1", "1:5: unexpected `x` after the table header; write one `key = value` per line (comments start with `#`)"),
            ("= 1", "1:1: expected a key, found `=`; keys are made of A-Z a-z 0-9 _ - or quoted"),
            ("a.= 1", "1:3: expected a key, found `=`; keys are made of A-Z a-z 0-9 _ - or quoted"),
            ("a = [1, 2", "1:5: unterminated array: missing `]`"),
            ("a = [1 2]", "1:8: expected `,` or `]` in the array, found `2`"),
            ("a = [,]", "1:6: expected a value (a string, number, boolean, array or inline table), found `,`"),
            ("a = { x = 1, }", "1:14: a trailing comma is not allowed in an inline table"),
            ("a = { x = 1\n}", "1:12: an inline table must be written on one line and end with `}`"),
            ("a = {\nx = 1 }", "1:6: an inline table must be written on one line; use a [a] section for longer tables"),
            ("a = { x = 1; y = 2 }", "1:12: expected `,` or `}` in the inline table, found `;`"),
            ("s = \"bad \\q escape\"", "1:10: invalid escape `\\q`; valid escapes are \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX"),
            ("s = \"\\u12\"", "1:6: `\\u` needs exactly 4 hex digits"),
            ("s = \"\\uD800\"", "1:6: `\\uD800` is not a Unicode scalar value"),
            ("s = \"\\U00110000\"", "1:6: `\\U00110000` is not a Unicode scalar value"),
            ("s = \"bell\u{07}\"", "1:10: control character U+0007 is not allowed here; write it as an escape such as \\u0007"),
            ("# comment with \u{00} nul", "1:16: control character U+0000 is not allowed here; write it as an escape such as \\u0000"),
            ("a = 1\rb = 2", "1:6: a carriage return must be followed by a line feed"),
            ("\"\"\"key\"\"\" = 1", "1:1: a multi-line string cannot be a key"),
            ("s = \"\"\"\"\"\"\"\"\"", "1:8: too many quotes in a row: at most five may end a multi-line string"),
        ]
        for (text, expected) in cases {
            #expect(problems(text) == [expected], "\(text.debugDescription)")
        }
    }

    @Test func invalidNumbers() {
        let cases: [(String, String)] = [
            ("012", "invalid number `012`: leading zeros are not allowed"),
            ("1__0", "invalid number `1__0`: an underscore must sit between two digits"),
            ("_1", "unquoted text `_1`; strings must be quoted: \"_1\""),
            ("1_", "invalid number `1_`: an underscore must sit between two digits"),
            ("0x", "invalid hex integer `0x`"),
            ("0xG1", "invalid hex integer `0xG1`"),
            ("0o8", "invalid octal integer `0o8`"),
            ("0b2", "invalid binary integer `0b2`"),
            ("+0x10", "invalid number `+0x10`"),
            ("9223372036854775808", "integer `9223372036854775808` does not fit in 64 bits"),
            ("-9223372036854775809", "integer `-9223372036854775809` does not fit in 64 bits"),
            ("0x8000000000000000", "integer `0x8000000000000000` does not fit in 64 bits"),
            ("1.", "invalid number `1.`: a decimal point must have digits on both sides"),
            (".5", "invalid number `.5`"),
            ("1e", "invalid number `1e`: the exponent needs digits"),
            ("01.5", "invalid number `01.5`: leading zeros are not allowed"),
            ("1.5.5", "invalid number `1.5.5`: a decimal point must have digits on both sides"),
            ("5000ms", "invalid number `5000ms`"),
            ("5_000ms", "invalid number `5_000ms`"),
            ("True", "unquoted text `True`; strings must be quoted: \"True\""),
        ]
        for (literal, message) in cases {
            #expect(problems("n = \(literal)") == ["1:5: \(message)"], "\(literal)")
        }
    }

    @Test func errorsAfterASyntaxErrorAreNotReported() {
        // Parsing stops at the first syntax error; problems collected before it are kept.
        #expect(problems("a = 1\na = 2\nb = \nc = 1\nc = 2") == [
            "2:1: a: duplicate key (first defined at line 1)",
            "3:5: expected a value after `=`",
        ])
    }
}

@Suite("TOML parser: robustness")
struct TOMLRobustnessTests {
    /// Checks that every problem reported for `text` points inside it.
    private func checkPositions(_ text: String) -> Bool {
        do {
            _ = try TOMLParser.parse(text)
            return true
        } catch {
            let lines = text.unicodeScalars.filter { $0 == "\n" }.count + 1
            return !error.errors.isEmpty && error.errors.allSatisfy { $0.position.line >= 1 && $0.position.line <= lines && $0.position.column >= 1 }
        }
    }

    /// Every one-character deletion, and insertions of characters that matter to TOML at every
    /// position, of a realistic file: no crash, and every problem points inside the text.
    @Test func everySingleCharacterMutationOfAFullFile() {
        let scalars = Array(fullExample.unicodeScalars)
        let inserted: [Unicode.Scalar] = ["\"", "'", "[", "{", "=", "\n", "\\", "\r"]
        var checked = 0
        var failures: [String] = []
        for i in 0...scalars.count {
            if i < scalars.count {
                var deleted = scalars
                deleted.remove(at: i)
                if !checkPositions(String(String.UnicodeScalarView(deleted))) { failures.append("deleting at \(i)") }
                checked += 1
            }
            for c in inserted {
                var mutated = scalars
                mutated.insert(c, at: i)
                if !checkPositions(String(String.UnicodeScalarView(mutated))) { failures.append("inserting \(c.escaped(asASCII: true)) at \(i)") }
                checked += 1
            }
        }
        #expect(failures == [])
        #expect(checked == scalars.count + (scalars.count + 1) * inserted.count)
    }

    /// Pseudo-random documents from TOML's building blocks (a fixed seed, so runs repeat).
    @Test func randomTokenSoup() {
        let pieces = ["a", "b.c", "\"q\"", "'l'", " = ", "=", "1", "-0x1F", "1e5", "[", "]", "[[", "]]", "{", "}", ",", "\n", "\r\n", "#c",
                      "\"\"\"", "'''", "\\", "\\u00e9", "true", "2024-01-01", "07:00", " ", "\t", "inf", "_", "."]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        for _ in 0..<3000 {
            let count = next() % 24
            let text = (0..<count).map { _ in pieces[next() % pieces.count] }.joined()
            #expect(checkPositions(text), "\(text.debugDescription)")
        }
    }
}
