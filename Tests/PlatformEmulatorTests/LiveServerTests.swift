import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PlatformAPI
import TestSupport
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

@Suite("Live long-poll")
struct LiveLongPollTests {
    @Test("an operator action wakes a waiting long-poll within milliseconds, over real sockets")
    func operatorActionWakesLongPoll() async throws {
        let harness = try Harness()
        try await harness.test(.live) { client in
            try await post(client, ingestRequest([wireEvent(1, kind: "alarm")]))
            let port = try #require(client.port)
            // The station's long-poll holds its own connection, as the agent's does.
            try await TestClient.withClient(host: "127.0.0.1", port: port) { station in
                try await withThrowingTaskGroup(of: (CommandPage, ContinuousClock.Instant).self) { group in
                    group.addTask {
                        let response = try await station.get(PlatformAPI.commandsPath(stationID: "station-1") + "?after=0&waitSeconds=10")
                        #expect(response.status == .ok)
                        let page = try JSONDecoder().decode(CommandPage.self, from: Data((response.body ?? ByteBuffer()).readableBytesView))
                        return (page, ContinuousClock.now)
                    }
                    #expect(await eventually { harness.store.commandSignal.waitingCount == 1 })
                    let acted = ContinuousClock.now
                    let response = try await operatorAct(client, .acknowledge, uuid(1), OperatorAction(operatorName: "Li Wei"))
                    #expect(response.status == .ok)
                    let (page, answered) = try #require(try await group.next())
                    let latency = answered - acted
                    #expect(page.commands.map(\.type) == [.alarmAcknowledged])
                    #expect(page.commands.first?.operatorName == "Li Wei")
                    #expect(page.next == 1)
                    // Woken by the action, not by the 10 s timeout (which would answer an empty page): a few
                    // milliseconds on an idle machine; the bound leaves room for a loaded CI runner.
                    #expect(latency < .seconds(3), "long-poll answered \(latency) after the action")
                }
            }
        }
    }
}
