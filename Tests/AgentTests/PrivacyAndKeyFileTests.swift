import Agent
import Clocks
import DeviceProtocols
import EventModel
import EventStore
import Foundation
import InMemoryLogging
import Logging
import PlatformAPI
import SerialTransport
import StationConfig
import Synchronization
import TestSupport
import Testing
import Uplink

/// The district key of these tests (bytes 0x00 to 0x1f) and pseudonyms computed with OpenSSL:
/// `printf '%s' 1A002F4B6C | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1e1f`.
let districtKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
let districtKey = try! HMACKey.parse(hex: districtKeyHex).get()

@Suite("Card pseudonyms")
struct CardPseudonymTests {
    @Test func thePolicyReplacesTheNumberWithItsKeyedPseudonymAndSaysSo() {
        let card = CardRead(uid: "0102030405", format: "em4100")
        #expect(CardIDPolicy.raw.apply(card) == card)
        #expect(
            CardIDPolicy.pseudonym(CardPseudonymizer(key: districtKey)).apply(card)
                == CardRead(uid: "ae2ac10871da891db451b87611e41e0d40b55c4351c28796044bc1f90ea7de05", format: "em4100", uidKind: .pseudonymHMACSHA256))
    }

    @Test func aCardReaderStoresOnlyThePseudonymAndDeduplicatesOnTheNumber() async throws {
        let directory = NSTemporaryDirectory() + "station-privacy-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try EventStore.open(directory: directory)
        let frame = try ReaderProfile.rdm6300.encode(uid: "1A002F4B6C")
        // Another card last on the line: once it is stored, every repeat of the first was read.
        let last = try ReaderProfile.rdm6300.encode(uid: "0F00000001")
        let port = FakeSerialPort(name: "/dev/fake", chunks: [frame, frame, frame + frame, last], hangUpWhenDrained: false)
        let device = CardReaderDevice(
            name: "reader-1", purpose: "check-in", profile: .rdm6300, port: .path("/dev/fake"), settings: SerialSettings(baud: 9600),
            dedupWindow: .seconds(2), reopen: RetryPolicy(initial: .seconds(1), maximum: .seconds(1), jitter: 0))
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in logs }
        logger.logLevel = .trace
        let service = CardReaderService(
            device: device, intake: EventIntake(store: store, logger: Logger(label: "test")), ports: ScriptedPorts([port]), cardIDs: .pseudonym(CardPseudonymizer(key: districtKey)),
            clock: TestClock(), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            #expect(await eventually { try await store.events().count { $0.event.kind == .cardTap } == 2 })
            group.cancelAll()
        }
        let expected = CardPseudonymizer(key: districtKey).pseudonym(of: "1A002F4B6C")
        let lastPseudonym = CardPseudonymizer(key: districtKey).pseudonym(of: "0F00000001")
        let taps = try await store.events().map(\.event).filter { $0.kind == .cardTap && $0.event.card?.uid != lastPseudonym }
        #expect(taps.count == 1, "a held card is one tap: de-duplication still works on the number")
        #expect(taps.first?.event.card == CardRead(uid: expected, format: "em4100", uidKind: .pseudonymHMACSHA256))

        // The number is nowhere on disk (database, WAL) nor in the logs.
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
            #expect(bytes.range(of: Data("1A002F4B6C".utf8)) == nil, "\(file) holds the raw card number")
        }
        // Each entry as one line: the message and its metadata, sorted.
        let lines = logs.entries.map { entry in "\(entry.message) \(entry.metadata.map { "\($0.key)=\($0.value)" }.sorted())" }
        #expect(lines.contains { $0.contains("card tap stored") && $0.contains("card=…\(expected.suffix(4))") }, "\(lines)")
        #expect(!lines.contains { $0.contains("1A002F4B6C") || $0.contains("4B6C") }, "\(lines)")
    }
}

