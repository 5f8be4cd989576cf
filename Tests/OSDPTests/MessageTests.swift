import OSDP
import Testing

func bits(_ text: String) -> [Bool] { text.compactMap { $0 == "1" ? true : $0 == "0" ? false : nil } }

@Suite("Wiegand 26/34")
struct WiegandTests {
    // Hand-worked vectors: data bits written out, parity computed by counting ones.
    // 26 bits: P(even over bits 1-12) FFFFFFFF CCCCCCCCCCCCCCCC P(odd over bits 13-24).
    static let vectors: [(bits: String, format: WiegandFormat, facility: UInt32, card: UInt32)] = [
        ("1 00000001 0000000000000001 0", .wiegand26, 1, 1),
        ("0 11111111 1111111111111111 1", .wiegand26, 255, 65535),
        ("0 00000000 0000000000000000 1", .wiegand26, 0, 0),
        // FC 123 = 01111011, card 4567 = 0001000111010111.
        // First 12 data bits 01111011 0001 hold 7 ones -> even parity 1; last 12 0001 1101 0111 hold 7 -> odd parity 0.
        ("1 01111011 0001000111010111 0", .wiegand26, 123, 4567),
        ("1 0000000000000001 0000000000000001 0", .wiegand34, 1, 1),
        ("0 1111111111111111 1111111111111111 1", .wiegand34, 65535, 65535),
        // FC 4660 = 0x1234 = 0001001000110100 (5 ones -> even parity 1),
        // card 22136 = 0x5678 = 0101011001111000 (8 ones -> odd parity 1).
        ("1 0001001000110100 0101011001111000 1", .wiegand34, 4660, 22136),
    ]

    @Test("decodes the hand-worked vectors")
    func decodeVectors() {
        for vector in Self.vectors {
            let decoded = Wiegand.decode(bits: bits(vector.bits))
            #expect(decoded == .card(WiegandCard(format: vector.format, facilityCode: vector.facility, cardNumber: vector.card)))
        }
    }

    @Test("encodes the hand-worked vectors")
    func encodeVectors() throws {
        for vector in Self.vectors {
            let card = WiegandCard(format: vector.format, facilityCode: vector.facility, cardNumber: vector.card)
            #expect(try Wiegand.encode(card) == bits(vector.bits))
        }
    }

    @Test("a flipped bit anywhere in a 26 or 34-bit code is a parity error")
    func everySingleBitErrorIsDetected() throws {
        for vector in Self.vectors {
            let original = bits(vector.bits)
            for index in original.indices {
                var flipped = original
                flipped[index].toggle()
                #expect(Wiegand.decode(bits: flipped) == .parityError(vector.format), "bit \(index) of \(vector.bits)")
            }
        }
    }

    @Test("other lengths are reported, not decoded")
    func otherLengths() {
        #expect(Wiegand.decode(bits: [Bool](repeating: false, count: 37)) == .unsupportedLength(37))
        #expect(Wiegand.decode(bits: []) == .unsupportedLength(0))
    }

    @Test("encoding refuses values that do not fit")
    func encodeRange() {
        #expect(throws: WiegandEncodingError.self) {
            try Wiegand.encode(WiegandCard(format: .wiegand26, facilityCode: 256, cardNumber: 1))
        }
        #expect(throws: WiegandEncodingError.self) {
            try Wiegand.encode(WiegandCard(format: .wiegand34, facilityCode: 1, cardNumber: 65536))
        }
    }

    @Test("osdp_RAW packs bits MSB first and decodes Wiegand from them")
    func rawCardData() throws {
        let raw = OSDPRawCardData(reader: 0, format: .wiegand, bits: bits("1 00000001 0000000000000001 0"))
        #expect(raw.bitCount == 26)
        #expect(raw.data == [0x80, 0x80, 0x00, 0x80])
        #expect(raw.replyData == [0x00, 0x01, 26, 0x00, 0x80, 0x80, 0x00, 0x80])
        #expect(raw.bitString == "10000000100000000000000010")
        #expect(raw.wiegand.card?.description == "1:1")
        let decoded = try OSDPReply.decode(code: 0x50, data: raw.replyData)
        #expect(decoded == .rawCardData(raw))
    }
}

@Suite("Commands and replies")
struct MessageTests {
    @Test("LED record layout (14 bytes) round trips")
    func ledRecord() throws {
        let led = OSDPLEDControl(
            reader: 0, led: 1, temporaryAction: .set, temporaryOnTime: 5, temporaryOffTime: 5,
            temporaryOnColor: .green, temporaryOffColor: .black, temporaryTimer: 0x0123,
            permanentAction: .set, permanentOnTime: 1, permanentOffTime: 0, permanentOnColor: .red, permanentOffColor: .black)
        #expect(led.bytes == [0, 1, 2, 5, 5, 2, 0, 0x23, 0x01, 1, 1, 0, 1, 0])
        #expect(try OSDPCommand.decode(code: 0x69, data: led.bytes + led.bytes) == .led([led, led]))
        #expect(throws: OSDPMessageError.self) { try OSDPCommand.decode(code: 0x69, data: Array(led.bytes.dropLast())) }
    }

