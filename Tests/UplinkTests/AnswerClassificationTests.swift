import Foundation
import NIOCore
import NIOHTTP1
import PlatformAPI
import Testing
@testable import Uplink

/// The one classification of platform answers (docs/platform-api.md, "How the kiosk reads your
/// answers"): only 400/413/422 in the platform's own `ErrorBody` refuse events.
@Suite struct AnswerClassificationTests {
    static let errorBody = ByteBuffer(string: #"{"error":"bad_request","detail":"events[0].kind: \"x\" is unknown"}"#)
    static let html = ByteBuffer(string: "<html><body><h1>400 Bad Request</h1><p>nginx</p></body></html>")

    func classify(_ code: Int, _ body: ByteBuffer, retryAfter: String? = nil) -> UplinkError? {
        var headers = HTTPHeaders()
        if let retryAfter { headers.add(name: "Retry-After", value: retryAfter) }
        do {
            try PlatformClient.check(HTTPResponseStatus(statusCode: code), headers: headers, body: body, method: "POST", url: "http://p/x")
            return nil
        } catch {
            return error
        }
    }

    @Test func onlyThePlatformsOwnRefusalRefusesEvents() throws {
        for code in [400, 413, 422] {
            let error = try #require(classify(code, Self.errorBody))
            #expect(error.kind == .refused(code))
            #expect(error.isRequestRejected, "\(code) with ErrorBody refuses")
        }
    }

    @Test func everyOtherAnswerKeepsTheEvents() throws {
        let statuses = [301, 302, 303, 307, 308, 401, 403, 404, 405, 408, 409, 410, 415, 418, 429, 451, 500, 501, 502, 503, 504, 599]
        for code in statuses {
            for body in [Self.errorBody, Self.html, ByteBuffer()] {
                let error = try #require(classify(code, body))
                #expect(error.kind == .status(code), "\(code)")
                #expect(!error.isRequestRejected, "\(code) must not refuse events")
            }
        }
        // The refusing statuses from a proxy (an HTML page, an empty body, other JSON) do not refuse.
        for code in [400, 413, 422] {
            for body in [Self.html, ByteBuffer(), ByteBuffer(string: #"{"message":"Bad Request"}"#)] {
                let error = try #require(classify(code, body))
                #expect(error.kind == .status(code))
                #expect(!error.isRequestRejected, "\(code) from a proxy must not refuse events")
            }
        }
    }

    @Test func anyTooLargeAnswerMaySplitTheBatch() throws {
        #expect(try #require(classify(413, Self.html)).isTooLarge)
        #expect(try #require(classify(413, Self.errorBody)).isTooLarge)
        #expect(try #require(classify(400, Self.errorBody)).isTooLarge == false)
    }

    @Test func summariesNameTheStatusForStatus() throws {
        #expect(try #require(classify(404, Self.html)).summary == "refusing: 404 Not Found")
        #expect(try #require(classify(503, Self.errorBody, retryAfter: "7")).retryAfter == .seconds(7))
        #expect(UplinkError(.transport, message: "reset").summary == "unreachable")
        #expect(UplinkError(.mismatchedAnswer, message: "x").summary == "answering with verdicts for events not in the batch")
        #expect(classify(200, Self.html) == nil, "200 is not an error here; its body is read by the caller")
    }

    @Test func verdictsAreMatchedCaseInsensitivelyAndTheFirstCounts() {
        let ids = ["0a1b2c3d-0000-4000-8000-000000000001", "0a1b2c3d-0000-4000-8000-000000000002"]
        let answer = IngestAnswer(
            [
                IngestResult(id: ids[0].uppercased(), status: .accepted),
                IngestResult(id: ids[0], status: .rejected, reason: "again"),
                IngestResult(id: ids[1], status: .duplicate),
            ], batchIDs: ids)
        #expect(answer.results[ids[0]] == IngestResult(id: ids[0], status: .accepted))
        #expect(answer.results[ids[1]]?.status == .duplicate)
        #expect(answer.repeatedIDs == [ids[0]])
        #expect(answer.unknownIDs.isEmpty)
    }

    @Test func verdictsForEventsNotInTheBatchAreCollected() {
        let answer = IngestAnswer(
            [IngestResult(id: "a", status: .accepted), IngestResult(id: "stranger", status: .accepted)], batchIDs: ["a", "b"])
        #expect(answer.unknownIDs == ["stranger"])
        #expect(answer.results.keys.sorted() == ["a"])
    }
}
