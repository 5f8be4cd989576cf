import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import PlatformAPI
import Synchronization

/// The stations' request-signing keys, as the platform holds them.
///
/// ```swift
/// var keys = SigningKeyring()
/// keys.defaultKey = try HMACKey.parse(hex: "000102…").get()   // every station
/// keys.stations["ST-7"] = otherKey                              // this station
/// ```
public struct SigningKeyring: Sendable {
    /// The key of every station that has none of its own.
    public var defaultKey: HMACKey?
    /// Keys by station id.
    public var stations: [String: HMACKey]

    public init(defaultKey: HMACKey? = nil, stations: [String: HMACKey] = [:]) {
        self.defaultKey = defaultKey
        self.stations = stations
    }

    /// No key at all: requests are not required to be signed.
    public var isEmpty: Bool { defaultKey == nil && stations.isEmpty }

    public func key(for station: String) -> HMACKey? { stations[station] ?? defaultKey }
}

/// Checks the signature of a station's request (`docs/platform-api.md`, "Signed requests") and
/// rejects replays. A pure value: the time is passed in, and the nonces it has accepted are its
/// state. Each failure is a 401 whose body names what is wrong.
///
/// Order of checks: the four headers are present and well formed; the station has a key; the
/// timestamp is within ``window`` of `now`; the body's SHA-256 is the one declared; the
/// signature matches; the nonce was not accepted before within the window. A nonce is
/// remembered only once its request has passed every other check, and forgotten when its
/// timestamp leaves the window (from then on the timestamp check rejects the request anyway).
public struct SignatureVerifier: Sendable {
    public var keys: SigningKeyring
    /// Seconds a timestamp may differ from `now`, either way.
    public var window: Int64
    /// Accepted nonces (`station` + newline + `nonce`) and the time they may be forgotten.
    private var accepted: [String: Int64] = [:]

    public init(keys: SigningKeyring, window: Int64 = RequestSignature.window) {
        self.keys = keys
        self.window = window
    }

    /// How many nonces are remembered (bounded by the requests of one window).
    public var rememberedNonces: Int { accepted.count }

