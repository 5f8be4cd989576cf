import CSerialShim

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Device path helpers: symlink resolution and pseudo-terminal detection.
public enum DevicePath {
    /// What a resolved device path is.
    public enum Kind: String, Sendable, Hashable {
        /// A Unix98 pseudo-terminal slave (`/dev/pts/N`, majors 136...143): opened with termios.
        case pseudoTerminal
        /// Any other character device (`/dev/ttyUSB0`, `/dev/ttyACM0`, `/dev/ttyS0`): libserialport.
        case characterDevice
        /// Exists but is not a character device (regular file, directory, socket...).
        case notCharacterDevice
    }

    /// Resolves every symlink (`/dev/serial/by-id/...`, udev `SYMLINK+=` names, simulator links)
    /// with `realpath(3)`. libserialport 0.1.1 rejects symlinks, so every open starts here.
    ///
    /// - Throws: ``SerialError/Code/notFound`` naming `path` when it (or its target) does not exist.
    public static func resolve(_ path: String) throws(SerialError) -> String {
        guard !path.isEmpty else {
            throw SerialError(
                code: .notFound, path: path, operation: "realpath", message: "the device path is empty",
                hint: "Set the device path in the configuration; `station-agent ports` lists the ports present.")
        }
        guard let resolved = realpath(path, nil) else {
            throw SerialError.posix(errno, path: path, operation: "realpath")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Classifies an already resolved path with `stat(2)`.
    ///
    /// The rule: a character device whose major number is a Unix98 pty slave major (136...143),
    /// or any path under `/dev/pts/`, is a pseudo-terminal.
    public static func kind(ofResolved path: String) throws(SerialError) -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SerialError.posix(errno, path: path, operation: "stat")
        }
        guard (info.st_mode & S_IFMT) == S_IFCHR else { return .notCharacterDevice }
        let major = cserial_device_major(UInt64(info.st_rdev))
        if cserial_is_pty_slave_major(major) != 0 || path.hasPrefix("/dev/pts/") {
            return .pseudoTerminal
        }
        return .characterDevice
    }
}
