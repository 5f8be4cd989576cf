import NIOSSL

/// The station's TLS client certificate for a platform that requires mutual TLS: a PEM
/// certificate (chain, leaf first) and its unencrypted PEM private key.
public struct ClientCertificateFiles: Sendable, Hashable {
    public var certificateFile: String
    public var keyFile: String

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Why one of the two files cannot be used.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        /// True when the key file is the problem, false when the certificate file is.
        public var inKeyFile: Bool
        public var message: String
        public var description: String { message }
    }

    /// Reads both files as they will be used, to report a bad one at start-up.
    public func validate() throws(Problem) {
        _ = try load()
    }

    /// Loads both files into `tls`.
    public func apply(to tls: inout TLSConfiguration) throws(UplinkError) {
        do {
            let (chain, key) = try load()
            tls.certificateChain = chain.map { .certificate($0) }
            tls.privateKey = .privateKey(key)
        } catch {
            throw UplinkError(.transport, message: error.message)
        }
    }

    private func load() throws(Problem) -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw Problem(inKeyFile: false, message: "\(certificateFile) cannot be read as a PEM certificate: \(error)")
        }
        guard !chain.isEmpty else {
            throw Problem(inKeyFile: false, message: "\(certificateFile) holds no PEM certificate")
        }
        do {
            return (chain, try NIOSSLPrivateKey(file: keyFile, format: .pem))
        } catch {
            throw Problem(inKeyFile: true, message: "\(keyFile) cannot be read as an unencrypted PEM private key: \(error)")
        }
    }
}
