import AsyncHTTPClient
import Foundation
import NIOCore
import PlatformAPI
import Testing
import Uplink

@Suite("Request signer: the headers the agent sends")
struct RequestSignerTests {
    let key = try! HMACKey.parse(hex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").get()

    @Test func headersOfAnIngestRequestAreTheKnownAnswer() {
        let signer = RequestSigner(
            key: key, now: { Date(timeIntervalSince1970: 1_764_032_400.75) }, nonce: { "0123456789abcdef0123456789abcdef" })
        let headers = signer.headers(
            method: "POST", url: "https://platform.example.cn/api/v1/stations/ST-1/events", body: Array(#"{"events":[]}"#.utf8))
        // Computed with OpenSSL (see PlatformEmulatorTests/SignatureTests.swift):
        // the canonical string's target is the URL's path, base path prefix included.
        #expect(headers.map(\.name) == ["X-Station-Timestamp", "X-Station-Nonce", "X-Station-Content-SHA256", "X-Station-Signature"])
        #expect(
            headers.map(\.value) == [
                "1764032400", "0123456789abcdef0123456789abcdef", "24de1c4a19c43ad41b013f13dcd858c17b0daa7f33a53f19913e5b11366d1c2e",
                "f49b155dfcd76924d29cb1cd4dad7a2b1d94505d5bcd57d884a96b9cb14967d9",
            ])
    }

    @Test func aLongPollSignsItsQueryAndAnEmptyBody() {
        let signer = RequestSigner(key: key, now: { Date(timeIntervalSince1970: 1_764_032_400) }, nonce: { "0123456789abcdef0123456789abcdef" })
        let headers = signer.headers(method: "GET", url: "http://127.0.0.1:8080/v1/stations/ST-1/commands?after=0&waitSeconds=25", body: [UInt8]())
        #expect(headers.last?.value == "fe728b2034e85e97a536b4f70186880ebcc3ffdf985f3317d786b6b6206907c9")
    }

    @Test func targetIsThePathAndQueryAsSent() {
        #expect(RequestSigner.target(of: "https://p.example/api/v1/x?a=1&b=%20") == "/api/v1/x?a=1&b=%20")
        #expect(RequestSigner.target(of: "http://p.example") == "/")
        #expect(RequestSigner.target(of: "http://p.example:81/v1/stations/ST-1/heartbeat") == "/v1/stations/ST-1/heartbeat")
    }

    @Test func everyRequestGetsAFreshNonce() {
        let nonces = Set((0..<100).map { _ in RequestSigner.randomNonce() })
        #expect(nonces.count == 100)
        #expect(nonces.allSatisfy { $0.count == 32 && RequestSignature.isValidNonce($0) })
    }
}
