import StationConfig

/// The settings of one kind, or nil for a device of another kind: short checks for the tests.
extension StationConfiguration.Device {
    var cardReader: StationConfiguration.CardReaderOptions? {
        if case .cardReader(let options) = kind { options } else { nil }
    }

    var alarmBox: StationConfiguration.AlarmBoxOptions? {
        if case .alarmBox(let options) = kind { options } else { nil }
    }

    var alarmButton: StationConfiguration.AlarmButtonOptions? {
        if case .alarmButton(let options) = kind { options } else { nil }
    }

    var osdpBus: StationConfiguration.OSDPBusOptions? {
        if case .osdpBus(let options) = kind { options } else { nil }
    }
}
