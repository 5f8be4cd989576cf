import DeviceProtocols
import EventModel
import Foundation

/// Renders a configuration back to TOML (what `description` prints). The token is never
/// written: a comment says that one is set.
enum ConfigurationRenderer {
    static func render(_ configuration: StationConfiguration) -> String {
        var lines: [String] = []
        let station = configuration.station
        lines.append("[station]")
        lines.append("id = \(q(station.id))")
        if let name = station.name { lines.append("name = \(q(name))") }
        lines.append("state_dir = \(q(station.stateDirectory))")
        let location = station.location
        let parts: [(String, String?)] = [
            ("district", location.district), ("street", location.street), ("community", location.community),
            ("grid", location.grid), ("micro_grid", location.microGrid),
        ]
        if parts.contains(where: { $0.1 != nil }) {
            lines.append("")
            lines.append("[station.location]")
            for case (let key, let value?) in parts { lines.append("\(key) = \(q(value))") }
        }
        lines.append("")
        lines += platformSection(configuration.platform)
        lines.append("")
        lines.append("[store]")
        lines.append("retention_hours = \(configuration.store.retention.components.seconds / 3600)")
        lines.append("max_mb = \(configuration.store.maxBytes >> 20)")
        lines.append("alarm_reserve_mb = \(configuration.store.alarmReserveBytes >> 20)")
        lines.append("")
        lines.append("[log]")
        lines.append("level = \(q(configuration.log.level.rawValue))")
        lines.append("")
        lines.append("[metrics]")
        lines.append("listen = \(q(configuration.metrics.listen?.description ?? ""))")
        lines.append("")
        lines.append("[privacy]")
        lines.append("card_ids = \(q(configuration.privacy.cardIDs.rawValue))")
        if let file = configuration.privacy.districtKeyFile { lines.append("district_key_file = \(q(file.path))") }
        for device in configuration.devices {
            lines.append("")
            lines.append("[[device]]")
            lines.append("name = \(q(device.name))")
            lines.append("kind = \(q(device.kind.name.rawValue))")
            if case .cardReader(let reader) = device.kind { lines.append("profile = \(q(reader.profile.rawValue))") }
            lines.append("purpose = \(q(device.purpose))")
            switch device.port {
            case .path(let path):
                lines.append("port = \(q(path))")
            case .usb(let vendor, let product, let serial):
                lines.append("usb_vendor = \(q(PortSpec.hex4(vendor)))")
                lines.append("usb_product = \(q(PortSpec.hex4(product)))")
                if let serial { lines.append("usb_serial = \(q(serial))") }
            }
            switch device.kind {
            case .cardReader(let reader):
                if let baud = reader.baud { lines.append("baud = \(baud)") }
                lines.append("dedup_window_ms = \(milliseconds(reader.dedupWindow))")
            case .alarmBox(let box):
                lines.append("supervision_seconds = \(box.supervision.components.seconds)")
            case .alarmButton(let button):
                lines.append("input = \(q(button.input))")
                lines.append("drive = \(q(button.drive))")
                lines.append("wiring = \(q(button.normallyClosed ? "normally-closed" : "normally-open"))")
                lines.append("debounce_ms = \(milliseconds(button.debounce))")
                lines.append("minimum_press_ms = \(milliseconds(button.minimumPress))")
                lines.append("poll_ms = \(milliseconds(button.pollInterval))")
            case .osdpBus(let bus):
                if let baud = bus.baud { lines.append("baud = \(baud)") }
                if let gap = bus.turnaroundGap { lines.append("turnaround_gap_ms = \(milliseconds(gap))") }
            }
            lines.append("reopen_initial_ms = \(milliseconds(device.reopenInitial))")
            lines.append("reopen_max_ms = \(milliseconds(device.reopenMax))")
            // Last: after `[[device.reader]]`, keys belong to the reader.
            if case .osdpBus(let bus) = device.kind {
                for reader in bus.readers {
                    lines.append("")
                    lines.append("[[device.reader]]")
                    lines.append("address = \(reader.address)")
                    lines.append("name = \(q(reader.name))")
                    lines.append("purpose = \(q(reader.purpose))")
                    lines.append("secure = \(reader.keyFile != nil)")
                    if let keyFile = reader.keyFile { lines.append("key_file = \(q(keyFile))") }
                    if reader.install { lines.append("install = true") }
                    if let input = reader.alarmInput { lines.append("alarm_input = \(input)") }
                }
            }
        }
        if let sia = configuration.sia {
            lines.append("")
            lines.append("[sia]")
            lines.append("receiver = \(q("\(sia.host):\(sia.port)"))")
            lines.append("account = \(q(sia.account))")
            if let number = sia.receiverNumber { lines.append("receiver_number = \(q(number))") }
            lines.append("prefix = \(q(sia.prefix))")
            lines.append("format = \(q(sia.format))")
            if let keyFile = sia.keyFile { lines.append("key_file = \(q(keyFile))") }
            lines.append("retry_seconds = \(sia.retryInterval.components.seconds)")
            lines.append("response_timeout_seconds = \(sia.responseTimeout.components.seconds)")
            lines.append("link_test_seconds = \(sia.linkTestInterval?.components.seconds ?? 0)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func platformSection(_ platform: StationConfiguration.Platform) -> [String] {
        var lines = ["[platform]", "url = \(q(platform.url.absoluteString))"]
        switch platform.credential {
        case .token?: lines.append("# token = (set, redacted)")
        case .tokenFile(let path)?: lines.append("token_file = \(q(path))")
        case nil: break
        }
        if let caFile = platform.caFile { lines.append("ca_file = \(q(caFile))") }
        lines.append("timeout_ms = \(milliseconds(platform.timeout))")
        lines.append("batch_size = \(platform.batchSize)")
        lines.append("retry_initial_ms = \(milliseconds(platform.retryInitial))")
        lines.append("retry_max_ms = \(milliseconds(platform.retryMax))")
        lines.append("heartbeat_seconds = \(platform.heartbeatInterval.components.seconds)")
        if let file = platform.signingKeyFile { lines.append("signing_key_file = \(q(file.path))") }
        if let client = platform.clientCertificate {
            lines.append("client_certificate_file = \(q(client.certificateFile.path))")
            lines.append("client_key_file = \(q(client.keyFile.path))")
        }
        return lines
    }

    private static func q(_ text: String) -> String {
        TOMLWriter.quoted(text)
    }

    /// Whole milliseconds of a duration.
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
