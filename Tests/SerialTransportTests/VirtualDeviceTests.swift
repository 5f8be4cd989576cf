import DeviceProtocols
import Foundation
import SerialTransport
import TestSupport
import Testing
import VirtualDevices

#if canImport(Glibc)
import Glibc
#endif

@Suite("Virtual devices: stable links, unplug/replug, card readers")
struct VirtualDeviceTests {
    @Test("the link points at the pty; unplug hangs up and removes it; replug re-points it")
    func unplugAndReplug() throws {
        let directory = try TemporaryDirectory()
        let link = directory.file("by-id/reader-1")
        let device = try VirtualSerialDevice(linkPath: link)
        let firstSlave = try #require(device.currentSlavePath)
        #expect(device.isPluggedIn)
        #expect(device.plugCount == 1)
        #expect(try DevicePath.resolve(link) == firstSlave)

        let port = try SerialPortOpener.open(path: link, settings: .default9600_8N1)
        defer { port.close() }
        try device.send([0x31, 0x32])
        #expect(try readBytes(from: port, count: 2) == [0x31, 0x32])

        device.unplug()
        #expect(!device.isPluggedIn)
        #expect(device.currentSlavePath == nil)
        let readError = serialError { () throws(SerialError) in try port.read(maxCount: 8, timeout: .seconds(2)) }
        #expect(readError?.code == .hangup)
        var info = stat()
        #expect(lstat(link, &info) == -1 && errno == ENOENT)
        let reopen = serialError { () throws(SerialError) in try SerialPortOpener.open(path: link, settings: .default9600_8N1) }
        #expect(reopen?.code == .notFound)
        #expect(serialError { () throws(SerialError) in try device.send([1]) }?.code == .closed)

        try device.replug()
        #expect(device.plugCount == 2)
        let secondSlave = try #require(device.currentSlavePath)
        #expect(try DevicePath.resolve(link) == secondSlave)
        let again = try SerialPortOpener.open(path: link, settings: .default9600_8N1)
        defer { again.close() }
        try device.send([0x33])
        #expect(try readBytes(from: again, count: 1) == [0x33])
        try again.write([0x06])
        #expect(try device.receive(timeout: .seconds(1)) == [0x06])
    }

    @Test("replug while plugged in hangs up the old pty")
    func replugWhilePlugged() throws {
        let directory = try TemporaryDirectory()
        let device = try VirtualSerialDevice(linkPath: directory.file("reader"))
        let port = try SerialPortOpener.open(path: device.linkPath, settings: .default9600_8N1)
        defer { port.close() }
        try device.replug()
        let error = serialError { () throws(SerialError) in try port.read(maxCount: 8, timeout: .seconds(2)) }
        #expect(error?.code == .hangup)
    }

    @Test("the device refuses to replace a file that is not a symlink")
    func refusesToReplaceRegularFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("ttyUSB0")
        try #require(FileManager.default.createFile(atPath: path, contents: Data("keep".utf8)))
        let error = serialError { () throws(SerialError) in try VirtualSerialDevice(linkPath: path) }
        #expect(error?.code == .configuration)
        #expect(error?.description.contains("not a symlink") == true)
        #expect(FileManager.default.contents(atPath: path) == Data("keep".utf8))
    }

    @Test("tap sends exactly the profile's frame, for every profile")
    func tapSendsProfileFrame() throws {
        let directory = try TemporaryDirectory()
        let uids: [ReaderProfile: String] = [
            .rdm6300: "1A002F4B6C", .em18: "1A002F4B6C", .textHex: "04A2B3C4", .textDecimal: "0012345678",
        ]
        for profile in ReaderProfile.allCases {
            let uid = try #require(uids[profile], "add a UID for the new profile \(profile)")
            let reader = try VirtualCardReader(profile: profile, linkPath: directory.file(profile.rawValue))
            let port = try SerialPortOpener.open(path: reader.linkPath, settings: .default9600_8N1)
            defer { port.close() }
            try reader.tap(uid: uid)
            let expected = try profile.encode(uid: uid)
            let received = try readBytes(from: port, count: expected.count)
            #expect(received == expected, "profile \(profile)")
            var decoder = profile.makeDecoder()
            #expect(decoder.feed(received).map(\.uid) == [try profile.normalizedUID(uid)])
        }
    }

    @Test("a bad UID is refused before anything is sent")
    func badUIDIsRefused() throws {
        let directory = try TemporaryDirectory()
        let reader = try VirtualCardReader(profile: .rdm6300, linkPath: directory.file("reader"))
        let port = try SerialPortOpener.open(path: reader.linkPath, settings: .default9600_8N1)
        defer { port.close() }
        #expect(throws: CardEncodingError.self) { try reader.tap(uid: "XYZ") }
        #expect(try port.read(maxCount: 16, timeout: .milliseconds(100)) == [])
    }

    @Test("sendSplit delivers one frame in pieces that decode to one card through the async stream")
    func sendSplitThroughStream() async throws {
        let directory = try TemporaryDirectory()
        let reader = try VirtualCardReader(profile: .rdm6300, linkPath: directory.file("reader"))
        let port = try SerialPortOpener.open(path: reader.linkPath, settings: .default9600_8N1)
        let stream = SerialByteStream(port: port)
        defer { stream.stop() }
        try await reader.sendSplit(uid: "1A002F4B6C", chunkSizes: [1, 4, 2], pause: .milliseconds(15))
        let frame = try ReaderProfile.rdm6300.encode(uid: "1A002F4B6C")
        let chunks = try await collect(stream.chunks, count: frame.count)
        #expect(chunks.flatMap { $0 } == frame)
        #expect(chunks.count >= 2, "pieces 15 ms apart arrive as separate reads: \(chunks)")
        var decoder = ReaderProfile.rdm6300.makeDecoder()
        #expect(decoder.feed(chunks.flatMap { $0 }).map(\.uid) == ["1A002F4B6C"])

        await #expect(throws: SerialError.self) { try await reader.sendSplit(uid: "1A002F4B6C", chunkSizes: [0]) }
    }

    @Test("hold repeats the frame at the held-card interval; garbage arrives verbatim")
    func holdAndGarbage() async throws {
        let directory = try TemporaryDirectory()
        let reader = try VirtualCardReader(profile: .rdm6300, linkPath: directory.file("reader"))
        let port = try SerialPortOpener.open(path: reader.linkPath, settings: .default9600_8N1)
        let stream = SerialByteStream(port: port)
        defer { stream.stop() }
        let garbage: [UInt8] = [0xFF, 0x00, 0x7E]
        try reader.sendGarbage(garbage)
        let clock = ContinuousClock()
        let start = clock.now
        try await reader.hold(uid: "1A002F4B6C", repeats: 3)
        #expect(start.duration(to: clock.now) >= .milliseconds(120))
        let frame = try ReaderProfile.rdm6300.encode(uid: "1A002F4B6C")
        let received = try await collect(stream.chunks, count: garbage.count + 3 * frame.count).flatMap { $0 }
        #expect(received == garbage + frame + frame + frame)
        var decoder = ReaderProfile.rdm6300.makeDecoder()
        #expect(decoder.feed(received).map(\.uid) == Array(repeating: "1A002F4B6C", count: 3))
    }
}
