import Glibc

/// The one check of every secret file the agent and the simulator read (the platform token,
/// the signing, district, client-certificate, DC-09 and OSDP keys): the file is read only when
/// it is a regular file that neither its group nor other users may touch (mode 0600 or 0400).
///
/// The check is made on the opened descriptor (`fstat`), so the file checked is the file read.
/// A symlink is followed: what must be private is the file holding the secret. The file is
/// opened non-blocking, so a FIFO or a device named by mistake is refused instead of waited on.
/// The content is never part of a problem.
public enum SecretFile {
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public enum Kind: Sendable, Hashable {
            case missing, permissionDenied, unreadable, notARegularFile, openToOthers, tooLarge
        }

        public var kind: Kind
        public var path: String
        /// What is wrong, naming the path: "/etc/station-agent/signing.key is open to every user (mode 644)".
        public var message: String
        /// What is wrong, without the path: "open to every user (mode 644)".
        public var reason: String
        /// What to do: "run `chmod 600 /etc/station-agent/signing.key`".
        public var fix: String

        /// `message; fix`
        public var description: String { "\(message); \(fix)" }
    }

    /// The bytes of the secret file at `path`, at most `limit` of them.
    public static func read(_ path: String, limit: Int = 64 * 1024) throws(Problem) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT, ENOTDIR:
                throw Problem(
                    kind: .missing, path: path, message: "cannot read \(path): \(text(code))", reason: text(code),
                    fix: "create it (mode 0600, owned by the service user)")
            case EACCES, EPERM:
                throw Problem(
                    kind: .permissionDenied, path: path, message: "cannot read \(path) as user \(currentUser)",
                    reason: "not readable by user \(currentUser)", fix: "let the service user read it (`chown`), mode 0600")
            default:
                throw Problem(
                    kind: .unreadable, path: path, message: "cannot read \(path): \(text(code))", reason: text(code),
                    fix: "check the path and the file system")
            }
        }
        defer { _ = close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = text(errno)
            throw Problem(
                kind: .unreadable, path: path, message: "cannot read \(path): \(reason)", reason: reason, fix: "check the file system")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw Problem(
                kind: .notARegularFile, path: path, message: "\(path) is not a regular file", reason: "not a regular file",
                fix: "name the file that holds the secret")
        }
        let others = info.st_mode & (S_IRWXG | S_IRWXO)
        guard others == 0 else {
            let who = others & S_IRWXO != 0 ? "every user" : "its group"
            let reason = "open to \(who) (mode \(String(info.st_mode & 0o777, radix: 8)))"
            throw Problem(
                kind: .openToOthers, path: path, message: "\(path) is \(reason)", reason: reason, fix: "run `chmod 600 \(path)`")
        }
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = text(errno)
                throw Problem(
                    kind: .unreadable, path: path, message: "cannot read \(path): \(reason)", reason: reason, fix: "check the file system")
            }
            if count == 0 { return content }
            content += chunk[0..<count]
            if content.count > limit {
                throw Problem(
                    kind: .tooLarge, path: path, message: "\(path) is larger than \(limit) bytes", reason: "larger than \(limit) bytes",
                    fix: "name the file that holds only the secret")
            }
        }
    }

    /// The secret file's text, decoded as UTF-8 (invalid bytes replaced: the callers parse it
    /// and say what they expected).
    public static func readText(_ path: String, limit: Int = 64 * 1024) throws(Problem) -> String {
        String(decoding: try read(path, limit: limit), as: UTF8.self)
    }

    private static func text(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    private static var currentUser: String {
        getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
    }
}
