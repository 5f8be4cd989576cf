import Foundation
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import PlatformAPI
import Testing

@testable import PlatformEmulator

/// The key of the known-answer tests: bytes 0x00 to 0x1f.
let knownKey = try! HMACKey.parse(hex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").get()
let knownNonce = "0123456789abcdef0123456789abcdef"

@Suite("Signed requests: the canonical string and HMAC, known answers")
struct RequestSignatureKnownAnswerTests {
    // The expected values were computed with OpenSSL, independently of this code:
    //   printf '%s' '{"events":[]}' | openssl dgst -sha256
    //   printf 'STATION-HMAC-SHA256\n1764032400\n0123…cdef\nPOST\n/api/v1/stations/ST-1/events\n24de…1c2e' \
    //     | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1e1f

    @Test func contentHashIsTheSHA256OfTheExactBytes() {
        #expect(RequestSignature.contentHash(Array(#"{"events":[]}"#.utf8)) == "24de1c4a19c43ad41b013f13dcd858c17b0daa7f33a53f19913e5b11366d1c2e")
        #expect(RequestSignature.contentHash([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func canonicalStringIsSixLinesWithoutATrailingNewline() {
        let canonical = RequestSignature.canonicalString(
            timestamp: 1_764_032_400, nonce: knownNonce, method: "post", target: "/api/v1/stations/ST-1/events",
            contentHash: "24de1c4a19c43ad41b013f13dcd858c17b0daa7f33a53f19913e5b11366d1c2e")
        #expect(
            canonical
                == "STATION-HMAC-SHA256\n1764032400\n0123456789abcdef0123456789abcdef\nPOST\n/api/v1/stations/ST-1/events\n"
                + "24de1c4a19c43ad41b013f13dcd858c17b0daa7f33a53f19913e5b11366d1c2e")
    }

    @Test func signatureOfAnIngestRequest() {
        let signature = RequestSignature.signature(
            key: knownKey, timestamp: 1_764_032_400, nonce: knownNonce, method: "POST", target: "/api/v1/stations/ST-1/events",
            contentHash: RequestSignature.contentHash(Array(#"{"events":[]}"#.utf8)))
        #expect(signature == "f49b155dfcd76924d29cb1cd4dad7a2b1d94505d5bcd57d884a96b9cb14967d9")
    }

    @Test func signatureOfALongPollWithAQueryAndNoBody() {
        let signature = RequestSignature.signature(
            key: knownKey, timestamp: 1_764_032_400, nonce: knownNonce, method: "GET",
            target: "/v1/stations/ST-1/commands?after=0&waitSeconds=25", contentHash: RequestSignature.contentHash([UInt8]()))
        #expect(signature == "fe728b2034e85e97a536b4f70186880ebcc3ffdf985f3317d786b6b6206907c9")
    }

    @Test func cardPseudonymIsTheHMACOfTheNumberAsSent() {
        let pseudonymizer = CardPseudonymizer(key: knownKey)
        // printf '%s' 0102030405 | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1e1f
        #expect(pseudonymizer.pseudonym(of: "0102030405") == "ae2ac10871da891db451b87611e41e0d40b55c4351c28796044bc1f90ea7de05")
        #expect(pseudonymizer.pseudonym(of: "123:4567") == "18f0ae6c3cbcf6cce3affc4859e0cf6661f9f2ce86f38b1056c59a1066531989")
    }

    @Test func keysAreHexOf16To64BytesAndNeverPrinted() throws {
        #expect(throws: Never.self) { try HMACKey.parse(hex: " 00112233445566778899aabbccddeeff\n").get() }
        #expect((try? HMACKey.parse(hex: "0011").get()) == nil)
        #expect((try? HMACKey.parse(hex: String(repeating: "ab", count: 65)).get()) == nil)
        #expect((try? HMACKey.parse(hex: "zz112233445566778899aabbccddeeff").get()) == nil)
        #expect((try? HMACKey.parse(hex: "").get()) == nil)
        guard case .failure(let problem) = HMACKey.parse(hex: "0011") else { Issue.record("accepted a 2-byte key"); return }
        #expect(problem.message.contains("2 bytes"))
        #expect(String(describing: knownKey) == "<redacted>")
        #expect(String(reflecting: knownKey) == "<redacted>")
    }
}

/// A request as a station would sign it, with parts a test can spoil.
struct SignedParts {
    var station = "ST-1"
    var method = "POST"
    var target = "/v1/stations/ST-1/events"
    var body = Array(#"{"events":[]}"#.utf8)
    var timestamp: Int64 = 1_764_032_400
    var nonce = knownNonce
    var key = knownKey
    var headers: [String: String] = [:]

    init() {
        sign()
    }

    mutating func sign() {
        let hash = RequestSignature.contentHash(body)
        headers = [
            RequestSignature.timestampHeader: String(timestamp), RequestSignature.nonceHeader: nonce,
            RequestSignature.contentHashHeader: hash,
            RequestSignature.signatureHeader: RequestSignature.signature(
                key: key, timestamp: timestamp, nonce: nonce, method: method, target: target, contentHash: hash),
        ]
    }

    func verify(with verifier: inout SignatureVerifier, now: Int64 = 1_764_032_400) throws(EmulatorRequestError) {
        try verifier.verify(station: station, method: method, target: target, header: { headers[$0] }, body: body, now: now)
    }
}

@Suite("Signed requests: the verifier")
struct SignatureVerifierTests {
    func rejection(_ parts: SignedParts, _ verifier: inout SignatureVerifier, now: Int64 = 1_764_032_400) -> EmulatorRequestError? {
        do {
            try parts.verify(with: &verifier, now: now)
            return nil
        } catch {
            return error
        }
    }

    @Test func aCorrectlySignedRequestPassesAndItsReplayIsRejected() throws {
        var verifier = SignatureVerifier(keys: SigningKeyring(defaultKey: knownKey))
        var parts = SignedParts()
        parts.target = "/api/v1/stations/ST-1/events"  // behind a path prefix
        parts.sign()
        // The signature is the known answer computed with OpenSSL above.
        #expect(parts.headers[RequestSignature.signatureHeader] == "f49b155dfcd76924d29cb1cd4dad7a2b1d94505d5bcd57d884a96b9cb14967d9")
        try parts.verify(with: &verifier)
        #expect(verifier.rememberedNonces == 1)

        let replay = try #require(rejection(parts, &verifier, now: 1_764_032_410))
        #expect(replay.status == 401)
        #expect(replay.body.error == "replayed")
        #expect(replay.body.detail.contains(knownNonce))

        // The same request with a fresh nonce (a retry) is a new request.
        var retry = parts
        retry.nonce = "fedcba9876543210fedcba9876543210"
        retry.sign()
        try retry.verify(with: &verifier, now: 1_764_032_410)
        // Another station may use the same nonce.
        var other = parts
        other.station = "ST-2"
        other.target = "/v1/stations/ST-2/events"
        other.sign()
        try other.verify(with: &verifier)
    }

    @Test func theTimestampWindowIsPlusOrMinus300SecondsInclusive() {
        var verifier = SignatureVerifier(keys: SigningKeyring(defaultKey: knownKey))
        var parts = SignedParts()
        for (offset, accepted) in [(-300, true), (300, true), (-301, false), (301, false)] {
            parts.nonce = "n\(offset + 1000)-0123456789abcdef"
            parts.sign()
            let error = rejection(parts, &verifier, now: 1_764_032_400 - Int64(offset))
            #expect((error == nil) == accepted, "skew \(offset): \(String(describing: error))")
            if let error {
                #expect(error.body.error == "timestamp_out_of_window")
                #expect(error.body.detail.contains("301 s \(offset < 0 ? "behind" : "ahead of") the platform's clock"), "\(error.body.detail)")
                #expect(error.body.detail.contains("NTP"))
            }
        }
    }

    @Test func aChangedBodyMethodPathOrKeyIsRejectedNamingWhatIsWrong() throws {
        var verifier = SignatureVerifier(keys: SigningKeyring(defaultKey: knownKey))

        var body = SignedParts()
        body.body = Array(#"{"events":[1]}"#.utf8)
        let changedBody = try #require(rejection(body, &verifier))
        #expect(changedBody.body.error == "content_mismatch")
        #expect(changedBody.body.detail.contains("the body was changed after it was signed"))

        // An attacker who also rewrites the declared hash still lacks the key.
        var rehashed = body
        rehashed.headers[RequestSignature.contentHashHeader] = RequestSignature.contentHash(rehashed.body)
        #expect(try #require(rejection(rehashed, &verifier)).body.error == "bad_signature")

        var method = SignedParts()
        method.method = "PUT"
        #expect(try #require(rejection(method, &verifier)).body.error == "bad_signature")

        var path = SignedParts()
        path.target = "/v1/stations/ST-1/heartbeat"
        #expect(try #require(rejection(path, &verifier)).body.error == "bad_signature")

        var key = SignedParts()
        key.key = try HMACKey.parse(hex: String(repeating: "5a", count: 32)).get()
        key.sign()
        let wrongKey = try #require(rejection(key, &verifier))
        #expect(wrongKey.status == 401)
        #expect(wrongKey.body.error == "bad_signature")
        #expect(wrongKey.body.detail.contains("station \"ST-1\"'s key"))

        var flipped = SignedParts()
        var signature = Array(flipped.headers[RequestSignature.signatureHeader]!)
        signature[63] = signature[63] == "0" ? "1" : "0"
        flipped.headers[RequestSignature.signatureHeader] = String(signature)
        #expect(try #require(rejection(flipped, &verifier)).body.error == "bad_signature")

        // None of the rejected requests used up the nonce: the genuine request still passes.
        #expect(verifier.rememberedNonces == 0)
        try SignedParts().verify(with: &verifier)
    }

    @Test func missingOrMalformedHeadersAndUnknownStationsAreNamed() throws {
        var verifier = SignatureVerifier(keys: SigningKeyring(stations: ["ST-1": knownKey]))
        for header in [
            RequestSignature.timestampHeader, RequestSignature.nonceHeader, RequestSignature.contentHashHeader,
            RequestSignature.signatureHeader,
        ] {
            var parts = SignedParts()
            parts.headers[header] = nil
            let error = try #require(rejection(parts, &verifier))
            #expect(error.body.error == "signature_missing")
            #expect(error.body.detail.hasPrefix("\(header) header missing"))
            #expect(error.body.detail.contains("platform.signing_key_file"))
        }
        var timestamp = SignedParts()
        timestamp.headers[RequestSignature.timestampHeader] = "2026-11-25T01:00:00Z"
        #expect(try #require(rejection(timestamp, &verifier)).body.detail.hasPrefix("X-Station-Timestamp: \"2026-11-25T01:00:00Z\" is not Unix seconds"))
        var nonce = SignedParts()
        nonce.nonce = "short"
        nonce.sign()
        #expect(try #require(rejection(nonce, &verifier)).body.error == "signature_malformed")
        var upper = SignedParts()
        upper.headers[RequestSignature.signatureHeader] = upper.headers[RequestSignature.signatureHeader]!.uppercased()
        #expect(try #require(rejection(upper, &verifier)).body.detail.hasPrefix("X-Station-Signature: must be 64 lower-case hex digits"))

        var stranger = SignedParts()
        stranger.station = "ST-9"
        stranger.target = "/v1/stations/ST-9/events"
        stranger.sign()
        let unknown = try #require(rejection(stranger, &verifier))
        #expect(unknown.body.error == "unknown_station_key")
        #expect(unknown.body.detail.contains("\"ST-9\""))
    }

    @Test func perStationKeysWinOverTheDefaultKey() throws {
        let own = try HMACKey.parse(hex: String(repeating: "a5", count: 32)).get()
        var verifier = SignatureVerifier(keys: SigningKeyring(defaultKey: knownKey, stations: ["ST-2": own]))
        var second = SignedParts()
        second.station = "ST-2"
        second.target = "/v1/stations/ST-2/events"
        second.sign()
        #expect(try #require(rejection(second, &verifier)).body.error == "bad_signature")
        second.key = own
        second.sign()
        try second.verify(with: &verifier)
        try SignedParts().verify(with: &verifier)
    }

    @Test func nonceMemoryIsForgottenOnceTheTimestampHasLeftTheWindow() throws {
        var verifier = SignatureVerifier(keys: SigningKeyring(defaultKey: knownKey))
        for index in 0..<5 {
            var parts = SignedParts()
            parts.nonce = "nonce-\(index)-0123456789abcdef"
            parts.sign()
            try parts.verify(with: &verifier)
        }
        #expect(verifier.rememberedNonces == 5)
        var later = SignedParts()
        later.timestamp += 301
        later.nonce = "later-0123456789abcdef"
        later.sign()
        try later.verify(with: &verifier, now: later.timestamp)
        #expect(verifier.rememberedNonces == 1)
        // The old request itself cannot come back: its timestamp is now out of the window.
        #expect(rejection(SignedParts(), &verifier, now: later.timestamp)?.body.error == "timestamp_out_of_window")
    }
}

@Suite("Signed requests: the emulator over HTTP")
struct SignedRequestRouteTests {
    func headers(_ parts: SignedParts) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        for (name, value) in parts.headers {
            fields[HTTPFields.Element.Name(name)!] = value
        }
        return fields
    }

    func signedIngest(_ request: IngestRequest, now: Date = Date(), nonce: String = RequestSignerNonce.next()) throws -> SignedParts {
        var parts = SignedParts()
        parts.body = Array(try JSONEncoder().encode(request))
        parts.timestamp = Int64(now.timeIntervalSince1970)
        parts.nonce = nonce
        parts.target = PlatformAPI.ingestPath(stationID: request.station.id)
        parts.station = request.station.id
        parts.sign()
        return parts
    }

    func send(_ client: some TestClientProtocol, _ parts: SignedParts) async throws -> TestResponse {
        try await client.execute(
            uri: parts.target, method: HTTPRequest.Method(parts.method)!, headers: headers(parts), body: ByteBuffer(bytes: parts.body))
    }

    @Test func signedBatchesAreStoredUnsignedTamperedStaleAndReplayedOnesGet401() async throws {
        let harness = try Harness(signingKeys: SigningKeyring(defaultKey: knownKey))
        try await harness.test { client in
            let request = ingestRequest(station: "ST-1", [wireEvent(1)])
            let parts = try signedIngest(request)
            let accepted = try await send(client, parts)
            #expect(accepted.status == .ok)
            #expect(try decode(IngestResponse.self, accepted).results == [IngestResult(id: uuid(1), status: .accepted)])

            let replay = try await send(client, parts)
            #expect(replay.status == .unauthorized)
            #expect(try decode(ErrorBody.self, replay).error == "replayed")

            let unsigned = try await post(client, ingestRequest(station: "ST-1", [wireEvent(2)]))
            #expect(unsigned.status == .unauthorized)
            let missing = try decode(ErrorBody.self, unsigned)
            #expect(missing.error == "signature_missing")
            #expect(missing.detail.contains("X-Station-Timestamp header missing"))

            var tampered = try signedIngest(ingestRequest(station: "ST-1", [wireEvent(3)]))
            tampered.body = Array(try JSONEncoder().encode(ingestRequest(station: "ST-1", [wireEvent(4)])))
            let changed = try await send(client, tampered)
            #expect(changed.status == .unauthorized)
            #expect(try decode(ErrorBody.self, changed).error == "content_mismatch")

            let stale = try await send(client, try signedIngest(ingestRequest(station: "ST-1", [wireEvent(5)]), now: Date() - 600))
            #expect(stale.status == .unauthorized)
            #expect(try decode(ErrorBody.self, stale).error == "timestamp_out_of_window")

            let page = try await receivedPage(client)
            #expect(page.events.map(\.event.id) == [uuid(1)], "only the genuine request stored anything")
            #expect(try await stats(client).badRequests == 4)
        }
    }

    @Test func heartbeatAndCommandLongPollAreVerifiedToo() async throws {
        let harness = try Harness(signingKeys: SigningKeyring(stations: ["ST-1": knownKey]))
        try await harness.test { client in
            var poll = SignedParts()
            poll.method = "GET"
            poll.target = "/v1/stations/ST-1/commands?after=0&waitSeconds=1"
            poll.body = []
            poll.timestamp = Int64(Date().timeIntervalSince1970)
            poll.nonce = RequestSignerNonce.next()
            poll.sign()
            let answered = try await client.execute(uri: poll.target, method: .get, headers: headers(poll))
            #expect(answered.status == .ok, "\(String(buffer: answered.body))")

            var otherQuery = poll
            otherQuery.target = "/v1/stations/ST-1/commands?after=5&waitSeconds=1"
            otherQuery.nonce = RequestSignerNonce.next()
            otherQuery.headers[RequestSignature.nonceHeader] = otherQuery.nonce
            let rewritten = try await client.execute(uri: otherQuery.target, method: .get, headers: headers(otherQuery))
            #expect(rewritten.status == .unauthorized)
            #expect(try decode(ErrorBody.self, rewritten).error == "bad_signature")

            let unsigned = try await client.execute(uri: "/v1/stations/ST-1/heartbeat", method: .post, headers: jsonHeaders, body: ByteBuffer(string: "{}"))
            #expect(unsigned.status == .unauthorized)
            #expect(try decode(ErrorBody.self, unsigned).error == "signature_missing")
        }
    }

    @Test func withoutKeysNothingNeedsSigning() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let response = try await post(client, ingestRequest(station: "ST-1", [wireEvent(1)]))
            #expect(response.status == .ok)
        }
    }

    @Test func theReadAPIShowsWhetherACardWasSentRawOrAsAPseudonym() async throws {
        let harness = try Harness()
        try await harness.test { client in
            var pseudonymous = wireEvent(1)
            pseudonymous.card = WireCard(
                uid: CardPseudonymizer(key: knownKey).pseudonym(of: "0102030405"), format: "em4100", uidKind: "pseudonym-hmac-sha256")
            var legacy = wireEvent(2)
            legacy.card = WireCard(uid: "0102030405", format: "em4100")
            let response = try await post(client, ingestRequest(station: "ST-1", [pseudonymous, legacy, wireEvent(3)]))
            #expect(response.status == .ok)
            let cards = try await receivedPage(client).events.map(\.event.card)
            #expect(cards.map { $0?.uidKind } == ["pseudonym-hmac-sha256", "raw", "raw"])
            #expect(cards.first??.uid == "ae2ac10871da891db451b87611e41e0d40b55c4351c28796044bc1f90ea7de05")
            let log = try #require(harness.logs.entries.last { $0.message == "stored ingest batch" })
            #expect(log.metadata["cards.pseudonym"] == "1")
            #expect(log.metadata["cards.raw"] == "2")

            var bad = wireEvent(4)
            bad.card = WireCard(uid: "0102030405", format: "em4100", uidKind: "pseudonym-hmac-sha256")
            let rejected = try await post(client, ingestRequest(station: "ST-1", [bad]))
            #expect(rejected.status == .badRequest)
            #expect(try decode(ErrorBody.self, rejected).detail.hasPrefix("events[0].card.uid: a pseudonym-hmac-sha256 uid is 64 lower-case hex digits"))
            var unknown = wireEvent(5)
            unknown.card = WireCard(uid: "0102030405", format: "em4100", uidKind: "hashed")
            let unknownKind = try await post(client, ingestRequest(station: "ST-1", [unknown]))
            #expect(try decode(ErrorBody.self, unknownKind).detail.hasPrefix("events[0].card.uidKind: \"hashed\" is not one of raw, pseudonym-hmac-sha256"))
        }
    }
}

/// Fresh nonces for tests that talk to a live verifier.
enum RequestSignerNonce {
    static func next() -> String { UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }
}
