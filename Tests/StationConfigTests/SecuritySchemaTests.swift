import Foundation
import Testing

@testable import StationConfig

@Suite("Schema: signing key, client certificate, [privacy]")
struct SecuritySchemaTests {
    /// Lines 1-4: a valid [station] and [platform]; [platform] keys may follow from line 5.
    let head = minimalHead + "\n"

    @Test func keysAreReadWithTheirLinesAndPathsResolveAgainstTheFile() throws {
        let text = head + """
            signing_key_file = "keys/signing.key"
            client_certificate_file = "/etc/station-agent/client.pem"
            client_key_file = "client.key"

            [privacy]
            card_ids = "raw"
            district_key_file = "/etc/station-agent/district.key"
            """
        let parsed = try #require(configuration(text))
        #expect(parsed.platform.signingKeyFile?.path == "/etc/station-agent/keys/signing.key")
        #expect(parsed.platform.signingKeyFile?.line == 5)
        #expect(parsed.platform.clientCertificate?.certificateFile.path == "/etc/station-agent/client.pem")
        #expect(parsed.platform.clientCertificate?.keyFile == StationConfiguration.FileReference("/etc/station-agent/client.key"))
        #expect(parsed.platform.clientCertificate?.keyFile.line == 7)
        #expect(parsed.privacy.cardIDs == .raw)
        #expect(parsed.privacy.districtKeyFile?.path == "/etc/station-agent/district.key")
        #expect(parsed.privacy.line == 9)

        // The effective configuration shows them and reads back the same.
        let rendered = String(describing: parsed)
        #expect(rendered.contains("signing_key_file = \"/etc/station-agent/keys/signing.key\"\nclient_certificate_file = "))
        #expect(rendered.contains("[privacy]\ncard_ids = \"raw\"\ndistrict_key_file = \"/etc/station-agent/district.key\""))
        #expect(try ConfigLoader.parse(rendered, file: parsed.file) == parsed)
    }

    @Test func pseudonymIsTheDefault() throws {
        let parsed = try #require(configuration(head))
        #expect(parsed.privacy == StationConfiguration.Privacy(cardIDs: .pseudonym, districtKeyFile: nil))
        #expect(parsed.platform.signingKeyFile == nil)
        #expect(parsed.platform.clientCertificate == nil)
    }

    @Test func aClientCertificateNeedsItsKeyAndTheOtherWayRound() {
        #expect(issues(head + "client_certificate_file = \"/etc/c.pem\"\n") == [
            "station.toml:5: platform.client_certificate_file: needs `client_key_file` too (the certificate's private key, PEM, mode 0600)",
        ])
        #expect(issues(head + "client_key_file = \"/etc/c.key\"\n") == [
            "station.toml:5: platform.client_key_file: needs `client_certificate_file` too (the station's certificate, PEM)",
        ])
        #expect(issues(head + "client_key_file = \"\"\nclient_certificate_file = \"/etc/c.pem\"\n") == [
            "station.toml:5: platform.client_key_file: expected a path, got an empty string",
        ])
    }

    @Test func privacyValuesAndUnknownKeysAreErrors() {
        #expect(issues(head + "\n[privacy]\ncard_ids = \"hashed\"\n") == [
            "station.toml:7: privacy.card_ids: expected one of pseudonym, raw; got \"hashed\"",
        ])
        #expect(issues(head + "\n[privacy]\ncard_id = \"raw\"\n") == [
            "station.toml:7: privacy.card_id: unknown key; did you mean `card_ids`?",
        ])
        #expect(issues(head + "\n[privacy]\ndistrict_key_file = \"~/k\"\n") == [
            "station.toml:7: privacy.district_key_file: `~` is not expanded here; write the full path; got \"~/k\"",
        ])
        #expect(issues("privacy = \"raw\"\n" + head).first?.hasPrefix("station.toml:1: privacy: expected a table ([privacy])") == true)
    }
}
