/// What `PUT /v1/control/faults` asks the emulator to do to the next ingest requests.
///
/// ```json
/// {"status": 503, "count": 3, "retryAfterSeconds": 2, "delayMs": 0, "acknowledgeOnly": null}
/// ```
/// The setting affects the next `count` ingest requests as a whole (every part of it), then
/// clears itself; `count` `nil` keeps it until `DELETE /v1/control/faults`.
public struct FaultSettings: Codable, Sendable, Hashable {
    /// Answer with this HTTP status (400...599) instead of storing anything.
    public var status: Int?
    /// How many ingest requests the setting affects; `nil` = until cleared.
    public var count: Int?
    /// Send `Retry-After: <seconds>` with the injected status.
    public var retryAfterSeconds: Int?
    /// Wait this long before answering (after storing, when the request is stored).
    public var delayMs: Int?
    /// Store and acknowledge only the first `k` events of each batch; the rest get no result.
    public var acknowledgeOnly: Int?
    /// Close the connection in the middle of the answer: the status line and headers go out,
    /// the body never completes, so the client cannot tell whether the batch was taken.
    /// `before-store` stores nothing; `after-store` stores the batch first (the case that makes
    /// the agent send events the platform already has).
    public var dropConnection: DropPoint?

    public enum DropPoint: String, Codable, Sendable, Hashable {
        case beforeStore = "before-store"
        case afterStore = "after-store"
    }

    /// What the injected `status` answer carries: the platform's own `ErrorBody` (the default),
    /// a proxy's or captive portal's HTML page, or nothing. A 3xx status also gets a `Location`.
    public var body: FaultBody?

    public enum FaultBody: String, Codable, Sendable, Hashable {
        case errorBody = "error-body"
        case html
        case empty
    }

    /// A 200 that is wrong: `truncated` stores the batch and answers half an `IngestResponse`;
    /// `wrong-ids` stores nothing and answers verdicts for events that are not in the batch;
    /// `upper-case-ids` stores the batch and answers its ids in upper case (ids compare
    /// case-insensitively); `answered-twice` stores the batch and answers each event twice, first
    /// with its true verdict and then `rejected`; `stalled` stores nothing, sends 200 and its
    /// headers (a body of 100,000 bytes announced) and a few bytes, then nothing for a minute.
    public var answer: FaultAnswer?

    public enum FaultAnswer: String, Codable, Sendable, Hashable {
        case truncated
        case wrongIDs = "wrong-ids"
        case upperCaseIDs = "upper-case-ids"
        case answeredTwice = "answered-twice"
        case stalled
    }

    public init(
        status: Int? = nil, count: Int? = nil, retryAfterSeconds: Int? = nil, delayMs: Int? = nil,
        acknowledgeOnly: Int? = nil, dropConnection: DropPoint? = nil, body: FaultBody? = nil, answer: FaultAnswer? = nil
    ) {
        self.body = body
        self.answer = answer
        self.status = status
        self.count = count
        self.retryAfterSeconds = retryAfterSeconds
        self.delayMs = delayMs
        self.acknowledgeOnly = acknowledgeOnly
        self.dropConnection = dropConnection
    }

    /// The integer fields, for naming one whose number does not fit.
    static let integerFields: [String: RequestValidation.IntegerField] = [
        "status": .int64, "count": .int64, "retryAfterSeconds": .int64, "delayMs": .int64, "acknowledgeOnly": .int64,
    ]

    /// Longest delay accepted, in milliseconds (one minute).
    public static let maxDelayMs = 60_000

    /// Checks the ranges; the error names the field.
    public func validate() throws(EmulatorRequestError) {
        if let status, !(300...599).contains(status) {
            throw .badRequest("status: \(status) is not a redirect or error status; use 300...599 (503 or 429 to test retries)")
        }
        if body != nil && status == nil {
            throw .badRequest("body: only shapes an injected status; set status too")
        }
        if answer != nil && (status != nil || acknowledgeOnly != nil || dropConnection != nil) {
            throw .badRequest("answer: cannot be combined with status, acknowledgeOnly or dropConnection (it is a 200 of its own)")
        }
        if let count, count < 1 {
            throw .badRequest("count: \(count) is below 1; use null to keep the fault until DELETE /v1/control/faults")
        }
        if let retryAfterSeconds {
            if retryAfterSeconds < 0 {
                throw .badRequest("retryAfterSeconds: \(retryAfterSeconds) is negative")
            }
            if status == nil {
                throw .badRequest("retryAfterSeconds: only sent with an injected status; set status too")
            }
        }
        if let delayMs, !(0...Self.maxDelayMs).contains(delayMs) {
            throw .badRequest("delayMs: \(delayMs) is outside 0...\(Self.maxDelayMs)")
        }
        if let acknowledgeOnly {
            if acknowledgeOnly < 0 {
                throw .badRequest("acknowledgeOnly: \(acknowledgeOnly) is negative")
            }
            if status != nil {
                throw .badRequest("acknowledgeOnly: cannot be combined with status (an injected status stores nothing)")
            }
        }
        if dropConnection != nil && (status != nil || acknowledgeOnly != nil) {
            throw .badRequest("dropConnection: cannot be combined with status or acknowledgeOnly (no answer is completed)")
        }
        if status == nil && (delayMs ?? 0) == 0 && acknowledgeOnly == nil && dropConnection == nil && answer == nil {
            throw .badRequest(
                "status, delayMs, acknowledgeOnly, dropConnection, answer: none is set, so there is nothing to inject; "
                    + "use DELETE /v1/control/faults to clear"
            )
        }
    }
}

/// `GET`, `PUT` and `DELETE /v1/control/faults` response body.
public struct FaultState: Codable, Sendable, Hashable {
    /// Whether the next ingest request will be affected.
    public var active: Bool
    /// The setting in force, if any.
    public var settings: FaultSettings?
    /// Ingest requests still to be affected; `nil` = until cleared (or no setting).
    public var remaining: Int?
    /// Ingest requests affected since the setting was made.
    public var applied: Int

    public init(active: Bool, settings: FaultSettings?, remaining: Int?, applied: Int) {
        self.active = active
        self.settings = settings
        self.remaining = remaining
        self.applied = applied
    }
}

/// The emulator's fault setting, shared by the control routes and the ingest route.
public actor FaultInjector {
    private var settings: FaultSettings?
    private var remaining: Int?
    private var applied = 0

    public init() {}

    /// Replaces the setting (after validating it) and returns the new state.
    @discardableResult
    public func set(_ newSettings: FaultSettings) throws(EmulatorRequestError) -> FaultState {
        try newSettings.validate()
        settings = newSettings
        remaining = newSettings.count
        applied = 0
        return state
    }

    /// Removes any setting: ingest requests are answered normally again.
    @discardableResult
    public func clear() -> FaultState {
        settings = nil
        remaining = nil
        applied = 0
        return state
    }

    /// The current setting and how much of it is left.
    public var state: FaultState {
        FaultState(active: settings != nil, settings: settings, remaining: remaining, applied: applied)
    }

    /// Takes the setting for one ingest request, counting it down; `nil` when none is in force.
    public func takeForRequest() -> FaultSettings? {
        guard let current = settings else { return nil }
        applied += 1
        if let left = remaining {
            if left <= 1 {
                settings = nil
                remaining = nil
            } else {
                remaining = left - 1
            }
        }
        return current
    }
}
