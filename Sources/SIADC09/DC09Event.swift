import EventModel
import Foundation

/// Which data format a transmitter uses for events.
public enum DC09Format: String, Sendable, Hashable, CaseIterable, Codable {
    /// SIA DC-03 codes: `[#1234|Nri1/PA001]`.
    case siaDCS = "SIA-DCS"
    /// Contact ID: `[#1234|1120 01 001]`.
    case admCID = "ADM-CID"

    public var token: DC09Token { self == .siaDCS ? .siaDCS : .admCID }
}

/// An event code in both vocabularies: the two-letter SIA DC-03 code and the Contact ID
/// qualifier (1 new event, 3 restore) with its three-digit event code.
public struct DC09EventCode: Sendable, Hashable, CustomStringConvertible {
    /// Two upper-case letters, e.g. `PA`.
    public let sia: String
    /// 1 (new event / opening) or 3 (restore / closing).
    public let cidQualifier: Int
    /// Three digits, e.g. 120.
    public let cidEvent: Int

    public init(sia: String, cidQualifier: Int, cidEvent: Int) throws(DC09Error) {
        guard sia.utf8.count == 2, sia.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw DC09Error(.invalidField, "SIA event code '\(sia)' must be two upper-case letters")
        }
        guard [1, 3, 6].contains(cidQualifier), (0...999).contains(cidEvent) else {
            throw DC09Error(.invalidField, "Contact ID qualifier \(cidQualifier) / event \(cidEvent) out of range (qualifier 1, 3 or 6; event 000-999)")
        }
        self.sia = sia
        self.cidQualifier = cidQualifier
        self.cidEvent = cidEvent
    }

    private init(_ sia: String, _ qualifier: Int, _ event: Int) {
        self.sia = sia
        self.cidQualifier = qualifier
        self.cidEvent = event
    }

    /// Panic alarm: `PA`, CID 1 120.
    public static let panic = DC09EventCode("PA", 1, 120)
    /// Panic alarm restore (the latched alarm was reset): `PH`, CID 3 120.
    public static let panicRestore = DC09EventCode("PH", 3, 120)
    /// Tamper: `TA`, CID 1 137.
    public static let tamper = DC09EventCode("TA", 1, 137)
    /// Low system battery: `YT`, CID 1 302.
    public static let lowBattery = DC09EventCode("YT", 1, 302)
    /// AC (mains) power lost: `AT`, CID 1 301.
    public static let acLoss = DC09EventCode("AT", 1, 301)
    /// AC power restored: `AR`, CID 3 301.
    public static let acRestore = DC09EventCode("AR", 3, 301)
    /// A supervised device failed or went silent: expansion trouble `ET`, CID 1 333.
    public static let deviceTrouble = DC09EventCode("ET", 1, 333)
    /// Periodic (automatic) test: `RP`, CID 1 602.
    public static let periodicTest = DC09EventCode("RP", 1, 602)
    /// Manual test: `RX`, CID 1 601.
    public static let manualTest = DC09EventCode("RX", 1, 601)

    /// The code a StationAgent event kind is reported with, or nil for kinds that do not go to
    /// an alarm receiving centre (card taps, device online/offline, agent start).
    ///
    /// | EventKind | SIA-DCS | Contact ID |
    /// |---|---|---|
    /// | alarm | PA | 1 120 |
    /// | alarmReset | PH | 3 120 |
    /// | tamper | TA | 1 137 |
    /// | lowBattery | YT | 1 302 |
    /// | powerLoss | AT | 1 301 |
    /// | powerRestored | AR | 3 301 |
    /// | deviceFault | ET | 1 333 |
    public static func forKind(_ kind: EventKind) -> DC09EventCode? {
        switch kind {
        case .alarm: .panic
        case .alarmReset: .panicRestore
        case .tamper: .tamper
        case .lowBattery: .lowBattery
        case .powerLoss: .acLoss
        case .powerRestored: .acRestore
        case .deviceFault: .deviceTrouble
        case .cardTap, .deviceOnline, .deviceOffline, .agentStarted, .eventsEvicted, .clockJump: nil
        }
    }

    /// A code by its SIA name among the ones above (`PA`, `RP`, ...), for command lines.
    public static func named(_ sia: String) -> DC09EventCode? {
        [panic, panicRestore, tamper, lowBattery, acLoss, acRestore, deviceTrouble, periodicTest, manualTest]
            .first { $0.sia == sia.uppercased() }
    }

    public var description: String { "\(sia) (CID \(cidQualifier) \(String(cidEvent + 1000).dropFirst()))" }
}

/// One event to report: a code, where it happened (area/partition and zone/point), and when.
public struct DC09Event: Sendable, Hashable {
    public var code: DC09EventCode
    /// Area (SIA `ri`) / Contact ID group: 0...99.
    public var area: Int
    /// Zone or point (SIA) / Contact ID zone or user: 0...999.
    public var zone: Int
    /// When it happened, by the kiosk's clock. When the message goes out noticeably later (it
    /// was queued), the frame carries this time in an `[H...]` field.
    public var occurredAt: Date?

    public init(code: DC09EventCode, area: Int = 1, zone: Int = 1, occurredAt: Date? = nil) throws(DC09Error) {
        guard (0...99).contains(area), (0...999).contains(zone) else {
            throw DC09Error(.invalidField, "area \(area) / zone \(zone) out of range (area 0-99, zone 0-999); check the device's DC-09 zone setting")
        }
        self.code = code
        self.area = area
        self.zone = zone
        self.occurredAt = occurredAt
    }

    /// The event for a StationAgent event, or nil when that kind is not reported over DC-09.
    public init?(_ event: NewEvent, area: Int = 1, zone: Int = 1) {
        guard let code = DC09EventCode.forKind(event.kind), (0...99).contains(area), (0...999).contains(zone) else { return nil }
        self.code = code
        self.area = area
        self.zone = zone
        self.occurredAt = event.occurredAt
    }

    /// The data field's content for `format`:
    /// SIA-DCS `#ACCT|Nri<area>/<code><zone:3>`, ADM-CID `#ACCT|<q><eee> <gg> <zzz>`.
    public func data(format: DC09Format, account: DC09Account) -> String {
        func digits(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        switch format {
        case .siaDCS:
            return "#\(account.text)|Nri\(area)/\(code.sia)\(digits(zone, 3))"
        case .admCID:
            return "#\(account.text)|\(code.cidQualifier)\(digits(code.cidEvent, 3)) \(digits(area, 2)) \(digits(zone, 3))"
        }
    }
}
