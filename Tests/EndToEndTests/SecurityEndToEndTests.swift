import AsyncHTTPClient
import DeviceProtocols
import EventModel
import Foundation
import NIOCore
import NIOHTTP1
import OSDP
import PlatformAPI
import TestSupport
import Testing
import VirtualDevices

/// The real `station-agent` against the real `station-sim emulator --signing-key`: signed
/// batches with card pseudonyms arrive; forged, replayed and wrongly keyed requests do not.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SecurityEndToEndTests {
    static let signingKeyHex = "5f3c8e1a9b7d2c4e6f8a0b1c3d5e7f9a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e"
    static let districtKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

    static func writeKey(_ hex: String, to path: String, mode: mode_t = 0o600) throws {
        try (hex + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        guard chmod(path, mode) == 0 else { throw HarnessError("chmod \(path) failed") }
    }

    /// Posts `body` to the emulator's ingest route with the signature headers given.
    static func post(_ platform: EmulatorProcess, body: [UInt8], headers: [(String, String)]) async throws -> (UInt, ErrorBody?) {
        var request = HTTPClientRequest(url: platform.baseURL + PlatformAPI.ingestPath(stationID: "ST-E2E"))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        let answer = try await response.body.collect(upTo: 1 << 20)
        return (response.status.code, try? JSONDecoder().decode(ErrorBody.self, from: Data(answer.readableBytesView)))
    }

    static func signatureHeaders(key: HMACKey, body: [UInt8], nonce: String) -> [(String, String)] {
        let timestamp = Int64(Date().timeIntervalSince1970)
        let hash = RequestSignature.contentHash(body)
        let signature = RequestSignature.signature(
            key: key, timestamp: timestamp, nonce: nonce, method: "POST", target: PlatformAPI.ingestPath(stationID: "ST-E2E"),
            contentHash: hash)
        return [
            (RequestSignature.timestampHeader, String(timestamp)), (RequestSignature.nonceHeader, nonce),
            (RequestSignature.contentHashHeader, hash), (RequestSignature.signatureHeader, signature),
        ]
    }

    @Test func signedBatchesCarryPseudonymsAndForgedOrReplayedRequestsAreRejected() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let signingPath = station.directory + "/signing.key"
        let districtPath = station.directory + "/district.key"
        try Self.writeKey(Self.signingKeyHex, to: signingPath)
        try Self.writeKey(Self.districtKeyHex, to: districtPath)
        let platform = try await EmulatorProcess(
            database: station.directory + "/platform.sqlite", arguments: ["--signing-key", "ST-E2E=\(signingPath)"])
        try station.writeConfig(
            platformURL: platform.baseURL, extraPlatform: "signing_key_file = \"\(signingPath)\"\nheartbeat_seconds = 1",
            privacy: "district_key_file = \"\(districtPath)\"")
        let agent = try station.startAgent()

        try station.readers["reader-1"]!.tap(uid: "1A002F4B6C")
        try await station.readers["reader-1"]!.hold(uid: "62E3086CED", repeats: 10)
        let district = try HMACKey.parse(hex: Self.districtKeyHex).get()
        let expected = Set(["1A002F4B6C", "62E3086CED"].map { CardPseudonymizer(key: district).pseudonym(of: $0) })
        let arrived = await eventually {
            try await platform.received().filter { $0.event.kind == "card_tap" }.count >= 2
        }
        #expect(arrived, "agent log:\n\(agent.log)")
        // Heartbeats and the command long-poll are signed too: the station is known and nothing was refused.
        #expect(await eventually { try await platform.stations().contains { $0.stationID == "ST-E2E" && $0.lastHeartbeatAt != nil } }, "agent log:\n\(agent.log)")
        let taps = try await platform.received().filter { $0.event.kind == "card_tap" }
        #expect(Set(taps.compactMap(\.event.card?.uid)) == expected)
        #expect(taps.allSatisfy { $0.event.card?.uidKind == "pseudonym-hmac-sha256" && $0.event.card?.format == "em4100" })
        #expect(try await platform.stats().badRequests == 0)
        #expect(!agent.log.contains("1A002F4B6C") && !agent.log.contains("62E3086CED"), "raw card numbers in the log:\n\(agent.log)")

        // A request signed with the right key is accepted once; the same request again is a replay.
        let key = try HMACKey.parse(hex: Self.signingKeyHex).get()
        let event = WireEvent(
            id: UUID().uuidString.lowercased(), seq: 999_999, kind: "device_online", lane: "normal",
            occurredAt: Timestamp.format(Date()), device: "forger")
        let body = Array(try JSONEncoder().encode(IngestRequest(station: WireStation(id: "ST-E2E"), sentAt: Timestamp.format(Date()), events: [event])))
        let headers = Self.signatureHeaders(key: key, body: body, nonce: UUID().uuidString.replacingOccurrences(of: "-", with: ""))
        #expect(try await Self.post(platform, body: body, headers: headers).0 == 200)
        let replay = try await Self.post(platform, body: body, headers: headers)
        #expect(replay.0 == 401)
        #expect(replay.1?.error == "replayed")
        // Someone with a different key, or who changes the body, gets nothing in.
        let forgedKey = try HMACKey.parse(hex: String(repeating: "42", count: 32)).get()
        let forged = try await Self.post(platform, body: body, headers: Self.signatureHeaders(key: forgedKey, body: body, nonce: UUID().uuidString))
        #expect(forged.0 == 401)
        #expect(forged.1?.error == "bad_signature")
        var tamperedBody = body
        tamperedBody[tamperedBody.count - 3] = UInt8(ascii: "X")
        let tampered = try await Self.post(platform, body: tamperedBody, headers: headers)
        #expect(tampered.0 == 401)
        #expect(tampered.1?.error == "content_mismatch")

        await agent.stop()
        await platform.stop()
    }

    @Test func osdpCardsAreSentAsPseudonymsToo() async throws {
        let station = try Station(readers: [])
        defer { station.remove() }
        let districtPath = station.directory + "/district.key"
        try Self.writeKey(Self.districtKeyHex, to: districtPath)
        let bus = try VirtualOSDPBus(linkPath: station.directory + "/osdp-bus", readers: [OSDPPeripheral.Configuration(address: 2)])
        bus.start()
        defer { bus.stop() }
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite")
        try station.writeConfig(
            platformURL: platform.baseURL,
            extraDevices: OSDPAndDC09EndToEndTests.osdpBusConfig(bus, readers: ["address = 2\nname = \"desk\""]),
            privacy: "district_key_file = \"\(districtPath)\"")
        let agent = try station.startAgent()
        let desk = try #require(bus.reader(2))
        #expect(await eventually { desk.pollCount > 0 }, "log:\n\(agent.log)")
        try desk.presentCard(WiegandCard(format: .wiegand26, facilityCode: 123, cardNumber: 4567))
        #expect(await eventually { try await platform.received().contains { $0.event.kind == "card_tap" } }, "log:\n\(agent.log)")
        let card = try #require(try await platform.received().first { $0.event.kind == "card_tap" }?.event.card)
        // printf '%s' 123:4567 | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1e1f
        #expect(card == WireCard(
            uid: "18f0ae6c3cbcf6cce3affc4859e0cf6661f9f2ce86f38b1056c59a1066531989", format: "wiegand-26",
            uidKind: "pseudonym-hmac-sha256"))
        #expect(!agent.log.contains("4567"), "log:\n\(agent.log)")
        await agent.stop()
        await platform.stop()
    }

    @Test func anAgentWithTheWrongKeyDeliversNothingAndSaysWhy() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let platformKey = station.directory + "/platform-view.key"
        let stationKey = station.directory + "/signing.key"
        try Self.writeKey(Self.signingKeyHex, to: platformKey)
        try Self.writeKey(String(repeating: "24", count: 32), to: stationKey)
        let platform = try await EmulatorProcess(database: station.directory + "/platform.sqlite", arguments: ["--signing-key", platformKey])
        try station.writeConfig(platformURL: platform.baseURL, extraPlatform: "signing_key_file = \"\(stationKey)\"")
        let agent = try station.startAgent()
        try station.readers["reader-1"]!.tap(uid: "1A002F4B6C")
        #expect(await eventually { try await platform.stats().badRequests >= 3 }, "agent log:\n\(agent.log)")
        #expect(try await platform.received().isEmpty)
        #expect(await eventually { agent.log.contains("401") && agent.log.contains("bad_signature") }, "agent log:\n\(agent.log)")
        await agent.stop()
        await platform.stop()
    }

    @Test func aKeyFileOthersCanReadStopsTheAgentWithTheFix() async throws {
        let station = try Station(readers: [("reader-1", .rdm6300)])
        defer { station.remove() }
        let districtPath = station.directory + "/district.key"
        try Self.writeKey(Self.districtKeyHex, to: districtPath, mode: 0o644)
        try station.writeConfig(platformURL: "http://127.0.0.1:9", privacy: "district_key_file = \"\(districtPath)\"")
        let child = try station.startAgent()
        let status = await child.waitForExit()
        #expect(status == 78, "exits with EX_CONFIG:\n\(child.log)")
        #expect(
            child.log.contains(
                "station.toml:12: privacy.district_key_file: \(districtPath) is open to every user (mode 644); run `chmod 600 \(districtPath)`"),
            "\(child.log)")
    }
}
