import DeviceProtocols
import EventModel
import Foundation
import Testing

@testable import StationConfig

/// A fresh temporary directory, removed when `body` returns.
private func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("station-config-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try body(path)
}

private func loadIssues(_ path: String) -> [String] {
    do {
        _ = try ConfigLoader.load(path: path)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

@Suite("Loader: files")
struct LoaderFileTests {
    @Test func loadsAFileAndResolvesPathsAgainstItsDirectory() throws {
        try withTemporaryDirectory { dir in
            let file = dir + "/station.toml"
            let text = "[station]\nid = \"S\"\nstate_dir = \"var\"\n[platform]\nurl = \"https://p.example\"\ntoken_file = \"token\""
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let loaded = try ConfigLoader.load(path: file)
            #expect(loaded.file == file)
            #expect(loaded.station.stateDirectory == PathResolver.normalize(dir + "/var"))
            #expect(loaded.platform.credential == .tokenFile(PathResolver.normalize(dir + "/token")))
        }
    }

    @Test func missingFileIsNamed() {
        #expect(loadIssues("/nonexistent/dir/station.toml") == [
            "/nonexistent/dir/station.toml: cannot read the configuration file: no such file; check the path",
        ])
    }

    @Test func directoryIsRefused() throws {
        try withTemporaryDirectory { dir in
            #expect(loadIssues(dir) == ["\(dir): cannot read the configuration file: it is a directory; name the file itself"])
        }
    }

    @Test func invalidUTF8IsReportedWithItsLine() throws {
        try withTemporaryDirectory { dir in
            let file = dir + "/bad.toml"
            var bytes = Array("[station]\nid = \"S\"\nname = \"".utf8)
            bytes += [0xC3, 0x28]  // an invalid two-byte sequence
            bytes += Array("\"\n".utf8)
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            #expect(loadIssues(file) == ["\(file):3: the configuration file is not valid UTF-8 text; save it as UTF-8"])
        }
    }

    @Test func problemsInALoadedFileNameIt() throws {
        try withTemporaryDirectory { dir in
            let file = dir + "/station.toml"
            try (minimalHead + "\nbatch_size = 0").write(toFile: file, atomically: true, encoding: .utf8)
            #expect(loadIssues(file) == ["\(file):5: platform.batch_size: expected an integer from 1 to 1000; got 0"])
        }
    }

    @Test func bearerTokenFromAFile() throws {
        try withTemporaryDirectory { dir in
            let tokenFile = dir + "/token"
            try "  tok-123\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            #expect(chmod(tokenFile, 0o600) == 0)
            #expect(try StationConfiguration.Credential.tokenFile(tokenFile).bearerToken() == "tok-123")
            #expect(try StationConfiguration.Credential.token(.init("inline")).bearerToken() == "inline")

            try "\n \n".write(toFile: tokenFile, atomically: true, encoding: .utf8)

            #expect(chmod(tokenFile, 0o600) == 0)
            #expect(throws: ConfigError(issues: [ConfigIssue(file: tokenFile, key: "platform.token_file", message: "the token file is empty; write the platform's bearer token in it")])) {
                try StationConfiguration.Credential.tokenFile(tokenFile).bearerToken()
            }
            try "one\ntwo\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            #expect(chmod(tokenFile, 0o600) == 0)
            #expect(throws: ConfigError(issues: [ConfigIssue(file: tokenFile, key: "platform.token_file", message: "the token file has more than one line; write only the bearer token in it")])) {
                try StationConfiguration.Credential.tokenFile(tokenFile).bearerToken()
            }
            let missing = dir + "/absent"
            #expect(throws: ConfigError(issues: [ConfigIssue(
                file: missing, key: "platform.token_file",
                message: "cannot read \(missing): No such file or directory; create it (mode 0600, owned by the service user)")])) {
                try StationConfiguration.Credential.tokenFile(missing).bearerToken()
            }
        }
    }
}

@Suite("Loader: descriptions")
struct LoaderDescriptionTests {
    @Test func issueFormats() {
        #expect(ConfigIssue(file: "station.toml", line: 14, key: "device[1].baud", message: "m").description == "station.toml:14: device[1].baud: m")
        #expect(ConfigIssue(file: "station.toml", line: 3, column: 7, message: "m").description == "station.toml:3:7: m")
        #expect(ConfigIssue(file: "station.toml", key: "platform.url", message: "m").description == "station.toml: platform.url: m")
        #expect(ConfigIssue(file: "/etc/s.toml", message: "m").description == "/etc/s.toml: m")
        let error = ConfigError(issues: [ConfigIssue(file: "a", line: 1, message: "x"), ConfigIssue(file: "a", line: 2, message: "y")])
        #expect(error.description == "a:1: x\na:2: y")
    }

