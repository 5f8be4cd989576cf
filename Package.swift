// swift-tools-version:6.1
// StationAgent: the field agent for community service-station kiosks, and its simulator.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "StationAgent",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "station-agent", targets: ["StationAgentCLI"]),
        .executable(name: "station-sim", targets: ["StationSim"]),
        .executable(name: "station-bench", targets: ["StationBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/pointfreeco/swift-clocks", from: "1.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(
            name: "CLibSerialPort",
            path: "Sources/CLibSerialPort",
            pkgConfig: "libserialport",
            providers: [.apt(["libserialport-dev"])]
        ),
        .target(name: "CSerialShim", path: "Sources/CSerialShim"),

        // MARK: The agent's rooms
        .target(
            name: "EventModel",
            swiftSettings: swiftSettings
        ),
        // Finding the package's other programs (station-sim and station-bench start station-agent).
        .target(
            name: "ToolSupport", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),
        .target(
            name: "DeviceProtocols",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SerialTransport",
            dependencies: [
                "CLibSerialPort", "CSerialShim",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EventStore",
            dependencies: [
                "EventModel",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PlatformAPI",
            dependencies: ["EventModel", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Uplink",
            dependencies: [
                "EventModel", "PlatformAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "SystemdNotify", swiftSettings: swiftSettings),
        // The one check of every secret file (keys, tokens): private to its owner, or refused.
        .target(name: "SecretFile", swiftSettings: swiftSettings),
        .target(
            name: "OSDP",
            dependencies: [
                "SecretFile",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // A seeded generator shared by the DC-09 pads, the simulator and the tests.
        .target(name: "SeededRandom", swiftSettings: swiftSettings),
        .target(
            name: "SIADC09",
            dependencies: [
                "EventModel", "SeededRandom",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StationConfig",
            dependencies: ["DeviceProtocols", "EventModel", "SecretFile"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Agent",
            dependencies: [
                "EventModel", "DeviceProtocols", "SerialTransport", "EventStore", "PlatformAPI", "Uplink",
                "StationConfig", "SIADC09", "OSDP", "CSerialShim",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "StationAgentCLI",
            dependencies: [
                "Agent", "StationConfig", "EventStore", "SerialTransport", "DeviceProtocols", "EventModel", "SIADC09",
                "SystemdNotify", "PlatformAPI", "Uplink", "ToolSupport", "OSDP", "SecretFile",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: The simulator
        .target(
            name: "VirtualDevices",
            dependencies: [
                "DeviceProtocols", "SerialTransport", "CSerialShim", "OSDP",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Simulator/VirtualDevices",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PlatformEmulator",
            dependencies: [
                "PlatformAPI", "EventModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Simulator/PlatformEmulator",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DC09Receiver",
            dependencies: [
                "SIADC09",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Simulator/DC09Receiver",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "StationSim",
            dependencies: [
                "VirtualDevices", "PlatformEmulator", "PlatformAPI", "DeviceProtocols", "EventModel", "DC09Receiver", "SIADC09",
                "EventStore", "CSerialShim", "ToolSupport", "OSDP", "SeededRandom", "SecretFile",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Simulator/StationSim",
            swiftSettings: swiftSettings
        ),

        // MARK: Benchmarks
        .executableTarget(
            name: "StationBench",
            dependencies: [
                "EventStore", "EventModel", "VirtualDevices", "DeviceProtocols", "OSDP", "SIADC09", "ToolSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/StationBench",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        // What the test targets share (one `eventually`, for now); see docs/architecture.md.
        .target(
            name: "TestSupport",
            dependencies: [
                "SeededRandom",
                .product(name: "Subprocess", package: "swift-subprocess"), .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SIADC09Tests",
            dependencies: [
                "SIADC09", "DC09Receiver", "EventModel", "SeededRandom", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "SystemdNotifyTests", dependencies: ["SystemdNotify"], swiftSettings: swiftSettings),
        .testTarget(name: "ToolSupportTests", dependencies: ["ToolSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "SecretFileTests", dependencies: ["SecretFile", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "OSDPTests", dependencies: ["OSDP", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DeviceProtocolsTests", dependencies: ["DeviceProtocols", "SeededRandom", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "StationConfigTests", dependencies: ["StationConfig", "DeviceProtocols", "EventModel"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SerialTransportTests",
            dependencies: ["SerialTransport", "CSerialShim", "VirtualDevices", "DeviceProtocols", "OSDP", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EventStoreTests",
            dependencies: ["EventStore", "EventModel", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
        .testTarget(
            name: "UplinkTests",
            dependencies: [
                "Uplink", "PlatformAPI", "EventModel", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PlatformEmulatorTests",
            dependencies: [
                "PlatformEmulator", "PlatformAPI", "EventModel", "Uplink", "SeededRandom", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "EventStore", "EventModel", "DeviceProtocols", "SerialTransport", "StationConfig", "PlatformAPI",
                "Uplink", "TestSupport",
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "Agent", "PlatformAPI", "VirtualDevices", "DeviceProtocols", "EventStore", "EventModel", "SerialTransport", "OSDP",
                "SIADC09", "DC09Receiver", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
