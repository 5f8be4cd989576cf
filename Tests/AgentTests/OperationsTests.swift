import Agent
import StationConfig
import Testing
import Uplink

@Suite("Status backlog progress")
struct BacklogProgressTests {
    @Test func aDrainingBacklogShowsBarShareRateAndTimeLeft() {
        // 3000 of 10000 gone; 3000 delivered in the last minute: 50 events/s; 7000 left: 140 s.
        let progress = BacklogProgress(remaining: 7000, drained: 3000, deliveredLastMinute: 3000, deliveredLastTenMinutes: 3000)
        #expect(progress.isBacklog)
        #expect(progress.rate == 50)
        #expect(progress.fraction == 0.3)
        #expect(progress.secondsLeft == 140)
        #expect(progress.bar(width: 10) == "[###.......]")
        #expect(progress.lines == [
            "  delivery rate: 50.0 events/s",
            "  backlog: [#########.....................]  30%  7000 of 10000 left",
            "  draining at 50.0 events/s: about 2 min 20 s left",
        ])
    }

    @Test func aSlowMinuteFallsBackToTenMinutesAndNoDeliveryIsNotDraining() {
        let slow = BacklogProgress(remaining: 600, drained: 0, deliveredLastMinute: 3, deliveredLastTenMinutes: 60)
        #expect(slow.rate == 0.1)
        #expect(slow.secondsLeft == 6000)
        #expect(slow.lines.last == "  draining at 0.1 events/s: about 1 h 40 min left")
        let stuck = BacklogProgress(remaining: 250, drained: 0, deliveredLastMinute: 0, deliveredLastTenMinutes: 0)
        #expect(stuck.rate == nil)
        #expect(stuck.secondsLeft == nil)
        #expect(stuck.lines == [
            "  delivery rate: none in the last 10 min",
            "  backlog: [..............................]   0%  250 of 250 left",
            "  not draining: nothing delivered in the last 10 min (is the platform reachable? `station-agent doctor` checks)",
        ])
    }

    @Test func aSmallQueueShowsOnlyTheRate() {
        let small = BacklogProgress(remaining: 99, drained: 5000, deliveredLastMinute: 600, deliveredLastTenMinutes: 900)
        #expect(!small.isBacklog)
        #expect(small.lines == ["  delivery rate: 10.0 events/s"])
        let fast = BacklogProgress(remaining: 100_000, drained: 100_000, deliveredLastMinute: 12_000, deliveredLastTenMinutes: 12_000)
        #expect(fast.lines[0] == "  delivery rate: 200 events/s")
        #expect(fast.lines[1].hasPrefix("  backlog: [###############...............]  50%  100000 of 200000 left"))
        #expect(fast.lines[2] == "  draining at 200 events/s: about 8 min 20 s left")
    }

    @Test func durationsAreRoundedUpToTheUnitShown() {
        #expect(BacklogProgress.duration(0.2) == "1 s")
        #expect(BacklogProgress.duration(59) == "59 s")
        #expect(BacklogProgress.duration(60) == "1 min")
        #expect(BacklogProgress.duration(61) == "1 min 10 s")
        #expect(BacklogProgress.duration(3599) == "60 min")
        #expect(BacklogProgress.duration(3600) == "1 h 00 min")
        #expect(BacklogProgress.duration(3 * 3600 + 301) == "3 h 06 min")
        #expect(BacklogProgress.duration(50 * 3600) == "2 days 2 h")
        #expect(BacklogProgress(remaining: 10, drained: 0, deliveredLastMinute: 0, deliveredLastTenMinutes: 0).fraction == 0)
        #expect(BacklogProgress(remaining: 0, drained: 0, deliveredLastMinute: 0, deliveredLastTenMinutes: 0).fraction == 1)
    }
}

@Suite("Reload: settings the process keeps")
struct FixedSettingsTests {
    static func settings(stateDirectory: String = "/var/lib/station-agent") -> AgentSettings {
        AgentSettings(
            stationID: "ST-1", location: nil, stateDirectory: stateDirectory, platformURL: "http://127.0.0.1:1", token: nil,
            caFile: nil, requestTimeout: .seconds(5), batchSize: 100, retry: RetryPolicy(initial: .milliseconds(100), maximum: .seconds(1)),
            retention: .seconds(3600), readers: [])
    }

    @Test func anythingElseMayChange() {
        var new = Self.settings()
        new.stationID = "ST-2"
        new.platformURL = "https://elsewhere.example"
        new.batchSize = 5
        new.logLevel = .debug
        #expect(FixedSettings.problems(old: Self.settings(), new: new, file: "s.toml").isEmpty)
    }

    @Test func theStoreAndTheMetricsEndpointMayNot() {
        let old = Self.settings()
        var new = Self.settings(stateDirectory: "/srv/queue")
        new.storeBudgetBytes = 64 << 20
        new.metricsListen = StationConfiguration.ListenAddress(host: "127.0.0.1", port: 9100)
        let problems = FixedSettings.problems(old: old, new: new, file: "s.toml")
        let restart = "which a reload cannot apply (the process keeps it); restart the agent (`systemctl restart station-agent`) or put the old value back"
        #expect(problems == [
            "s.toml: station.state_dir: changed from /var/lib/station-agent to /srv/queue, \(restart)",
            "s.toml: store.max_mb: changed from 0 to 64, \(restart)",
            "s.toml: metrics.listen: changed from \"\" to \"127.0.0.1:9100\", \(restart)",
        ])
    }
}
