import Foundation
import SIADC09
import Testing

/// ASCII bytes of `text`.
func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A frame as text, with LF/CR made visible, for readable failure messages.
func show(_ frame: [UInt8]) -> String {
    String(decoding: frame, as: UTF8.self).replacingOccurrences(of: "\n", with: "<LF>").replacingOccurrences(of: "\r", with: "<CR>")
}

/// A UTC instant.
func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) throws -> Date {
    try #require(DC09Timestamp(year: year, month: month, day: day, hour: hour, minute: minute, second: second)).date
}

/// Key bytes 00 01 02 ... as hex.
func countingKeyHex(bits: Int) -> String {
    (0..<(bits / 8)).map { String(format: "%02X", $0) }.joined()
}

func account(_ text: String) throws -> DC09Account { try DC09Account(text) }
