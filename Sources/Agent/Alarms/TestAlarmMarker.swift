import Foundation

/// A file in the state directory that marks the next alarms as a technician's test while it is
/// fresh, written by `station-agent test-alarm` and read by the agent when it raises an alarm.
/// The platform sees `TEST` at the start of such an alarm's detail.
public struct TestAlarmMarker: Sendable {
    public let path: String

    public init(stateDirectory: String) {
        path = (stateDirectory as NSString).appendingPathComponent("test-alarm-until")
    }

    /// Marks alarms raised within `duration` from now as tests.
    public func arm(for duration: Duration) throws {
        let until = Date().addingTimeInterval(Double(duration.components.seconds))
        try String(until.timeIntervalSince1970).write(toFile: path, atomically: true, encoding: .utf8)
    }

    public func disarm() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Whether an alarm raised now is a test.
    public var isArmed: Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let until = Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return false }
        return Date().timeIntervalSince1970 < until
    }
}
