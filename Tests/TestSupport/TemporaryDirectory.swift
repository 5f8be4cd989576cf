import Foundation
import Glibc

/// A fresh directory under /tmp (made with `mkdtemp`), removed with everything in it when the
/// value goes away.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public struct Failure: Error, CustomStringConvertible {
        public let code: Int32
        public var description: String { "mkdtemp failed: \(String(cString: strerror(code)))" }
    }

    /// - Parameter prefix: the start of the directory's name, to tell the tests' leftovers apart.
    public init(prefix: String = "station-tests") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else { throw Failure(code: errno) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` with `mode`, and returns its path.
    @discardableResult
    public func write(_ text: String, to name: String, mode: mode_t = 0o600) throws -> String {
        let path = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        guard chmod(path, mode) == 0 else { throw Failure(code: errno) }
        return path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
