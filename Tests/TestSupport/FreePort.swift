import Glibc

public struct FreePortFailure: Error, CustomStringConvertible {
    public let description: String
}

/// A TCP port on 127.0.0.1 nobody listens on right now (bind to port 0, read it back, close).
public func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw FreePortFailure(description: "socket failed: errno \(errno)") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
    }
    guard bound else { throw FreePortFailure(description: "bind to port 0 failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
