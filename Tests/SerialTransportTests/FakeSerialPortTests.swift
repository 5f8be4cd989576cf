import SerialTransport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("FakeSerialPort")
struct FakeSerialPortTests {
    @Test("hands out scripted chunks in order, splitting a chunk larger than the buffer")
    func scriptedChunks() throws {
        let port = FakeSerialPort(chunks: [[1, 2, 3, 4, 5], [6]])
        #expect(try port.read(maxCount: 2, timeout: .zero) == [1, 2])
        #expect(try port.read(maxCount: 2, timeout: .zero) == [3, 4])
        #expect(try port.read(maxCount: 10, timeout: .zero) == [5])
        #expect(try port.read(maxCount: 10, timeout: .zero) == [6])
        #expect(try port.read(maxCount: 10, timeout: .zero) == [])
    }

    @Test("with no data, a read waits about its timeout and returns nothing")
    func emptyReadWaits() throws {
        let port = FakeSerialPort()
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try port.read(maxCount: 4, timeout: .milliseconds(60)) == [])
        let elapsed = start.duration(to: clock.now)
        #expect(elapsed >= .milliseconds(55))
        #expect(elapsed < .seconds(1))
    }

    @Test("hangs up after the script when asked, and hangUp() works later too")
    func hangUp() throws {
        let scripted = FakeSerialPort(chunks: [[7]], hangUpWhenDrained: true)
        #expect(try scripted.read(maxCount: 4, timeout: .zero) == [7])
        let first = serialError { () throws(SerialError) in try scripted.read(maxCount: 4, timeout: .zero) }
        #expect(first?.code == .hangup)

        let live = FakeSerialPort()
        live.enqueue([8, 9])
        live.hangUp()
        #expect(try live.read(maxCount: 4, timeout: .zero) == [8, 9])
        #expect(serialError { () throws(SerialError) in try live.read(maxCount: 4, timeout: .zero) }?.code == .hangup)
    }

    @Test("records writes, can fail them, and refuses everything after close")
    func writesAndClose() throws {
        let port = FakeSerialPort(name: "/dev/fake0")
        try port.write([1, 2])
        try port.write([3])
        #expect(port.writes == [[1, 2], [3]])
        #expect(port.writtenBytes == [1, 2, 3])

        let failure = SerialError.posix(EIO, path: "/dev/fake0", operation: "write")
        port.failWrites(with: failure)
        #expect(serialError { () throws(SerialError) in try port.write([4]) } == failure)
        port.failWrites(with: nil)

        port.close()
        port.close()
        #expect(port.isClosed)
        #expect(port.closeCount == 2)
        #expect(serialError { () throws(SerialError) in try port.write([5]) }?.code == .closed)
        #expect(serialError { () throws(SerialError) in try port.read(maxCount: 1, timeout: .zero) }?.code == .closed)
        #expect(port.writtenBytes == [1, 2, 3])
    }
}
