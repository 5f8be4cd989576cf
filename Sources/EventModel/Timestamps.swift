import Foundation

/// Timestamps on the wire and in files: ISO 8601 in UTC with milliseconds
/// (`2026-11-24T10:15:30.123Z`).
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) {
            return date
        }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
