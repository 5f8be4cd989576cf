import Foundation
import StationConfig
import Testing

@Suite("Schema: [metrics]")
struct MetricsSchemaTests {
    @Test func theEndpointIsOnLoopbackByDefault() throws {
        let parsed = try #require(configuration(minimalHead))
        #expect(parsed.metrics.listen == StationConfiguration.ListenAddress(host: "127.0.0.1", port: 9464))
        #expect(parsed.metrics.listen?.isLoopback == true)
    }

    @Test func anAddressAnIPv6AddressAndOff() throws {
        let other = try #require(configuration(minimalHead + "\n[metrics]\nlisten = \"0.0.0.0:9100\""))
        #expect(other.metrics.listen == .init(host: "0.0.0.0", port: 9100))
        #expect(other.metrics.listen?.isLoopback == false)
        let v6 = try #require(configuration(minimalHead + "\n[metrics]\nlisten = \"[::1]:0\""))
        #expect(v6.metrics.listen == .init(host: "::1", port: 0))
        #expect(v6.metrics.listen?.description == "[::1]:0")
        let off = try #require(configuration(minimalHead + "\n[metrics]\nlisten = \"\""))
        #expect(off.metrics.listen == nil)
    }

    @Test func badAddressesAreNamedWithTheirLine() {
        for bad in ["9464", "localhost:", ":9464", "127.0.0.1:65536", "127.0.0.1:94a4", "[::1]9464", "a:b:9464", "127.0.0.1:-1"] {
            #expect(issues(minimalHead + "\n[metrics]\nlisten = \"\(bad)\"") == [
                "station.toml:6: metrics.listen: expected HOST:PORT like \"127.0.0.1:9464\" or \"[::1]:9464\" (port 0 to 65535), or \"\" for no endpoint; got \"\(bad)\""
            ], "\(bad)")
        }
        #expect(issues(minimalHead + "\n[metrics]\nlisten = 9464") == ["station.toml:6: metrics.listen: expected a string, got an integer"])
        #expect(issues(minimalHead + "\n[metrics]\nlisen = \"127.0.0.1:1\"") == ["station.toml:6: metrics.lisen: unknown key; did you mean `listen`?"])
    }

    @Test func theRenderedConfigurationReadsBackTheSame() throws {
        for section in ["", "\n[metrics]\nlisten = \"\"", "\n[metrics]\nlisten = \"[::1]:9100\""] {
            let parsed = try #require(configuration(minimalHead + section))
            let again = try #require(configuration(parsed.description))
            #expect(again.metrics == parsed.metrics)
        }
    }
}
