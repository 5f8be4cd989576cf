import Foundation
import Testing
@testable import ToolSupport

@Suite struct SiblingBinaryTests {
    /// A folder with an executable `name` in it.
    func folder(with name: String?) throws -> String {
        let path = NSTemporaryDirectory() + "sibling-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if let name {
            FileManager.default.createFile(atPath: path + "/" + name, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        }
        return path
    }

    @Test func theSameBuildFolderComesFirstThenPath() throws {
        let build = try folder(with: "station-agent")
        let elsewhere = try folder(with: "station-agent")
        defer {
            try? FileManager.default.removeItem(atPath: build)
            try? FileManager.default.removeItem(atPath: elsewhere)
        }
        #expect(try SiblingBinary.locate("station-agent", own: build + "/station-bench", environment: ["PATH": elsewhere]) == build + "/station-agent")
        let empty = try folder(with: nil)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(try SiblingBinary.locate("station-agent", own: empty + "/station-bench", environment: ["PATH": "/nonexistent:" + elsewhere]) == elsewhere + "/station-agent")
    }

    @Test func anExplicitPathWinsAndMustBeExecutable() throws {
        let build = try folder(with: "station-agent")
        defer { try? FileManager.default.removeItem(atPath: build) }
        #expect(try SiblingBinary.locate("station-agent", override: build + "/station-agent", own: "/nowhere/station-sim") == build + "/station-agent")
        #expect(throws: SiblingBinary.Missing.self) {
            try SiblingBinary.locate("station-agent", override: build + "/missing", own: build + "/station-sim")
        }
    }

    @Test func aMissingBinaryIsOneLineSayingWhereItLookedAndWhatToBuild() throws {
        let release = try folder(with: nil) + "/release"
        try FileManager.default.createDirectory(atPath: release, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: (release as NSString).deletingLastPathComponent) }
        do {
            _ = try SiblingBinary.locate("station-agent", own: release + "/station-bench", environment: ["PATH": ""])
            Issue.record("found a binary that is not there")
        } catch {
            #expect(error.description == "cannot find station-agent (looked in \(release), PATH); build it with `swift build -c release --product station-agent`, or pass its path with --agent")
            #expect(!error.description.contains("\n"))
        }
        #expect(SiblingBinary.buildCommand("station-sim", folder: "/x/.build/x86_64-unknown-linux-gnu/debug") == "swift build --product station-sim")
    }
}
