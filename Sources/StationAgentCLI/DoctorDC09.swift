import Agent
import SIADC09

extension DoctorChecks {
    // MARK: SIA DC-09

    /// With `[sia]` configured: one `NULL` link test to the receiving centre (the message the
    /// agent sends when idle), so the field check shows that alarms would reach it. No event is
    /// reported to the centre. The sequence number is the doctor's own (the agent's stays as is).
    static func dc09(_ settings: DC09Settings, connectTimeout: Duration) async -> DoctorLine {
        let subject = "sia"
        let target = "\(settings.host):\(settings.port)"
        let account = settings.configuration.account
        let report = await DC09Probe.linkTest(
            configuration: settings.configuration, host: settings.host, port: settings.port, connectTimeout: connectTimeout)
        let elapsed = report.steps.last.map { step -> String in
            let ms = step.elapsed.components.seconds * 1000 + step.elapsed.components.attoseconds / 1_000_000_000_000_000
            return " in \(ms) ms"
        } ?? ""
        let encrypted = settings.configuration.key == nil ? "" : ", encrypted"
        switch report.result {
        case .acknowledged:
            return DoctorLine(
                level: .ok, subject: subject,
                message: "receiver \(target) acknowledged a link test (ACK\(elapsed), account \(account)\(encrypted))")
        case .refused(let reason):
            return DoctorLine(
                level: .fail, subject: subject, message: "receiver \(target) refused the link test: \(reason)",
                action: "the centre does not accept account \(account) as configured: check `sia.account`, `sia.receiver_number`, `sia.prefix` and the key with the alarm receiving centre")
        case .noAnswer(let reason):
            return DoctorLine(
                level: .fail, subject: subject, message: "receiver \(target) did not answer the link test: \(reason)",
                action: "the connection opened but nothing came back: a receiver drops messages it cannot decrypt or does not know, so check `sia.key_file` and `sia.account` with the centre")
        case .failed(let reason):
            return DoctorLine(
                level: .fail, subject: subject, message: "receiver \(target) not reachable: \(reason)",
                action: "check `sia.receiver`, the network and firewall towards the centre (`nc -vz \(settings.host) \(settings.port)`); alarms still go to the platform meanwhile")
        }
    }
}
