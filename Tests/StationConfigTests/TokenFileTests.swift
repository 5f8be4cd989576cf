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
        #expect(error?.description.contains("readable by every user") == true)
        #expect(error?.description.contains("chmod 600 \(path)") == true)
    }
}
