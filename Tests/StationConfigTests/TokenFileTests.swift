import Foundation
import StationConfig
import Testing

@Suite struct TokenFileTests {
    func tokenFile(mode: mode_t, contents: String = "s3cret-token\n") throws -> String {
        let path = NSTemporaryDirectory() + "token-" + UUID().uuidString
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(chmod(path, mode) == 0)
        return path
    }

    @Test func aPrivateTokenFileIsRead() throws {
        let path = try tokenFile(mode: 0o600)
        defer { unlink(path) }
        #expect(try StationConfiguration.Credential.tokenFile(path).bearerToken() == "s3cret-token")
    }

    @Test func aWorldReadableTokenFileIsRefusedWithTheReason() throws {
        let path = try tokenFile(mode: 0o644)
        defer { unlink(path) }
        let error = #expect(throws: ConfigError.self) { try StationConfiguration.Credential.tokenFile(path).bearerToken() }
        #expect(
            error?.description
                == "\(path): platform.token_file: \(path) is open to every user (mode 644); run `chmod 600 \(path)` "
                + "(the token lets anyone post events as this station)")
    }

    /// The token file gets the same check as every key file: a group may not read it either
    /// (it used to be refused only when every user could read it).
    @Test func aGroupReadableTokenFileIsRefusedToo() throws {
        let path = try tokenFile(mode: 0o640)
        defer { unlink(path) }
        let error = #expect(throws: ConfigError.self) { try StationConfiguration.Credential.tokenFile(path).bearerToken() }
        #expect(error?.description.contains("is open to its group (mode 640); run `chmod 600 \(path)`") == true)
        #expect(error?.description.contains("s3cret") == false, "the token is never part of an error")
    }
}
