import EventModel
import Foundation
import Hummingbird
import HummingbirdTesting
import PlatformAPI
import Testing

@testable import PlatformEmulator

@Suite("Alarm loop: alarms, operator actions, commands")
struct AlarmLoopTests {
    @Test("every event kind is accepted in its lane, and `related` reads back")
    func newKindsAccepted() async throws {
        let harness = try Harness()
        let events = EventKind.allCases.enumerated().map { index, kind in
            wireEvent(index + 1, kind: kind.rawValue, related: kind == .alarmReset ? uuid(2) : nil)
        }
        #expect(events.filter { $0.lane == "alarm" }.map(\.kind) == ["alarm", "alarm_reset", "tamper"])
        try await harness.test { client in
            let response = try await post(client, ingestRequest(events))
            #expect(response.status == .ok)
            #expect(try decode(IngestResponse.self, response).results.map(\.status) == Array(repeating: .accepted, count: events.count))
            let page = try await receivedPage(client)
            #expect(page.events.map(\.event) == events)
            #expect(page.events.first { $0.event.kind == "alarm_reset" }?.event.related == uuid(2))
        }
    }

    @Test("an accepted alarm opens an alarm record; a duplicate or another kind does not")
    func alarmRecordCreated() async throws {
        let clock = ManualClock()
        let harness = try Harness(now: clock.now)
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(1), wireEvent(2, kind: "alarm", device: "alarm-button")]))
            try await post(client, ingestRequest([wireEvent(2, kind: "alarm", device: "alarm-button"), wireEvent(3, kind: "tamper")]))
            let alarms = try await alarmList(client)
            #expect(
                alarms == [
                    AlarmView(
                        eventId: uuid(2), stationID: "station-1", device: "alarm-button",
                        occurredAt: "2026-11-24T10:15:30.123Z", receivedAt: "2027-01-15T08:00:00.000Z", state: .received
                    )
                ]
            )
            #expect(try harness.store.alarm(uuid(2).uppercased())?.state == .received)
        }
    }

    @Test("alarms are listed newest first, filtered by station and state, and the filters are checked")
    func alarmListing() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await post(client, ingestRequest(station: "a", [wireEvent(1, kind: "alarm"), wireEvent(2, kind: "alarm")]))
            try await post(client, ingestRequest(station: "b", [wireEvent(3, seq: 1, kind: "alarm")]))
            try await operatorAct(client, .acknowledge, uuid(1))
            #expect(try await alarmList(client).map(\.eventId) == [uuid(3), uuid(2), uuid(1)])
            #expect(try await alarmList(client, query: "?station=a").map(\.eventId) == [uuid(2), uuid(1)])
            #expect(try await alarmList(client, query: "?state=received").map(\.eventId) == [uuid(3), uuid(2)])
            #expect(try await alarmList(client, query: "?station=a&state=acknowledged").map(\.eventId) == [uuid(1)])
            #expect(try await alarmList(client, query: "?limit=1").map(\.eventId) == [uuid(3)])

            let badState = try await client.execute(uri: "/v1/operator/alarms?state=open", method: .get)
            #expect(badState.status == .badRequest)
            #expect(try decode(ErrorBody.self, badState).detail.hasPrefix("state: \"open\" is not one of received"))
            let badLimit = try await client.execute(uri: "/v1/operator/alarms?limit=0", method: .get)
            #expect(badLimit.status == .badRequest)
            #expect(try decode(ErrorBody.self, badLimit).detail.hasPrefix("limit:"))
        }
    }

    @Test("acknowledge, then dispatch, then reset: each answers the alarm and queues its command")
    func fullLoop() async throws {
        let clock = ManualClock()
        let harness = try Harness(now: clock.now)
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(1, kind: "alarm")]))

            clock.advance(seconds: 1)
            let ack = try await operatorAct(client, .acknowledge, uuid(1), OperatorAction(operatorName: "Li Wei", note: "on the phone"))
            #expect(ack.status == .ok)
            let acknowledged = try decode(AlarmView.self, ack)
            #expect(acknowledged.state == .acknowledged)
            #expect(acknowledged.acknowledgedAt == "2027-01-15T08:00:01.000Z")
            #expect(acknowledged.dispatchedAt == nil && acknowledged.resetAt == nil)

            clock.advance(seconds: 1)
            let dispatched = try decode(AlarmView.self, try await operatorAct(client, .dispatch, uuid(1)))
            #expect(dispatched.state == .dispatched)
            #expect(dispatched.acknowledgedAt == "2027-01-15T08:00:01.000Z")
            #expect(dispatched.dispatchedAt == "2027-01-15T08:00:02.000Z")

            clock.advance(seconds: 1)
            let reset = try decode(AlarmView.self, try await operatorAct(client, .reset, uuid(1), OperatorAction(operatorName: "Li Wei")))
            #expect(reset.state == .reset)
            #expect(reset.resetAt == "2027-01-15T08:00:03.000Z")

            let page = try await commandPage(client, query: "?after=0")
            #expect(
                page == CommandPage(
                    commands: [
                        StationCommand(
                            id: 1, type: .alarmAcknowledged, eventId: uuid(1), operatorName: "Li Wei", note: "on the phone",
                            issuedAt: "2027-01-15T08:00:01.000Z"
                        ),
                        StationCommand(id: 2, type: .alarmDispatched, eventId: uuid(1), issuedAt: "2027-01-15T08:00:02.000Z"),
                        StationCommand(
                            id: 3, type: .alarmReset, eventId: uuid(1), operatorName: "Li Wei", issuedAt: "2027-01-15T08:00:03.000Z"
                        ),
                    ],
                    next: 3
                )
            )
        }
    }

    /// Drives a fresh alarm into `state` through the routes.
    func bring(_ client: some TestClientProtocol, alarm number: Int, to state: AlarmView.State) async throws {
        try await post(client, ingestRequest([wireEvent(number, kind: "alarm")]))
        let path: [AlarmAction] =
            switch state {
            case .received: []
            case .acknowledged: [.acknowledge]
            case .dispatched: [.acknowledge, .dispatch]
            case .reset: [.reset]
            }
        for action in path {
            #expect(try await operatorAct(client, action, uuid(number)).status == .ok)
        }
    }

    @Test(
        "over HTTP every action from every state answers 200 or 409 as the table says",
        arguments: AlarmAction.allCases, AlarmLifecycleTests.states
    )
    func transitionsOverHTTP(_ action: AlarmAction, _ state: AlarmView.State) async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await bring(client, alarm: 1, to: state)
            // Read without waiting: a long-poll with nothing to answer would hold for 25 s.
            let before = try harness.store.commands(station: "station-1", after: 0).commands.count
            let response = try await operatorAct(client, action, uuid(1))
            let after = try harness.store.commands(station: "station-1", after: 0).commands
            if let next = action.nextState(from: state) {
                #expect(response.status == .ok)
                #expect(try decode(AlarmView.self, response).state == next)
                #expect(after.count == before + 1)
                #expect(after.last?.type == action.commandType)
            } else {
                #expect(response.status == .conflict)
                let error = try decode(ErrorBody.self, response)
                #expect(error.error == "conflict")
                #expect(error.detail.hasPrefix("alarm \(uuid(1)): cannot \(action.rawValue) because"))
                #expect(after.count == before)
                #expect(try await alarmList(client).first?.state == state)
            }
        }
    }

    @Test("an unknown alarm is 404, an id that is not a UUID 400, a body that is not JSON 400 or 415")
    func operatorErrors() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(1), wireEvent(2, kind: "alarm")]))
            let unknown = try await operatorAct(client, .acknowledge, uuid(9))
            #expect(unknown.status == .notFound)
            #expect(try decode(ErrorBody.self, unknown) == ErrorBody(
                error: "not_found",
                detail: "alarm \(uuid(9)): no alarm event with this id was received; list alarms with GET /v1/operator/alarms"
            ))
            // A card tap is an event, but not an alarm.
            #expect(try await operatorAct(client, .dispatch, uuid(1)).status == .notFound)
            let notUUID = try await operatorAct(client, .reset, "alarm-2")
            #expect(notUUID.status == .badRequest)
            #expect(try decode(ErrorBody.self, notUUID).detail.hasPrefix("eventId: \"alarm-2\" is not a UUID"))

            let notJSON = try await client.execute(
                uri: "/v1/operator/alarms/\(uuid(2))/acknowledge", method: .post, headers: jsonHeaders,
                body: ByteBuffer(string: "{\"operatorName\": 7}")
            )
            #expect(notJSON.status == .badRequest)
            #expect(try decode(ErrorBody.self, notJSON).detail.hasPrefix("operatorName: wrong type, expected a string"))
            let plain = try await client.execute(
                uri: "/v1/operator/alarms/\(uuid(2))/acknowledge", method: .post, headers: [.contentType: "text/plain"],
                body: ByteBuffer(string: "Li Wei")
            )
            #expect(plain.status == .unsupportedMediaType)
            #expect(try await alarmList(client).first?.state == .received)
            // Upper-case ids name the same alarm.
            #expect(try await operatorAct(client, .acknowledge, uuid(2).uppercased()).status == .ok)
        }
    }

    @Test("command ids increase per station, each station on its own")
    func commandIDsPerStation() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await post(client, ingestRequest(station: "a", [wireEvent(1, kind: "alarm"), wireEvent(2, kind: "alarm")]))
            try await post(client, ingestRequest(station: "b", [wireEvent(3, seq: 1, kind: "alarm")]))
            try await operatorAct(client, .acknowledge, uuid(1))
            try await operatorAct(client, .acknowledge, uuid(3))
            try await operatorAct(client, .dispatch, uuid(2))
            try await operatorAct(client, .reset, uuid(1))
            let a = try await commandPage(client, station: "a", query: "?after=0")
            #expect(a.commands.map(\.id) == [1, 2, 3])
            #expect(a.commands.map(\.eventId) == [uuid(1), uuid(2), uuid(1)])
            #expect(a.commands.map(\.type) == [.alarmAcknowledged, .alarmDispatched, .alarmReset])
            #expect(a.next == 3)
            let b = try await commandPage(client, station: "b", query: "?after=0")
            #expect(b.commands.map(\.id) == [1])
            #expect(b.commands.map(\.eventId) == [uuid(3)])
            let rest = try await commandPage(client, station: "a", query: "?after=1")
            #expect(rest.commands.map(\.id) == [2, 3])
            #expect(rest.next == 3)
        }
    }

    @Test("a long-poll answers at once when there are commands after the cursor")
    func longPollAnswersAtOnce() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(1, kind: "alarm")]))
            try await operatorAct(client, .acknowledge, uuid(1))
            let start = ContinuousClock.now
            let page = try await commandPage(client, query: "?after=0&waitSeconds=30")
            #expect(ContinuousClock.now - start < .seconds(3))
            #expect(page.commands.map(\.id) == [1])
        }
    }

    @Test("a long-poll with nothing to say answers an empty page after waitSeconds")
    func longPollTimesOut() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(1, kind: "alarm")]))
            try await operatorAct(client, .acknowledge, uuid(1))
            let start = ContinuousClock.now
            let page = try await commandPage(client, query: "?after=1&waitSeconds=1")
            let elapsed = ContinuousClock.now - start
            #expect(page == CommandPage(commands: [], next: 1))
            #expect(elapsed >= .milliseconds(950))
            #expect(elapsed < .seconds(5))
            #expect(harness.store.commandSignal.waitingCount == 0)
        }
    }

    @Test("a cursor ahead of the emulator's newest command (emulator restarted in memory) is taken as 0")
    func cursorAhead() async throws {
        let harness = try Harness()
        try await harness.test { client in
            #expect(try await commandPage(client, query: "?after=7&waitSeconds=1") == CommandPage(commands: [], next: 7))
            try await post(client, ingestRequest([wireEvent(1, kind: "alarm")]))
            try await operatorAct(client, .acknowledge, uuid(1))
            let page = try await commandPage(client, query: "?after=7&waitSeconds=1")
            #expect(page.commands.map(\.id) == [1])
            #expect(page.next == 1)
        }
    }

    @Test(
        "the long-poll's parameters are checked, and the 400 names the parameter",
        arguments: [
            ("?waitSeconds=0", "waitSeconds: 0 is outside 1...60"), ("?waitSeconds=61", "waitSeconds: 61 is outside 1...60"),
            ("?waitSeconds=soon", "waitSeconds: \"soon\" is not an integer"), ("?after=-1", "after: -1 is negative"),
            ("?after=x", "after: \"x\" is not an integer"),
        ]
    )
    func longPollParameters(_ query: String, _ prefix: String) async throws {
        let harness = try Harness()
        try await harness.test { client in
            let response = try await getCommands(client, query: query)
            #expect(response.status == .badRequest)
            let detail = try decode(ErrorBody.self, response).detail
            #expect(detail.hasPrefix(prefix), "detail was: \(detail)")
        }
    }

    @Test("the long-poll and the heartbeat check the bearer token like ingest")
    func stationRoutesNeedToken() async throws {
        let harness = try Harness(token: "s3cret")
        try await harness.test { client in
            let noToken = try await getCommands(client, query: "?waitSeconds=1")
            #expect(noToken.status == .unauthorized)
            #expect(noToken.headers[.wwwAuthenticate] == "Bearer realm=\"station-platform\"")
            #expect(try await getCommands(client, query: "?waitSeconds=1", headers: bearer("wrong")).status == .unauthorized)
            #expect(try await getCommands(client, query: "?waitSeconds=1", headers: bearer("s3cret")).status == .ok)
            #expect(try await postHeartbeat(client, sampleHeartbeat()).status == .unauthorized)
            #expect(try await postHeartbeat(client, sampleHeartbeat(), headers: bearer("s3cret")).status == .noContent)
            // The operator's console is emulator-only and open.
            #expect(try await alarmList(client).isEmpty)
        }
    }

    @Test("an alarm_reset from the kiosk resets its alarm without queueing a command")
    func kioskReset() async throws {
        let clock = ManualClock()
        let harness = try Harness(now: clock.now)
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(1, kind: "alarm")]))
            try await operatorAct(client, .acknowledge, uuid(1))
            clock.advance(seconds: 5)
            try await post(client, ingestRequest([wireEvent(2, kind: "alarm_reset", device: "alarm-button", related: uuid(1).uppercased())]))
            let alarm = try #require(try await alarmList(client).first)
            #expect(alarm.state == .reset)
            #expect(alarm.resetAt == "2027-01-15T08:00:05.000Z")
            #expect(alarm.acknowledgedAt == "2027-01-15T08:00:00.000Z")
            #expect(try await commandPage(client, query: "?after=0").commands.map(\.type) == [.alarmAcknowledged])
            #expect(try await operatorAct(client, .dispatch, uuid(1)).status == .conflict)
        }
    }

    @Test("the kiosk's alarm_reset after an operator's reset changes nothing; one from another station resets nothing")
    func resetEdgeCases() async throws {
        let clock = ManualClock()
        let harness = try Harness(now: clock.now)
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(1, kind: "alarm"), wireEvent(2, kind: "alarm")]))
            try await operatorAct(client, .reset, uuid(1))
            clock.advance(seconds: 3)
            // The agent records the platform's reset as an alarm_reset of its own.
            try await post(client, ingestRequest([wireEvent(3, kind: "alarm_reset", related: uuid(1))]))
            // Another station cannot reset station-1's alarm.
            try await post(client, ingestRequest(station: "other", [wireEvent(4, seq: 1, kind: "alarm_reset", related: uuid(2))]))
            // A reset naming no alarm, or an unknown one, is stored and changes nothing.
            try await post(client, ingestRequest([wireEvent(5, kind: "alarm_reset"), wireEvent(6, kind: "alarm_reset", related: uuid(99))]))
            let alarms = try await alarmList(client, query: "?station=station-1")
            #expect(alarms.map(\.eventId) == [uuid(2), uuid(1)])
            #expect(alarms.map(\.state) == [.received, .reset])
            #expect(alarms.last?.resetAt == "2027-01-15T08:00:00.000Z")
            #expect(try await receivedPage(client).events.count == 6)
        }
    }

    @Test("an alarm whose reset arrived first is recorded as reset")
    func resetBeforeAlarm() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await post(client, ingestRequest([wireEvent(2, kind: "alarm_reset", related: uuid(1))]))
            try await post(client, ingestRequest([wireEvent(1, kind: "alarm")]))
            #expect(try await alarmList(client).map(\.state) == [.reset])
        }
    }

    @Test("the store's own entry points apply actions and wake pollers too")
    func storeEntryPoints() throws {
        let harness = try Harness()
        _ = try harness.store.ingest(stationID: "station-1", request: ingestRequest([wireEvent(1, kind: "alarm")]))
        let outcome = try harness.store.apply(.dispatch, toAlarm: uuid(1))
        #expect(outcome.alarm.state == .dispatched)
        #expect(outcome.command.id == 1)
        #expect(harness.store.commandSignal.version(of: "station-1") == 1)
        #expect(throws: EmulatorRequestError.self) { try harness.store.apply(.dispatch, toAlarm: uuid(1)) }
        #expect(harness.store.commandSignal.version(of: "station-1") == 1)
        #expect(try harness.store.commands(station: "station-1", after: 0).commands.map(\.type) == [.alarmDispatched])
    }
}
