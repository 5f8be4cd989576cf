import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
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
        let scratch = try TemporaryDirectory(prefix: "station-mtls")
        let pki = try await ScratchCertificates(in: scratch.path, clientSubject: "/CN=ST-1")
        let port = try freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.openssl)
        server.arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", pki.serverCertificate, "-key", pki.serverKey,
            "-CAfile", pki.caFile, "-Verify", "1", "-www", "-quiet",
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
            caFile: pki.caFile,
            clientCertificate: ClientCertificateFiles(certificateFile: pki.clientCertificate, keyFile: pki.clientKey),
            connectTimeout: .seconds(5))
        let withoutCertificate = try PlatformClient.makeHTTPClient(caFile: pki.caFile, connectTimeout: .seconds(5))

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
}
