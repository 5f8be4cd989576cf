import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PlatformAPI

// The routes of the alarm loop: the station's command long-poll and heartbeat (what a real
// platform implements), and the operator's console (emulator only).

extension EmulatorRoutes {
    static let operatorAlarmsPath = "/v1/operator/alarms"
    static let stationsPath = "/v1/stations"
    /// Default `waitSeconds` of the command long-poll.
    static let defaultCommandWaitSeconds = 25
    /// Largest heartbeat or operator-action body accepted, in bytes.
    static let maxSmallBodyBytes = 256 * 1024

    func registerAlarmLoop(on router: Router<BasicRequestContext>) {
        router.get("/v1/stations/:stationId/commands") { request, context in
            try await commands(request, context: context)
        }
        router.post("/v1/stations/:stationId/heartbeat") { request, context in
            try await heartbeat(request, context: context)
        }
        router.get(RouterPath(Self.stationsPath)) { request, _ in
            let silentAfter = try integerParameter(
                "silentAfterSeconds", in: request.uri.queryParameters, default: Int64(EmulatorStore.defaultSilentAfterSeconds)
            )
            guard let seconds = Int(exactly: silentAfter) else {
                throw EmulatorRequestError.badRequest("silentAfterSeconds: \(silentAfter) is out of range")
            }
            return try jsonResponse(try await store.stations(silentAfterSeconds: seconds))
        }
        router.get(RouterPath(Self.operatorAlarmsPath)) { request, _ in
            try await alarms(request)
        }
        for action in AlarmAction.allCases {
            router.post(RouterPath(Self.operatorAlarmsPath + "/:eventId/" + action.rawValue)) { request, context in
                try await operatorAction(action, request, context: context)
            }
        }
    }

    // MARK: Station side

    private func commands(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try authorize(request)
        let request = try await checkSignature(request, context: context, bodyLimit: Self.maxSmallBodyBytes)
        let stationID = stationID(in: context)
        let query = request.uri.queryParameters
        let after = try integerParameter("after", in: query, default: 0)
        let wait = try integerParameter("waitSeconds", in: query, default: Int64(Self.defaultCommandWaitSeconds))
        guard (1...Int64(PlatformAPI.maxCommandWaitSeconds)).contains(wait) else {
            throw EmulatorRequestError.badRequest(
                "waitSeconds: \(wait) is outside 1...\(PlatformAPI.maxCommandWaitSeconds); "
                    + "leave it out for the default of \(Self.defaultCommandWaitSeconds)"
            )
        }
        let page = try await store.commands(station: stationID, after: after, wait: .seconds(wait))
        if !page.commands.isEmpty {
            logger.info(
                "delivered commands to station",
                metadata: [
                    "station": "\(stationID)", "after": "\(after)", "next": "\(page.next)",
                    "commands": "\(page.commands.map { "\($0.id):\($0.type.rawValue)" }.joined(separator: ","))",
                ]
            )
        }
        return try jsonResponse(page)
    }

    private func heartbeat(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try authorize(request)
        let request = try await checkSignature(request, context: context, bodyLimit: Self.maxSmallBodyBytes)
        let stationID = stationID(in: context)
        try checkContentType(request)
        let body = try await smallBody(request)
        let heartbeat = try RequestValidation.heartbeat(from: body)
        try await store.recordHeartbeat(heartbeat, stationID: stationID)
        logger.debug(
            "heartbeat",
            metadata: [
                "station": "\(stationID)", "agentVersion": "\(heartbeat.agentVersion)",
                "queued": "\(heartbeat.queued.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
                "latched": "\(heartbeat.latchedAlarms.count)",
            ]
        )
        return Response(status: .noContent)
    }

    // MARK: Operator side

    private func alarms(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let station = query["station"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        var state: AlarmView.State?
        if let text = query["state"], !text.isEmpty {
            guard let parsed = AlarmView.State(rawValue: String(text)) else {
                throw EmulatorRequestError.badRequest(
                    "state: \(RequestValidation.quoted(String(text))) is not one of received, acknowledged, dispatched, reset"
                )
            }
            state = parsed
        }
        let limit = try integerParameter("limit", in: query, default: Int64(EmulatorStore.defaultAlarmLimit))
        guard let pageLimit = Int(exactly: limit) else {
            throw EmulatorRequestError.badRequest("limit: \(limit) is outside 1...\(EmulatorStore.maxPageLimit)")
        }
        return try jsonResponse(try await store.alarms(station: station, state: state, limit: pageLimit))
    }

    private func operatorAction(_ action: AlarmAction, _ request: Request, context: BasicRequestContext) async throws -> Response {
        let rawID = context.parameters.get("eventId") ?? ""
        let eventID = rawID.removingPercentEncoding ?? rawID
        let body = try await smallBody(request)
        var details = OperatorAction()
        if !body.isEmpty {
            try checkContentType(request)
            details = try RequestValidation.decodeJSON(OperatorAction.self, from: body)
        }
        let (alarm, command) = try await store.apply(action, toAlarm: eventID, by: details)
        logger.notice(
            "operator action",
            metadata: [
                "alarm": "\(alarm.eventId)", "station": "\(alarm.stationID)", "action": "\(action.rawValue)",
                "state": "\(alarm.state.rawValue)", "command.id": "\(command.id)",
                "operator": "\(details.operatorName ?? "-")",
            ]
        )
        return try jsonResponse(alarm)
    }

    private func smallBody(_ request: Request) async throws -> Data {
        do {
            let buffer = try await request.body.collect(upTo: Self.maxSmallBodyBytes)
            return Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw EmulatorRequestError.tooLarge("request body: larger than \(Self.maxSmallBodyBytes) bytes")
        }
    }
}