    /// Verifies one request.
    /// - Parameters:
    ///   - station: the station the path names.
    ///   - target: the request target as received (path and query).
    ///   - header: the value of a header by name, nil when absent.
    ///   - body: the exact body bytes (empty for none).
    ///   - now: the platform's clock, Unix seconds.
    public mutating func verify(
        station: String, method: String, target: String, header: (String) -> String?, body: some DataProtocol, now: Int64
    ) throws(EmulatorRequestError) {
        func reject(_ code: String, _ detail: String) -> EmulatorRequestError {
            EmulatorRequestError(status: 401, error: code, detail: detail)
        }
        func required(_ name: String) throws(EmulatorRequestError) -> String {
            guard let value = header(name), !value.isEmpty else {
                throw reject(
                    "signature_missing",
                    "\(name) header missing: this platform requires signed requests (\(RequestSignature.timestampHeader), "
                        + "\(RequestSignature.nonceHeader), \(RequestSignature.contentHashHeader), \(RequestSignature.signatureHeader)); "
                        + "set platform.signing_key_file in the station's configuration")
            }
            return value
        }
        let timestampText = try required(RequestSignature.timestampHeader)
        let nonce = try required(RequestSignature.nonceHeader)
        let declaredHash = try required(RequestSignature.contentHashHeader)
        let signature = try required(RequestSignature.signatureHeader)
        guard let timestamp = Int64(timestampText) else {
            throw reject("signature_malformed", "\(RequestSignature.timestampHeader): \"\(timestampText.prefix(40))\" is not Unix seconds")
        }
        guard RequestSignature.isValidNonce(nonce) else {
            throw reject("signature_malformed", "\(RequestSignature.nonceHeader): must be 16 to 64 of A-Z a-z 0-9 - _")
        }
        guard Self.isLowerHex64(declaredHash) else {
            throw reject("signature_malformed", "\(RequestSignature.contentHashHeader): must be 64 lower-case hex digits (SHA-256 of the body)")
        }
        guard Self.isLowerHex64(signature) else {
            throw reject("signature_malformed", "\(RequestSignature.signatureHeader): must be 64 lower-case hex digits (HMAC-SHA256)")
        }
        guard let key = keys.key(for: station) else {
            throw reject("unknown_station_key", "no signing key is configured for station \"\(station)\" on this platform")
        }
        let skew = timestamp - now
        guard abs(skew) <= window else {
            throw reject(
                "timestamp_out_of_window",
                "\(RequestSignature.timestampHeader) \(timestamp) is \(abs(skew)) s \(skew < 0 ? "behind" : "ahead of") the platform's clock "
                    + "(\(now)); at most \(window) s is allowed: synchronise the station's clock (NTP)")
        }
        let actualHash = RequestSignature.contentHash(body)
        guard actualHash == declaredHash else {
            throw reject(
                "content_mismatch",
                "\(RequestSignature.contentHashHeader) is \(declaredHash) but the body's SHA-256 is \(actualHash): "
                    + "the body was changed after it was signed")
        }
        let expected = RequestSignature.signature(
            key: key, timestamp: timestamp, nonce: nonce, method: method, target: target, contentHash: actualHash)
        guard constantTimeEqual(Array(expected.utf8), Array(signature.utf8)) else {
            throw reject(
                "bad_signature",
                "\(RequestSignature.signatureHeader) does not match \(method.uppercased()) \(target) signed with station \"\(station)\"'s key: "
                    + "check platform.signing_key_file (the same key must be configured here), and that the method, path, "
                    + "timestamp and nonce were not changed after signing")
        }
        accepted = accepted.filter { $0.value >= now }
        let remembered = station + "\n" + nonce
        guard accepted[remembered] == nil else {
            throw reject(
                "replayed",
                "\(RequestSignature.nonceHeader) \(nonce) was already used by station \"\(station)\" within the last \(window) s: "
                    + "a replayed request; every request needs a fresh nonce")
        }
        accepted[remembered] = timestamp + window
    }

    static func isLowerHex64(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

/// The emulator's one verifier, shared by its request handlers, reading the wall clock.
final class SignatureGate: Sendable {
    private let verifier: Mutex<SignatureVerifier>
    private let now: @Sendable () -> Date

    init(keys: SigningKeyring, now: @escaping @Sendable () -> Date = Date.init) {
        verifier = Mutex(SignatureVerifier(keys: keys))
        self.now = now
    }

    func verify(station: String, method: String, target: String, headers: HTTPFields, body: ByteBuffer) throws(EmulatorRequestError) {
        let seconds = Int64(now().timeIntervalSince1970.rounded(.down))
        let result: Result<Void, EmulatorRequestError> = verifier.withLock { verifier in
            do throws(EmulatorRequestError) {
                try verifier.verify(
                    station: station, method: method, target: target,
                    header: { name in HTTPFields.Element.Name(name).flatMap { headers[$0] } }, body: body.readableBytesView, now: seconds)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}

extension EmulatorRoutes {
    /// When the emulator holds signing keys, checks the request's signature over its whole body
    /// (collected up to `bodyLimit` bytes) and returns the request with the body kept for the
    /// handler.
    func checkSignature(_ request: Request, context: BasicRequestContext, bodyLimit: Int) async throws -> Request {
        guard let signatures else { return request }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: bodyLimit)
        } catch is NIOTooManyBytesError {
            throw EmulatorRequestError.tooLarge("request body: larger than \(bodyLimit) bytes")
        }
        try signatures.verify(
            station: stationID(in: context), method: request.method.rawValue, target: request.uri.string, headers: request.headers,
            body: body)
        return request
    }
}
