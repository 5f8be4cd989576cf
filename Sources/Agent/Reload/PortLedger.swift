import Logging
import SerialTransport
import StationConfig
import Synchronization

/// Counts the serial ports and modem-line devices the agent's services hold open, so that a
/// reload starts the next generation only once the last one has let go of its devices. (A
/// serial reader thread closes its port up to one read timeout after its service has returned;
/// opening the port again before that fails with "busy" and waits for the device's reopen
/// backoff.)
final class PortLedger: Sendable {
    private let open = Mutex(0)

    var openCount: Int { open.withLock { $0 } }

    func opened() { open.withLock { $0 += 1 } }
    func closed() { open.withLock { $0 -= 1 } }

    /// Waits until nothing is open, at most `limit`; false if something still is.
    func waitUntilAllClosed(limit: Duration = .seconds(3)) async -> Bool {
        await waitUntil(atMost: 0, limit: limit)
    }

    /// Waits until at most `count` devices are open (those kept running), at most `limit`;
    /// false if more still are.
    func waitUntil(atMost count: Int, limit: Duration = .seconds(3)) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while openCount > count {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}

/// A port provider that records opens and closes in a ``PortLedger``.
struct LedgerPortProvider: SerialPortProvider {
    let inner: any SerialPortProvider
    let ledger: PortLedger

    func open(_ port: PortSpec, settings: SerialSettings) throws -> any SerialPort {
        let opened = try inner.open(port, settings: settings)
        ledger.opened()
        return LedgerSerialPort(inner: opened, ledger: ledger)
    }
}

final class LedgerSerialPort: SerialPort {
    let inner: any SerialPort
    let ledger: PortLedger
    private let isClosed = Atomic<Bool>(false)

    init(inner: any SerialPort, ledger: PortLedger) {
        self.inner = inner
        self.ledger = ledger
    }

    var name: String { inner.name }

    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(SerialError) -> Int {
        try inner.read(into: buffer, timeout: timeout)
    }

    func write(_ bytes: [UInt8]) throws(SerialError) {
        try inner.write(bytes)
    }

    func close() {
        inner.close()
        if !isClosed.exchange(true, ordering: .acquiringAndReleasing) { ledger.closed() }
    }
}

/// A modem-line provider that records opens and closes in a ``PortLedger``.
struct LedgerModemLineProvider: ModemLineProvider {
    let inner: any ModemLineProvider
    let ledger: PortLedger

    func open(_ path: String) throws -> any ModemLineSource {
        let opened = try inner.open(path)
        ledger.opened()
        return LedgerModemLines(inner: opened, ledger: ledger)
    }
}

final class LedgerModemLines: ModemLineSource {
    let inner: any ModemLineSource
    let ledger: PortLedger
    private let isClosed = Atomic<Bool>(false)

    init(inner: any ModemLineSource, ledger: PortLedger) {
        self.inner = inner
        self.ledger = ledger
    }

    var name: String { inner.name }

    func setOutput(_ output: ModemOutput, high: Bool) throws(SerialError) {
        try inner.setOutput(output, high: high)
    }

    func signals() throws(SerialError) -> ModemSignals {
        try inner.signals()
    }

    func close() {
        inner.close()
        if !isClosed.exchange(true, ordering: .acquiringAndReleasing) { ledger.closed() }
    }
}
