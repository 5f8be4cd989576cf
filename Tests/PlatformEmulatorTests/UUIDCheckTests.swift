import Foundation
import Testing

@testable import PlatformEmulator

/// The hand-written UUID check accepts exactly what `UUID(uuidString:)` accepts.
@Suite struct UUIDCheckTests {
    @Test func agreesWithFoundationOnRandomAndMalformedIds() {
        var texts: [String] = (0..<2000).map { _ in UUID().uuidString }
        texts += texts.prefix(500).map { $0.lowercased() }
        texts += [
            "", "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6", "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6bb",
            "3f2b8c1e_5d4a-4e6f-9a7b-1c2d3e4f5a6b", "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6g",
            "3F2B8C1E-5D4A-4E6F-9A7B-1C2D3E4F5A6B", "3f2b8c1e5d4a4e6f9a7b1c2d3e4f5a6b", "{3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b}",
            " 3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6", "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6\u{00E9}", "not a uuid at all, not at all!!!!!!!",
            "00000000-0000-0000-0000-000000000000", "3f2b8c1e-+d4a-4e6f-9a7b-1c2d3e4f5a6b", "3f2b8c1e-0x4a-4e6f-9a7b-1c2d3e4f5a6b",
        ]
        // Every single-character corruption of one id.
        let base = Array("3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b")
        for index in base.indices {
            for replacement in ["-", "g", "G", " ", "0", "F", "+", "x"] {
                var copy = base
                copy[index] = Character(replacement)
                texts.append(String(copy))
            }
        }
        for text in texts {
            #expect(RequestValidation.isUUID(text) == (UUID(uuidString: text) != nil), "\(text)")
        }
        #expect(RequestValidation.isCanonicalUUID("3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b"))
        #expect(!RequestValidation.isCanonicalUUID("3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6g"))
    }
}