@Suite("Key files and security settings")
struct SecuritySettingsTests {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "station-keys-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String, mode: mode_t = 0o600) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(chmod(path, mode) == 0)
        return path
    }

    /// A configuration with `platform` lines in [platform] (from line 5), `privacy` in [privacy]
    /// and a card reader when `reader`.
    func configuration(platform: String = "", privacy: String? = nil, reader: Bool = true) throws -> StationConfiguration {
        var text = "[station]\nid = \"ST-1\"\n\n[platform]\nurl = \"https://p.example/api\"\n\(platform)\n"
        if let privacy { text += "\n[privacy]\n\(privacy)\n" }
        if reader {
            text += "\n[[device]]\nname = \"reader-1\"\nkind = \"card-reader\"\nprofile = \"rdm6300\"\npurpose = \"check-in\"\nport = \"/dev/ttyUSB0\"\n"
        }
        return try ConfigLoader.parse(text, file: directory + "/station.toml")
    }

    func failure(_ configuration: StationConfiguration) -> String? {
        do {
            _ = try AgentSettings(configuration)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func privateKeyFilesAreLoaded() throws {
        let signing = try write("signing.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n")
        let district = try write("district.key", districtKeyHex)
        let settings = try AgentSettings(
            configuration(platform: "signing_key_file = \"\(signing)\"", privacy: "district_key_file = \"\(district)\""))
        #expect(settings.security.signingKey != nil)
        guard case .pseudonym(let pseudonymizer) = settings.security.cardIDs else {
            Issue.record("card_ids defaults to pseudonym")
            return
        }
        #expect(pseudonymizer.pseudonym(of: "0102030405") == "ae2ac10871da891db451b87611e41e0d40b55c4351c28796044bc1f90ea7de05")
    }

    @Test func aKeyFileOthersCanReadIsRefusedWithTheChmodFix() throws {
        let file = directory + "/station.toml"
        for (mode, who) in [(mode_t(0o644), "every user"), (0o640, "its group"), (0o604, "every user"), (0o620, "its group")] {
            let signing = try write("signing.key", String(repeating: "ab", count: 32), mode: mode)
            let message = failure(try configuration(platform: "signing_key_file = \"\(signing)\"", privacy: "card_ids = \"raw\""))
            #expect(
                message == "\(file):6: platform.signing_key_file: \(signing) is open to \(who) (mode \(String(mode, radix: 8))); "
                    + "run `chmod 600 \(signing)` (the key signs this station's requests: whoever reads it can post events as this station)")
        }
        let district = try write("district.key", districtKeyHex, mode: 0o644)
        let districtMessage = try #require(failure(try configuration(privacy: "district_key_file = \"\(district)\"")))
        #expect(districtMessage.hasPrefix("\(file):9: privacy.district_key_file: \(district) is open to every user (mode 644); run `chmod 600 \(district)`"))

        let certificate = try write("client.pem", "-----BEGIN CERTIFICATE-----\n", mode: 0o644)
        let clientKey = try write("client.key", "-----BEGIN PRIVATE KEY-----\n", mode: 0o640)
        let clientMessage = try #require(failure(try configuration(
            platform: "client_certificate_file = \"\(certificate)\"\nclient_key_file = \"\(clientKey)\"", privacy: "card_ids = \"raw\"")))
        #expect(clientMessage.hasPrefix("\(file):7: platform.client_key_file: \(clientKey) is open to its group (mode 640); run `chmod 600 \(clientKey)`"))
    }

    @Test func missingOrMalformedKeysAreNamed() throws {
        let file = directory + "/station.toml"
        let missing = directory + "/no-such.key"
        #expect(failure(try configuration(platform: "signing_key_file = \"\(missing)\"", reader: false))?.hasPrefix(
            "\(file):6: platform.signing_key_file: cannot read \(missing): No such file or directory") == true)
        let short = try write("short.key", "abcd")
        #expect(failure(try configuration(platform: "signing_key_file = \"\(short)\"", reader: false))
            == "\(file):6: platform.signing_key_file: \(short): the key has 2 bytes; expected 16 to 64 (32 to 128 hex digits)")
        let certificate = try write("client.pem", "not a certificate\n")
        let clientKey = try write("client.key", "not a key\n")
        let unusable = try #require(failure(try configuration(
            platform: "client_certificate_file = \"\(certificate)\"\nclient_key_file = \"\(clientKey)\"", reader: false)))
        #expect(unusable.hasPrefix("\(file):6: platform.client_certificate_file: \(certificate) cannot be read as a PEM certificate"), "\(unusable)")
    }

    @Test func pseudonymsWithoutADistrictKeyAreRefusedOnlyWhenACardSourceExists() throws {
        let file = directory + "/station.toml"
        #expect(failure(try configuration()) == "\(file): privacy.district_key_file: required key is missing: card_ids is \"pseudonym\" (the default) "
            + "and device \"reader-1\" reads cards; set it to the district's key file (hex, mode 0600), or set card_ids = \"raw\" to send card numbers as read")
        #expect(failure(try configuration(privacy: "card_ids = \"pseudonym\""))?.hasPrefix("\(file):8: privacy.district_key_file: required key is missing") == true)
        let raw = try AgentSettings(configuration(privacy: "card_ids = \"raw\""))
        guard case .raw = raw.security.cardIDs else { Issue.record("card_ids = raw"); return }
        #expect(failure(try configuration(reader: false)) == nil, "no card source, no key needed")
    }
}