    @Test("buzzer record layout (5 bytes) round trips")
    func buzzerRecord() throws {
        let buzzer = OSDPBuzzerControl(reader: 0, tone: .default, onTime: 2, offTime: 1, count: 3)
        #expect(buzzer.bytes == [0, 2, 2, 1, 3])
        #expect(try OSDPCommand.decode(code: 0x6A, data: buzzer.bytes) == .buzzer([buzzer]))
    }

    @Test("every command round trips through code and data")
    func commandsRoundTrip() throws {
        let commands: [OSDPCommand] = [
            .poll, .id, .capabilities, .localStatus, .inputStatus, .outputStatus, .readerStatus,
            .output([OSDPOutputControl(output: 0, controlCode: 2, timer: 300)]),
            .led([OSDPLEDControl(led: 0, permanentAction: .set, permanentOnTime: 1, permanentOnColor: .blue)]),
            .buzzer([OSDPBuzzerControl(onTime: 1, offTime: 1, count: 1)]),
            .comSet(address: 5, baudRate: 115_200),
            .keySet(try OSDPSecureChannelKey(hex: "00112233445566778899aabbccddeeff")),
            .challenge(random: Array(0xB0...0xB7)), .serverCryptogram(Array(0..<16)),
            .other(code: 0x80, data: [1, 2, 3]),
        ]
        for command in commands {
            #expect(try OSDPCommand.decode(code: command.code, data: command.data) == command)
        }
    }

    @Test("every reply round trips through code and data")
    func repliesRoundTrip() throws {
        let replies: [OSDPReply] = [
            .ack, .nak(.unknownCommand), .busy,
            .identification(OSDPDeviceIdentification(vendorCode: 0x0A0B0C, model: 3, version: 4, serialNumber: 0x11223344, firmware: (1, 2, 3))),
            .capabilities([OSDPCapability(.readerLEDControl, compliance: 1, count: 2)]),
            .localStatus(OSDPLocalStatus(tamper: true, powerFailure: false)),
            .inputStatus([false, true, false]), .outputStatus([true]), .readerStatus([0]),
            .rawCardData(OSDPRawCardData(bits: bits("0 11111111 1111111111111111 1"))),
            .keypad(OSDPKeypadData(text: "12*#")),
            .communicationConfiguration(address: 2, baudRate: 9600),
            .clientCryptogram(clientUID: Array(0..<8), random: Array(8..<16), cryptogram: Array(16..<32)),
            .initialRMAC(Array(0..<16)),
        ]
        for reply in replies {
            #expect(try OSDPReply.decode(code: reply.code, data: reply.data) == reply)
        }
    }

    @Test("PDID layout: vendor LSB first, serial LSB first, firmware major minor build")
    func identificationLayout() {
        let id = OSDPDeviceIdentification(vendorCode: 0x0A0B0C, model: 3, version: 4, serialNumber: 0x11223344, firmware: (1, 2, 3))
        #expect(id.bytes == [0x0C, 0x0B, 0x0A, 3, 4, 0x44, 0x33, 0x22, 0x11, 1, 2, 3])
        #expect(id.firmwareVersion == "1.2.3")
    }

    @Test("keypad codes map * and # as OSDP sends them")
    func keypadText() {
        let keys = OSDPKeypadData(text: "1*#9")
        #expect(keys.keys == [0x31, 0x7F, 0x0D, 0x39])
        #expect(keys.text == "1*#9")
    }

    @Test("length errors name the message")
    func lengthErrors() {
        #expect(throws: OSDPMessageError.self) { try OSDPCommand.decode(code: 0x60, data: [1]) }
        #expect(throws: OSDPMessageError.self) { try OSDPReply.decode(code: 0x50, data: [0, 1, 26, 0, 0xFF]) }
        #expect(throws: OSDPMessageError.self) { try OSDPReply.decode(code: 0x53, data: [0, 3, 0x31]) }
        #expect(throws: OSDPMessageError.self) { try OSDPReply.decode(code: 0x41, data: []) }
        do {
            _ = try OSDPReply.decode(code: 0x76, data: [1, 2])
            Issue.record("a short CCRYPT must not decode")
        } catch {
            #expect(error.description.contains("osdp_CCRYPT"))
        }
    }

    @Test("the KEYSET description never shows the key")
    func keySetRedacted() throws {
        let key = try OSDPSecureChannelKey(hex: "00112233445566778899aabbccddeeff")
        let command = OSDPCommand.keySet(key)
        #expect(command.description == "osdp_KEYSET(key redacted)")
        #expect(!"\(command)".lowercased().contains("aabb"))
        var dumped = ""
        dump(command, to: &dumped)
        #expect(!dumped.lowercased().contains("aabb"))
        #expect(!dumped.contains("170"))  // 0xAA as decimal
    }
}
