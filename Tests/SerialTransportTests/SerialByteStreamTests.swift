import Foundation
import SerialTransport
import TestSupport
import Testing
import VirtualDevices

@Suite("SerialByteStream: blocking reads on a dedicated thread feeding an async stream")
struct SerialByteStreamTests {
    @Test("bytes written on the pty master arrive through the stream")
    func ptyBytesArriveThroughStream() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        let stream = SerialByteStream(port: port)
        defer { stream.stop() }
        let first: [UInt8] = [0x02, 0x31, 0x41, 0x30, 0x30]
        let second: [UInt8] = [0x32, 0x46, 0x0D, 0x0A, 0x03]
        try pty.write(first)
        try await Task.sleep(for: .milliseconds(20))
        try pty.write(second)
        let chunks = try await collect(stream.chunks, count: first.count + second.count)
        #expect(chunks.flatMap { $0 } == first + second)
        #expect(stream.deliveredBytes == first.count + second.count)
    }

    @Test("a hang-up finishes the stream with SerialError.hangup in under a second, and closes the port")
    func hangUpFinishesStream() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        let termios = try #require(port as? TermiosSerialPort)
        let stream = SerialByteStream(port: port)
        try pty.write([0x41])
        let first = try await collect(stream.chunks, count: 1)
        #expect(first.flatMap { $0 } == [0x41])
        let clock = ContinuousClock()
        let hungUpAt = clock.now
        pty.hangUp()
        let rest = await drain(stream.chunks, timeout: .seconds(10))
        let elapsed = hungUpAt.duration(to: clock.now)
        #expect(!rest.timedOut, "the stream did not end after the hang-up")
        #expect(rest.bytes == [])
        let serial = try #require(rest.error as? SerialError)
        #expect(serial.code == .hangup)
        #expect(serial.path == pty.slavePath)
        // Detected within a read timeout (100 ms), not after the drain's 10 s give-up; the
        // margin is for a loaded 2-core machine, where 1 s was measured once.
        #expect(elapsed < .seconds(4), "hang-up took \(elapsed) to reach the consumer")
        #expect(await eventually { !stream.isReading })
        #expect(termios.isClosed)
    }

    @Test("cancelling the consuming task stops the reader thread and closes the port")
    func cancellationStopsReaderThread() async throws {
        let port = FakeSerialPort(name: "/dev/fake-cancel")
        let stream = SerialByteStream(port: port, readTimeout: .milliseconds(100))
        #expect(stream.isReading)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await _ in stream.chunks {}
                } catch {}
            }
            try? await Task.sleep(for: .milliseconds(150))
            group.cancelAll()
        }
        // The reader thread notices within a read timeout (20 ms); the wait is only a failure bound.
        #expect(await eventually { !stream.isReading })
        #expect(port.isClosed)
        #expect(port.closeCount == 1)
        // The thread no longer reads.
        let reads = port.readCount
        try await Task.sleep(for: .milliseconds(250))
        #expect(port.readCount == reads)
    }

    @Test("cancellation also stops a reader blocked on a real pty")
    func cancellationStopsPtyReader() async throws {
        let pty = try PseudoTerminal()
        let port = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        let termios = try #require(port as? TermiosSerialPort)
        let stream = SerialByteStream(port: port)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await _ in stream.chunks {}
                } catch {}
            }
            try? await Task.sleep(for: .milliseconds(100))
            group.cancelAll()
        }
        #expect(await eventually { !stream.isReading })
        #expect(termios.isClosed)
        // The device is free again for the next open (the flock was released with the fd).
        let again = try SerialPortOpener.open(path: pty.slavePath, settings: .default9600_8N1)
        again.close()
    }

    @Test("stop() ends the stream normally (no error)")
    func stopFinishesNormally() async throws {
        let port = FakeSerialPort(chunks: [[1, 2, 3]])
        let stream = SerialByteStream(port: port, readTimeout: .milliseconds(20))
        let first = try await collect(stream.chunks, count: 3)
        #expect(first.flatMap { $0 } == [1, 2, 3])
        stream.stop()
        let rest = await drain(stream.chunks, timeout: .seconds(30))
        #expect(!rest.timedOut, "stop() did not end the stream")
        #expect(rest.error == nil)
        #expect(await eventually { !stream.isReading })
        #expect(port.isClosed)
    }

    @Test("closesPortOnFinish: false leaves the port open")
    func portCanOutliveStream() async throws {
        let port = FakeSerialPort(chunks: [[9]])
        let stream = SerialByteStream(port: port, readTimeout: .milliseconds(20), closesPortOnFinish: false)
        #expect(try await collect(stream.chunks, count: 1) == [[9]])
        stream.stop()
        #expect(await drain(stream.chunks, timeout: .seconds(30)).timedOut == false)
        #expect(await eventually { !stream.isReading })
        #expect(!port.isClosed)
        try port.write([1])
        #expect(port.writtenBytes == [1])
    }

    @Test("a stuck consumer cannot grow the buffer: the oldest chunks are kept, the rest counted as dropped")
    func bufferIsBounded() async throws {
        let chunks = (0..<50).map { [UInt8($0)] }
        let port = FakeSerialPort(chunks: chunks)
        let stream = SerialByteStream(port: port, readTimeout: .milliseconds(10), maxBufferedChunks: 10)
        #expect(await eventually { port.pendingChunkCount == 0 && stream.droppedChunks == 40 })
        #expect(stream.droppedChunks == 40)
        #expect(stream.deliveredBytes == 10)
        let received = try await collect(stream.chunks, count: 10)
        #expect(received == Array(chunks.prefix(10)))
        stream.stop()
    }

    @Test("a scripted hang-up after data delivers the data, then throws .hangup")
    func fakeHangUpAfterData() async throws {
        let port = FakeSerialPort(chunks: [[0x10, 0x11], [0x12]], hangUpWhenDrained: true)
        let stream = SerialByteStream(port: port, readTimeout: .milliseconds(20))
        let drained = await drain(stream.chunks)
        #expect(!drained.timedOut)
        #expect((drained.error as? SerialError)?.code == .hangup)
        #expect(drained.bytes == [0x10, 0x11, 0x12])
    }

    @Test("marksIdleLine: one empty chunk when the line goes quiet after bytes, none while it stays quiet")
    func quietLineIsMarkedOnce() async throws {
        let port = FakeSerialPort(chunks: [[0x02, 0x31], [0x32]])
        let stream = SerialByteStream(port: port, readTimeout: .milliseconds(10), marksIdleLine: true)
        var iterator = stream.chunks.makeAsyncIterator()
        #expect(try await iterator.next() == [0x02, 0x31])
        #expect(try await iterator.next() == [0x32])
        #expect(try await iterator.next() == [], "the quiet line after the bytes")
        port.enqueue([0x33])
        #expect(try await iterator.next() == [0x33], "no second marker while the line stayed quiet")
        #expect(try await iterator.next() == [])
        stream.stop()
    }

    @Test("without marksIdleLine a quiet line yields nothing")
    func quietLineIsNotMarkedByDefault() async throws {
        let port = FakeSerialPort(chunks: [[0x41]])
        let stream = SerialByteStream(port: port, readTimeout: .milliseconds(10))
        var iterator = stream.chunks.makeAsyncIterator()
        #expect(try await iterator.next() == [0x41])
        port.enqueue([0x42])
        #expect(try await iterator.next() == [0x42])
        stream.stop()
    }
}
