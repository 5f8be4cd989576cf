import DeviceProtocols
import Testing

@Suite("Reader profiles")
struct ReaderProfileTests {
    @Test("the configuration names of the profiles")
    func rawValues() {
        #expect(ReaderProfile.allCases.map(\.rawValue) == ["rdm6300", "em18", "text-hex", "text-decimal"])
        #expect(ReaderProfile(rawValue: "text-hex") == .textHex)
        #expect(ReaderProfile(rawValue: "text-decimal") == .textDecimal)
        #expect(ReaderProfile(rawValue: "RDM6300") == nil)
        #expect(ReaderProfile(rawValue: "textHex") == nil)
    }

    @Test("every profile runs at 9600 8N1", arguments: ReaderProfile.allCases)
    func lineSettings(profile: ReaderProfile) {
        #expect(profile.line == LineSettings(baud: 9600, dataBits: 8, parity: .none, stopBits: 1))
        #expect(profile.line.description == "9600 8N1")
    }

    @Test("line settings shorthand")
    func lineSettingsDescription() {
        #expect(LineSettings(baud: 19200, dataBits: 7, parity: .even, stopBits: 2).description == "19200 7E2")
        #expect(LineSettings(baud: 4800, dataBits: 8, parity: .odd, stopBits: 1).description == "4800 8O1")
    }

    @Test("display names are distinct and name the reader")
    func displayNames() {
        let names = ReaderProfile.allCases.map(\.displayName)
        #expect(Set(names).count == names.count)
        #expect(ReaderProfile.rdm6300.displayName.contains("RDM6300"))
        #expect(ReaderProfile.em18.displayName.contains("EM-18"))
        #expect(ReaderProfile.textDecimal.displayName.contains("decimal"))
    }

    @Test("card formats per profile")
    func cardFormats() {
        #expect(ReaderProfile.rdm6300.cardFormat == .em4100)
        #expect(ReaderProfile.em18.cardFormat == .em4100)
        #expect(ReaderProfile.textHex.cardFormat == .hex)
        #expect(ReaderProfile.textDecimal.cardFormat == .decimal)
        #expect(ReaderProfile.em18.makeDecoder().profile == .em18)
    }

    @Test("normalizedUID upper-cases hex and keeps decimal as given")
    func normalizedUID() throws {
        #expect(try ReaderProfile.rdm6300.normalizedUID("1a002f4b6c") == "1A002F4B6C")
        #expect(try ReaderProfile.textHex.normalizedUID("04a2") == "04A2")
        #expect(try ReaderProfile.textDecimal.normalizedUID("007") == "007")
        #expect(throws: CardEncodingError.self) { try ReaderProfile.em18.normalizedUID("04A2") }
    }

    @Test("an encoding error names the profile, the UID and what is expected")
    func errorMessage() {
        do {
            _ = try ReaderProfile.rdm6300.encode(uid: "12AB")
            Issue.record("a 4-character UID was accepted for rdm6300")
        } catch {
            #expect(error.profile == .rdm6300)
            #expect(error.uid == "12AB")
            let text = String(describing: error)
            #expect(text.contains("\"12AB\""))
            #expect(text.contains("\"rdm6300\""))
            #expect(text.contains("10 hex digits"))
            #expect(text.contains("got 4 characters"))
        }
    }

    @Test("a very long UID is shortened in the error message")
    func longUIDInError() {
        let uid = String(repeating: "9", count: 500)
        #expect {
            try ReaderProfile.textDecimal.encode(uid: uid)
        } throws: { error in
            let text = String(describing: error)
            return text.count < 400 && text.contains(String(repeating: "9", count: 40) + "...")
        }
    }
}
