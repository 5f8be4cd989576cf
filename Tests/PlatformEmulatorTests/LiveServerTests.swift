import Foundation
import Hummingbird
import HummingbirdTesting
import PlatformAPI
import Testing

@testable import PlatformEmulator

actor PortRecorder {
    private(set) var ports: [Int] = []

    func record(_ port: Int) {
        ports.append(port)
    }
}

@Suite("Live server")
struct LiveServerTests {
    @Test("on port 0 the emulator reports the real bound port through onListening, and answers there")
    func ephemeralPort() async throws {
        let harness = try Harness()
        let recorder = PortRecorder()
        try await harness.test(.live, onListening: { port in await recorder.record(port) }) { client in
            let ports = await recorder.ports
            #expect(ports.count == 1)
            let port = try #require(ports.first)
            #expect(port > 0)
            #expect(port == client.port)
            let response = try await post(client, ingestRequest([wireEvent(1)]))
            #expect(response.status == .ok)
            #expect(try decode(IngestResponse.self, response).results.map(\.status) == [.accepted])
        }
    }
}
