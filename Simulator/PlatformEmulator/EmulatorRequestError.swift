import PlatformAPI

/// A request the emulator refuses, together with the HTTP answer it becomes.
///
/// The body is an ``PlatformAPI/ErrorBody`` whose `detail` names the offending field
/// (`events[3].kind: ...`), so a developer can fix the sender without reading server logs.
public struct EmulatorRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status code: 400, 401, 404, 409, 413, 415, or an injected fault's status.
    public var status: Int
    /// The JSON body sent with the status.
    public var body: ErrorBody
    /// Seconds to send in a `Retry-After` header, if any.
    public var retryAfterSeconds: Int?

    public init(status: Int, error: String, detail: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.body = ErrorBody(error: error, detail: detail)
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// 400 `bad_request`: the request does not match the API document.
    public static func badRequest(_ detail: String) -> Self {
        Self(status: 400, error: "bad_request", detail: detail)
    }

    /// 401 `unauthorized`: missing or wrong bearer token.
    public static func unauthorized(_ detail: String) -> Self {
        Self(status: 401, error: "unauthorized", detail: detail)
    }

    /// 404 `not_found`: the resource named in the path does not exist (an unknown alarm).
    public static func notFound(_ detail: String) -> Self {
        Self(status: 404, error: "not_found", detail: detail)
    }

    /// 409 `conflict`: the request makes no sense in the resource's current state (acknowledging
    /// an alarm that was already reset).
    public static func conflict(_ detail: String) -> Self {
        Self(status: 409, error: "conflict", detail: detail)
    }

    /// 413 `too_large`: too many events or too many bytes in one request.
    public static func tooLarge(_ detail: String) -> Self {
        Self(status: 413, error: "too_large", detail: detail)
    }

    /// 415 `unsupported_media_type`: the body is not declared as JSON.
    public static func unsupportedMediaType(_ detail: String) -> Self {
        Self(status: 415, error: "unsupported_media_type", detail: detail)
    }

    public var description: String { "HTTP \(status) \(body.error): \(body.detail)" }
}
