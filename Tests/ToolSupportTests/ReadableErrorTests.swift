import Foundation
import Testing
import ToolSupport

/// Foundation's file errors reach the terminal as one plain line: path, reason, what to do.
@Suite struct ReadableErrorTests {
    @Test func aMissingFileNamesThePathAndSaysWhatToDo() throws {
        let path = NSTemporaryDirectory() + "readable-error-\(UUID().uuidString)/station.toml"
        let error = #expect(throws: (any Error).self) { _ = try String(contentsOfFile: path, encoding: .utf8) }
        let readable = "\(ReadableError.readable(try #require(error)))"
        #expect(readable.hasPrefix(path + ": "), "\(readable)")
        #expect(readable.lowercased().contains("no such file"), "\(readable)")
        #expect(readable.contains("check the path"), "\(readable)")
        #expect(!readable.contains("Error Domain"), "\(readable)")
    }

    @Test func aDirectoryThatCannotBeCreatedSaysWhy() throws {
        let file = NSTemporaryDirectory() + "readable-error-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let error = #expect(throws: (any Error).self) {
            try FileManager.default.createDirectory(atPath: file + "/state", withIntermediateDirectories: true)
        }
        let readable = "\(ReadableError.readable(try #require(error)))"
        #expect(readable.contains(file), "\(readable)")
        #expect(!readable.contains("Error Domain"), "\(readable)")
    }

    @Test func ourOwnErrorsAreLeftAsTheyAre() {
        struct Own: Error, CustomStringConvertible { var description: String { "station.toml:3: platform.url: not a URL" } }
        #expect("\(ReadableError.readable(Own()))" == "station.toml:3: platform.url: not a URL")
    }
}
