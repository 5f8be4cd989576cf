import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import Uplink

/// Mutual TLS against a real TLS server that requires a client certificate (`openssl s_server
/// -Verify 1`), with a scratch CA made for the test: the agent's client presents
/// `client_certificate_file` + `client_key_file` and gets through; without them the handshake
/// fails and the error says so.
@Suite("Mutual TLS: the uplink presents the station's client certificate")
struct MutualTLSTests {
    static let openssl = "/usr/bin/openssl"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: openssl)))
    func aServerThatRequiresAClientCertificateAcceptsOursAndRefusesNone() async throws {
        let directory = NSTemporaryDirectory() + "station-mtls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func openssl(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.openssl)
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "openssl \(arguments.joined(separator: " "))")
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=mTLS Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: directory + "/server.cnf", atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: directory + "/client.cnf", atomically: true, encoding: .utf8)
        for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=ST-1")] {
            try openssl(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).cnf"])
        }
        let port = try Self.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.openssl)
        server.arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", directory + "/server.pem", "-key", directory + "/server.key",
            "-CAfile", directory + "/ca.pem", "-Verify", "1", "-www", "-quiet",
        ]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)  // s_server does not stop on SIGTERM
            server.waitUntilExit()
        }
        let url = "https://localhost:\(port)/"

        let withCertificate = try PlatformClient.makeHTTPClient(
            caFile: directory + "/ca.pem",
            clientCertificate: ClientCertificateFiles(certificateFile: directory + "/client.pem", keyFile: directory + "/client.key"),
            connectTimeout: .seconds(5))
        let withoutCertificate = try PlatformClient.makeHTTPClient(caFile: directory + "/ca.pem", connectTimeout: .seconds(5))

        // The server may take a moment to listen: retry the good client until it answers.
        var status = 0
        var lastError = ""
        let deadline = ContinuousClock.now + .seconds(30)
        while status == 0, ContinuousClock.now < deadline {
            do {
                let response = try await withCertificate.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
                _ = try await response.body.collect(upTo: 1 << 20)
                status = Int(response.status.code)
            } catch {
                lastError = "\(error)"
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(status == 200, "with the client certificate: \(lastError)")

        var refusal: (any Error)?
        do {
            let response = try await withoutCertificate.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
        } catch {
            refusal = error
        }
        let error = try #require(refusal, "a server that requires a client certificate answered a client without one")
        // BoringSSL reports the server's TLS 1.3 alert: the error says a certificate was required.
        #expect("\(error)".contains("TLSV1_ALERT_CERTIFICATE_REQUIRED"), "\(error)")

        try await withCertificate.shutdown()
        try await withoutCertificate.shutdown()
    }

    @Test func unusableCertificateOrKeyFilesAreNamed() throws {
        let directory = NSTemporaryDirectory() + "station-mtls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "not a certificate\n".write(toFile: directory + "/client.pem", atomically: true, encoding: .utf8)
        let files = ClientCertificateFiles(certificateFile: directory + "/client.pem", keyFile: directory + "/client.key")
        #expect {
            try files.validate()
        } throws: { error in
            guard let problem = error as? ClientCertificateFiles.Problem else { return false }
            return !problem.inKeyFile && problem.message.hasPrefix(directory + "/client.pem")
        }
        #expect(throws: UplinkError.self) {
            try PlatformClient.makeHTTPClient(caFile: nil, clientCertificate: files, connectTimeout: .seconds(1))
        }
    }

    /// A TCP port nobody listens on right now.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw CancellationError() }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw CancellationError() }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
