import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a person reads when one of our programs ends on an error. Foundation's file errors print
/// as `Error Domain=NSCocoaErrorDomain Code=260 "…" UserInfo={NSFilePath=…}`; here they become
/// one line: the path, what went wrong, and what to do. Every other error is left as it is (our
/// own errors already say what, where and what to do).
public enum ReadableError {
    /// A file-system failure, said plainly.
    public struct FileProblem: Error, CustomStringConvertible, Sendable {
        public var path: String?
        public var reason: String
        public var advice: String?

        public var description: String {
            [path.map { "\($0): \(reason)" } ?? reason, advice].compactMap { $0 }.joined(separator: "; ")
        }
    }

    /// `error`, or a ``FileProblem`` when it is a Foundation (Cocoa) or POSIX error.
    public static func readable(_ error: any Error) -> any Error {
        if error is FileProblem || error is ExitCode || error is CleanExit || error is ValidationError { return error }
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return error }
        let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        let code: Int32? =
            ns.domain == NSPOSIXErrorDomain
            ? Int32(ns.code)
            : (ns.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? Int32($0.code) : nil }
        if let code {
            return FileProblem(path: path, reason: String(cString: strerror(code)), advice: advice(errno: code))
        }
        switch CocoaError.Code(rawValue: ns.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile:
            return FileProblem(path: path, reason: "no such file or directory", advice: advice(errno: ENOENT))
        case .fileReadNoPermission, .fileWriteNoPermission:
            return FileProblem(path: path, reason: "permission denied", advice: advice(errno: EACCES))
        case .fileWriteOutOfSpace:
            return FileProblem(path: path, reason: "no space left on the device", advice: advice(errno: ENOSPC))
        case .fileWriteVolumeReadOnly:
            return FileProblem(path: path, reason: "the file system is read-only", advice: advice(errno: EROFS))
        case .fileReadInapplicableStringEncoding, .fileReadCorruptFile:
            return FileProblem(path: path, reason: "not readable as UTF-8 text", advice: "check that it is the file you meant")
        default:
            // Foundation often gives no reason (CocoaError 512, "the operation could not be
            // completed"): look at the path for one.
            if let path, let found = diagnose(path) { return found }
            return FileProblem(path: path, reason: "the file operation failed (Foundation error \(ns.code))", advice: nil)
        }
    }

    /// Why `path` cannot be created or written, found by walking up to its nearest existing
    /// ancestor: a file where a directory should be, or a directory this user may not write.
    static func diagnose(_ path: String) -> FileProblem? {
        var ancestor = (path as NSString).deletingLastPathComponent
        while !ancestor.isEmpty && ancestor != "/" && !FileManager.default.fileExists(atPath: ancestor) {
            ancestor = (ancestor as NSString).deletingLastPathComponent
        }
        guard !ancestor.isEmpty else { return nil }
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory)
        if !isDirectory.boolValue {
            return FileProblem(path: path, reason: "\(ancestor) is a file, not a directory", advice: "choose another path, or move that file away")
        }
        if access(ancestor, W_OK | X_OK) != 0 {
            return FileProblem(path: path, reason: "\(ancestor) is not writable by this user", advice: advice(errno: EACCES))
        }
        return nil
    }

    static func advice(errno code: Int32) -> String? {
        switch code {
        case ENOENT: return "check the path (a missing directory is not created for you)"
        case EACCES, EPERM: return "check its permissions (`ls -l`), or run as a user who may use it"
        case ENOSPC: return "free space on that disk, or choose another directory"
        case EROFS: return "choose a directory on a writable file system"
        case EISDIR: return "it is a directory; give a file"
        case ENOTDIR: return "a part of the path is a file, not a directory"
        case EEXIST: return "it exists already; remove it or choose another name"
        default: return nil
        }
    }
}

extension AsyncParsableCommand {
    /// The `main` of our programs: ArgumentParser's, with the error made readable first.
    public static func mainWithReadableErrors() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: ReadableError.readable(error))
        }
    }
}
