// Fuzz builds only. OSDP's message codec names the secure channel key in one command
// (osdp_KEYSET), and the key's own file needs swift-crypto's AES, which a plain `swiftc` fuzz
// build cannot link. This stand-in has the surface the codec uses: sixteen bytes, refused at any
// other length. The key itself is tested in Tests/OSDPTests.

public struct OSDPKeyError: Error, Sendable, Hashable {}

public struct OSDPSecureChannelKey: Sendable, Hashable {
    public static let byteCount = 16
    private let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(OSDPKeyError) {
        guard bytes.count == Self.byteCount else { throw OSDPKeyError() }
        self.bytes = bytes
    }

    public func withUnsafeKeyBytes<Result, Failure: Error>(_ body: ([UInt8]) throws(Failure) -> Result) throws(Failure) -> Result {
        try body(bytes)
    }
}
