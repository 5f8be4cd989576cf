import EventModel
import Foundation

/// `[station]` and its `[station.location]`.
extension SchemaDecoder {
    mutating func decodeStation(_ s: Section?) -> StationConfiguration.Station? {
        guard let s else { return nil }
        checkUnknown(s, keys: Self.stationKeys, tables: [("location", "[station.location]")])
        var id: String?
        if case .present(let value, let line) = string(s, "id", required: true) {
            if Self.matches(value, length: 1...64, allowed: Self.isStationIDScalar) {
                id = value
            } else {
                issue(line, s.key("id"), "expected 1 to 64 characters of A-Z a-z 0-9 . _ -; got \(Self.quoted(value))")
            }
        }
        let name = optionalText(s, "name")
        let stateDirectory = path(s, "state_dir") ?? Self.defaultStateDirectory
        let location = decodeLocation(subsection(s, "location", display: "[station.location]"))
        guard let id else { return nil }
        return StationConfiguration.Station(id: id, name: name, stateDirectory: stateDirectory, location: location)
    }

    mutating func decodeLocation(_ s: Section?) -> GridLocation {
        guard let s, s.present else { return GridLocation() }
        checkUnknown(s, keys: Self.locationKeys)
        return GridLocation(
            district: optionalText(s, "district"),
            street: optionalText(s, "street"),
            community: optionalText(s, "community"),
            grid: optionalText(s, "grid"),
            microGrid: optionalText(s, "micro_grid")
        )
    }
}
