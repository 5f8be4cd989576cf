import PlatformAPI
import StationConfig
import Uplink

/// The agent's security settings, with their keys loaded: request signing (`[platform]
/// signing_key_file`), the TLS client certificate (`client_certificate_file`,
/// `client_key_file`) and what is kept of card numbers (`[privacy]`).
public struct SecuritySettings: Sendable {
    /// Signs every request to the platform when set.
    public var signingKey: HMACKey?
    /// Presented to the platform (mutual TLS) when set.
    public var clientCertificate: ClientCertificateFiles?
    /// What every card source stores and sends.
    public var cardIDs: CardIDPolicy

    public init(signingKey: HMACKey? = nil, clientCertificate: ClientCertificateFiles? = nil, cardIDs: CardIDPolicy = .raw) {
        self.signingKey = signingKey
        self.clientCertificate = clientCertificate
        self.cardIDs = cardIDs
    }

    /// Loads the key files the configuration names. Each must be readable by the service user
    /// and by nobody else (mode 0600); the error says `chmod 600 FILE` otherwise.
    ///
    /// With `card_ids = "pseudonym"` (the default) and a card source configured, a
    /// `district_key_file` is required: the agent refuses to start rather than send raw numbers
    /// or pseudonyms under a key the platform does not hold.
    public init(_ configuration: StationConfiguration) throws(ConfigError) {
        let file = configuration.file
        let platform = configuration.platform
        if let reference = platform.signingKeyFile {
            signingKey = try Self.hmacKey(
                reference, file: file, key: "platform.signing_key_file",
                purpose: "the key signs this station's requests: whoever reads it can post events as this station")
        }
        if let client = platform.clientCertificate {
            try KeyFile.checkPrivate(
                client.keyFile, configurationFile: file, key: "platform.client_key_file",
                purpose: "the private key proves this station's identity to the platform")
            let files = ClientCertificateFiles(certificateFile: client.certificateFile.path, keyFile: client.keyFile.path)
            do {
                try files.validate()
            } catch {
                let (reference, key) = error.inKeyFile
                    ? (client.keyFile, "platform.client_key_file") : (client.certificateFile, "platform.client_certificate_file")
                throw ConfigError(issues: [ConfigIssue(file: file, line: reference.line, key: key, message: error.message)])
            }
            clientCertificate = files
        }
        let privacy = configuration.privacy
        switch privacy.cardIDs {
        case .raw:
            cardIDs = .raw
        case .pseudonym:
            if let reference = privacy.districtKeyFile {
                cardIDs = .pseudonym(
                    CardPseudonymizer(
                        key: try Self.hmacKey(
                            reference, file: file, key: "privacy.district_key_file",
                            purpose: "with the key, pseudonyms can be linked back to card numbers")))
            } else if let reader = configuration.devices.first(where: \.readsCards) {
                throw ConfigError(issues: [ConfigIssue(
                    file: file, line: privacy.line, key: "privacy.district_key_file",
                    message: "required key is missing: card_ids is \"pseudonym\" (the default) and device \"\(reader.name)\" reads cards; "
                        + "set it to the district's key file (hex, mode 0600), or set card_ids = \"raw\" to send card numbers as read")])
            } else {
                cardIDs = .raw  // no card source: nothing to pseudonymise
            }
        }
    }

    static func hmacKey(
        _ reference: StationConfiguration.FileReference, file: String, key: String, purpose: String
    ) throws(ConfigError) -> HMACKey {
        let text = try KeyFile.readText(reference, configurationFile: file, key: key, purpose: purpose)
        switch HMACKey.parse(hex: text) {
        case .success(let parsed):
            return parsed
        case .failure(let problem):
            throw ConfigError(issues: [ConfigIssue(file: file, line: reference.line, key: key, message: "\(reference.path): \(problem.message)")])
        }
    }
}
