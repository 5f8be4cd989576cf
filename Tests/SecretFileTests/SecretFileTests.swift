import Glibc
import SecretFile
import TestSupport
import Testing

@Suite struct SecretFileTests {
    @Test func aPrivateFileIsRead() throws {
        let directory = try TemporaryDirectory(prefix: "secret-file")
        let path = try directory.write("00112233\n", to: "owner-only.key", mode: 0o600)
        #expect(try SecretFile.readText(path) == "00112233\n")
        let readOnly = try directory.write("abcd", to: "read-only.key", mode: 0o400)
        #expect(try SecretFile.read(readOnly) == Array("abcd".utf8))
    }

    @Test(arguments: [
        (mode_t(0o644), "open to every user (mode 644)"), (0o640, "open to its group (mode 640)"),
        (0o604, "open to every user (mode 604)"), (0o620, "open to its group (mode 620)"), (0o601, "open to every user (mode 601)"),
    ])
    func aFileOthersMayTouchIsRefusedWithTheFix(mode: mode_t, reason: String) throws {
        let directory = try TemporaryDirectory(prefix: "secret-file")
        let path = try directory.write("00112233", to: "shared.key", mode: mode)
        let problem = #expect(throws: SecretFile.Problem.self) { try SecretFile.read(path) }
        #expect(problem?.kind == .openToOthers)
        #expect(problem?.reason == reason)
        #expect(problem?.description == "\(path) is \(reason); run `chmod 600 \(path)`")
        #expect(problem?.description.contains("00112233") == false, "the secret is never part of a problem")
    }

    @Test func aMissingFileSaysHowToCreateIt() throws {
        let directory = try TemporaryDirectory(prefix: "secret-file")
        let problem = #expect(throws: SecretFile.Problem.self) { try SecretFile.read(directory.file("absent.key")) }
        #expect(problem?.kind == .missing)
        #expect(problem?.description == "cannot read \(directory.file("absent.key")): No such file or directory; create it (mode 0600, owned by the service user)")
    }

    @Test func aDirectoryAFIFOAndAHugeFileAreRefusedWithoutWaiting() throws {
        let directory = try TemporaryDirectory(prefix: "secret-file")
        #expect((#expect(throws: SecretFile.Problem.self) { try SecretFile.read(directory.path) })?.kind == .notARegularFile)
        let fifo = directory.file("fifo")
        try #require(mkfifo(fifo, 0o600) == 0)
        #expect((#expect(throws: SecretFile.Problem.self) { try SecretFile.read(fifo) })?.kind == .notARegularFile)
        let huge = try directory.write(String(repeating: "0", count: 5000), to: "huge.key")
        #expect((#expect(throws: SecretFile.Problem.self) { try SecretFile.read(huge, limit: 4096) })?.kind == .tooLarge)
    }

    @Test func aSymlinkIsJudgedByTheFileItNames() throws {
        let directory = try TemporaryDirectory(prefix: "secret-file")
        let target = try directory.write("00112233", to: "target.key", mode: 0o600)
        let link = directory.file("link.key")
        try #require(symlink(target, link) == 0)
        #expect(try SecretFile.readText(link) == "00112233")
        try #require(chmod(target, 0o644) == 0)
        #expect((#expect(throws: SecretFile.Problem.self) { try SecretFile.read(link) })?.kind == .openToOthers)
    }

    @Test func aFileThisUserMayNotReadNamesTheUser() throws {
        // Root reads everything, so as root the test checks that instead.
        let directory = try TemporaryDirectory(prefix: "secret-file")
        let path = try directory.write("00112233", to: "unreadable.key", mode: 0o000)
        if geteuid() == 0 {
            #expect(try SecretFile.readText(path) == "00112233", "root reads a mode 000 file")
        } else {
            let problem = #expect(throws: SecretFile.Problem.self) { try SecretFile.read(path) }
            #expect(problem?.kind == .permissionDenied)
            #expect(problem?.fix.contains("chown") == true)
        }
    }
}
