import Foundation

/// A throwaway PKI made with `openssl` for the TLS tests: a CA, a server certificate for
/// `localhost` and 127.0.0.1, and optionally a client certificate (`clientAuth`). EC P-256
/// keys: quick to make.
public struct ScratchCertificates: Sendable {
    public static let openssl = "/usr/bin/openssl"

    public let directory: String
    public var caFile: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCertificate: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client.key" }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Makes the files in `directory` (which must exist).
    ///
    /// - Parameters:
    ///   - serverDays: how long the server certificate is valid.
    ///   - clientSubject: the client certificate's subject (`/CN=ST-1`); no client certificate when nil.
    public init(in directory: String, serverDays: Int = 2, clientSubject: String? = nil) async throws {
        self.directory = directory
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try await openssl(["req", "-x509"] + key + [
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=Scratch Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        ])
        var certificates = [("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1", serverDays)]
        if let clientSubject { certificates.append(("client", clientSubject, "extendedKeyUsage=clientAuth", 2)) }
        for (name, subject, extensions, days) in certificates {
            try (extensions + "\n").write(toFile: "\(directory)/\(name).cnf", atomically: true, encoding: .utf8)
            try await openssl(["req"] + key + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
            try await openssl([
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "\(name).pem", "-days", String(days), "-extfile", "\(name).cnf",
            ])
        }
    }

    private func openssl(_ arguments: [String]) async throws {
        let result = try await Command.run(Self.openssl, arguments, in: directory)
        guard result.status == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) ended with \(result.status):\n\(result.output)")
        }
    }
}
