/// An open serial line: a USB/RS-232 adapter, a pseudo-terminal, or a scripted fake.
///
/// Reads and writes BLOCK the calling thread (for at most their timeout). Never call them on
/// Swift's cooperative pool (it has as many threads as cores: 2 on a kiosk board); use
/// ``SerialByteStream``, which reads on a dedicated thread and feeds an `AsyncThrowingStream`.
///
/// Implementations are safe to use from several threads; ``close()`` may be called while another
/// thread is inside ``read(into:timeout:)``, which then returns within about 50 ms with
/// ``SerialError/Code/closed``.
public protocol SerialPort: AnyObject, Sendable {
    /// The device path as configured (before symlink resolution), e.g. `/dev/serial/by-id/usb-...`.
    var name: String { get }

    /// Reads whatever bytes are available, waiting at most `timeout` for the first one.
    ///
    /// - Returns: the number of bytes stored at the start of `buffer`; `0` when the timeout passed
    ///   without data.
    /// - Throws: ``SerialError`` with code ``SerialError/Code/hangup`` when the device went away
    ///   (POLLHUP/POLLERR, `EIO`, or end of file), ``SerialError/Code/closed`` after ``close()``.
    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(SerialError) -> Int

    /// Writes all of `bytes` or throws (``SerialError/Code/timeout`` when the device does not
    /// accept them in time, ``SerialError/Code/hangup`` when it is gone).
    func write(_ bytes: [UInt8]) throws(SerialError)

    /// Closes the port. Idempotent; later reads and writes throw ``SerialError/Code/closed``.
    func close()
}

extension SerialPort {
    /// Reads up to `maxCount` bytes, waiting at most `timeout`; an empty array means timeout.
    public func read(maxCount: Int, timeout: Duration) throws(SerialError) -> [UInt8] {
        precondition(maxCount > 0, "maxCount must be positive")
        var bytes = [UInt8](repeating: 0, count: maxCount)
        // withUnsafeMutableBytes rethrows untyped errors: carry the typed one out in a Result.
        let outcome = bytes.withUnsafeMutableBytes { raw in
            Result { () throws(SerialError) -> Int in try self.read(into: raw, timeout: timeout) }
        }
        let count = try outcome.get()
        bytes.removeSubrange(count...)
        return bytes
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, clamped to `0...Int32.max`.
    var clampedMilliseconds: Int32 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        if seconds >= Int64(Int32.max / 1000) { return Int32.max }
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: millis)
    }
}