    @Test func tokenNeverAppearsInDescriptions() throws {
        let secret = "s3cr3t-Token-Value"
        let parsed = try #require(configuration(fullExample))
        var dumped = ""
        dump(parsed, to: &dumped)
        let renderings = [
            String(describing: parsed),
            String(reflecting: parsed),
            "\(parsed)",
            dumped,
            String(describing: parsed.platform),
            String(reflecting: parsed.platform),
            String(describing: parsed.platform.credential as Any),
            String(reflecting: parsed.platform.credential as Any),
            String(describing: [parsed]),
        ]
        for text in renderings {
            #expect(!text.contains(secret), "\(text)")
            #expect(!text.contains("s3cr3t"), "\(text)")
        }
        #expect(String(describing: parsed).contains("# token = (set, redacted)"))
        #expect(dumped.contains("- token: <redacted>"))
        #expect(String(describing: StationConfiguration.Secret(secret)) == "<redacted>")
        #expect(String(reflecting: StationConfiguration.Secret(secret)) == "<redacted>")
    }

    @Test func descriptionIsTheEffectiveConfigurationAsTOML() throws {
        let parsed = try #require(configuration(minimalHead + "\n[[device]]\n" + device(port: "usb_vendor = \"1A86\"\nusb_product = \"7523\"")))
        #expect(String(describing: parsed) == """
            [station]
            id = "ST-1"
            state_dir = "/var/lib/station-agent"

            [platform]
            url = "https://p.example/api"
            timeout_ms = 5000
            batch_size = 200
            retry_initial_ms = 500
            retry_max_ms = 30000
            heartbeat_seconds = 30

            [store]
            retention_hours = 168
            max_mb = 0
            alarm_reserve_mb = 8

            [log]
            level = "info"

            [metrics]
            listen = "127.0.0.1:9464"

            [privacy]
            card_ids = "pseudonym"

            [[device]]
            name = "reader-1"
            kind = "card-reader"
            profile = "rdm6300"
            purpose = "check-in"
            usb_vendor = "1a86"
            usb_product = "7523"
            dedup_window_ms = 2000
            reopen_initial_ms = 200
            reopen_max_ms = 5000

            """)
    }

    @Test func descriptionParsesBackToTheSameConfiguration() throws {
        let file = "/etc/station-agent/station.toml"
        let parsed = try #require(configuration(fullExample, file: file))
        let reparsed = try ConfigLoader.parse(String(describing: parsed), file: file)
        // Everything survives but the token, which is never written out.
        var withoutToken = parsed
        withoutToken.platform.credential = nil
        #expect(reparsed == withoutToken)
        #expect(reparsed != parsed)
    }
}

@Suite("Support functions")
struct SupportTests {
    @Test func suggestions() {
        let keys = ["url", "token", "token_file", "ca_file", "timeout_ms", "batch_size", "retry_initial_ms", "retry_max_ms"]
        #expect(Suggestion.nearest(to: "timeout", in: keys) == "timeout_ms")
        #expect(Suggestion.nearest(to: "tokenFile", in: keys) == "token_file")
        #expect(Suggestion.nearest(to: "batchsize", in: keys) == "batch_size")
        #expect(Suggestion.nearest(to: "retry_max", in: keys) == "retry_max_ms")
        #expect(Suggestion.nearest(to: "urk", in: keys) == "url")
        #expect(Suggestion.nearest(to: "colour", in: keys) == nil)
        #expect(Suggestion.nearest(to: "", in: keys) == nil)
        #expect(Suggestion.nearest(to: "plattform", in: ["station", "platform", "store", "log", "device"]) == "platform")
        #expect(Suggestion.nearest(to: "devices", in: ["station", "platform", "store", "log", "device"]) == "device")
    }

    @Test func editDistance() {
        #expect(Suggestion.editDistance(Array("kitten"), Array("sitting")) == 3)
        #expect(Suggestion.editDistance(Array(""), Array("abc")) == 3)
        #expect(Suggestion.editDistance(Array("abc"), Array("abc")) == 0)
        #expect(Suggestion.editDistance(Array("flaw"), Array("lawn")) == 2)
    }

    @Test func paths() {
        #expect(PathResolver.normalize("/a/./b/../c//d/") == "/a/c/d")
        #expect(PathResolver.normalize("/../..") == "/")
        #expect(PathResolver.resolve("x/y", against: "/base") == "/base/x/y")
        #expect(PathResolver.resolve("/abs", against: "/base") == "/abs")
        #expect(PathResolver.directory(of: "/etc/station.toml", currentDirectory: "/cwd") == "/etc")
        #expect(PathResolver.directory(of: "station.toml", currentDirectory: "/cwd") == "/cwd")
        #expect(PathResolver.directory(of: "../x/station.toml", currentDirectory: "/cwd/sub") == "/cwd/x")
        #expect(PathResolver.directory(of: "/station.toml", currentDirectory: "/cwd") == "/")
    }

    @Test func portSpecDescriptions() {
        #expect(PortSpec.path("/dev/ttyUSB0").description == "/dev/ttyUSB0")
        #expect(PortSpec.usb(vendor: 0x1A86, product: 0x7523, serial: nil).description == "usb 1a86:7523")
        #expect(PortSpec.usb(vendor: 0x0403, product: 0x6001, serial: "A10K").description == "usb 0403:6001 serial A10K")
    }

    @Test func tomlQuoting() {
        #expect(TOMLWriter.quoted("plain") == "\"plain\"")
        #expect(TOMLWriter.quoted("a\"b\\c\nd\te\u{01}") == "\"a\\\"b\\\\c\\nd\\te\\u0001\"")
        #expect(TOMLWriter.key("bare_key") == "bare_key")
        #expect(TOMLWriter.key("with space") == "\"with space\"")
        #expect(TOMLWriter.key("") == "\"\"")
        // What the writer quotes, the parser reads back.
        let tricky = "quote\" back\\ nl\n tab\t bell\u{07} 和"
        #expect((try? TOMLParser.parse("k = \(TOMLWriter.quoted(tricky))"))?["k"]?.value == .string(tricky))
    }
}

@Suite("Documentation")
struct DocumentationTests {
    /// `docs/` of the repository, found from this source file (Tests/StationConfigTests/…).
    private static let docs = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs").path

    @Test func exampleFileIsValidAndShowsBothWaysToNameADevice() throws {
        let file = Self.docs + "/station.example.toml"
        let example = try ConfigLoader.load(path: file)
        #expect(example.station.id == "ST-0101")
        #expect(example.station.location.microGrid == "G-07-3")
        #expect(example.platform.credential == .tokenFile("/etc/station-agent/token"))
        #expect(example.devices.map(\.name) == ["reader-1", "reader-2"])
        #expect(example.devices.map(\.port) == [.path("/dev/ttyUSB0"), .usb(vendor: 0x1A86, product: 0x7523, serial: "A10K3XYZ")])
        #expect(example.devices.map(\.cardReader?.baud) == [nil, 9600])
    }

    @Test func referenceDocumentsEveryKey() throws {
        let reference = try String(contentsOfFile: Self.docs + "/configuration.md", encoding: .utf8)
        let all = SchemaDecoder.stationKeys + SchemaDecoder.locationKeys + SchemaDecoder.platformKeys + SchemaDecoder.storeKeys
            + SchemaDecoder.logKeys + SchemaDecoder.deviceKeys + SchemaDecoder.metricsKeys + SchemaDecoder.privacyKeys
        for key in all {
            #expect(reference.contains("| `\(key)` |"), "docs/configuration.md has no row for `\(key)`")
        }
        for table in ["## `[station]`", "## `[station.location]`", "## `[platform]`", "## `[store]`", "## `[log]`", "## `[[device]]`", "## `[metrics]`", "## `[privacy]`"] {
            #expect(reference.contains(table), "\(table)")
        }
        for profile in ReaderProfile.allCases {
            #expect(reference.contains("`\(profile.rawValue)`"))
        }
    }

    @Test func exampleMessagesInTheReferenceHaveTheFormatTheLoaderPrints() throws {
        let reference = try String(contentsOfFile: Self.docs + "/configuration.md", encoding: .utf8)
        // The reference's first example is what the loader prints for such a file (but for the line).
        let text = withDevice(device()) + "\n[[device]]\n" + device("baud = 9601", name: "reader-2", port: "port = \"/dev/ttyUSB1\"")
        let message = "device[1].baud: expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200; got 9601"
        #expect(issues(text) == ["station.toml:18: \(message)"])
        #expect(reference.contains("station.toml:14: \(message)"))
    }
}
