// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "tern",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tern", targets: ["tern"])
    ],
    // `Postgres` adds the PostgreSQL backend (`tern serve --store postgres://…`) and links
    // postgres-nio (with Foundation and TLS) into `tern`; the default build leaves all of it out.
    traits: [
        .trait(name: "Postgres", description: "The PostgreSQL backend for several nodes on one database.")
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        // zlib's CRC-32, for the event log's record checksums.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSecp256k1", pkgConfig: "libsecp256k1", providers: [.apt(["libsecp256k1-dev"])]),
        // SHA-256 (event ids, NIP-98 payload hashes) from OpenSSL's libcrypto: swift-crypto's
        // `Crypto` imports Foundation, which with ICU made up most of the static binary.
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "NostrCore",
            dependencies: [
                "CSecp256k1", "CLibCrypto",
            ]
        ),
        // Signing keys, a seeded generator and a file reader, for tests, benchmarks and tools; not
        // part of the relay's protocol core.
        .target(name: "NostrTools", dependencies: ["NostrCore", "CSecp256k1"]),
        .target(
            name: "EventStorage",
            dependencies: [
                "NostrCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "NostrStore",
            dependencies: [
                "NostrCore", "EventStorage", "CLMDB", "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The PostgreSQL backend: its sources are empty unless the `Postgres` trait is enabled.
        .target(
            name: "PostgresStore",
            dependencies: [
                "NostrCore", "EventStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Postgres"])),
            ]
        ),
        // A PostgreSQL server of the tests' own, started from Debian's binaries in a temporary folder.
        .target(name: "LocalPostgres"),
        .target(
            name: "RelayCore",
            dependencies: [
                "NostrCore", "EventStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "RelayServer",
            dependencies: [
                "RelayCore", "NostrCore", "EventStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        .target(
            name: "RelayClient",
            dependencies: [
                "NostrCore", "EventStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        .target(
            name: "TernBench",
            dependencies: [
                "NostrCore", "NostrTools", "RelayClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "tern",
            dependencies: [
                "RelayServer", "RelayCore", "NostrCore", "NostrTools", "EventStorage", "NostrStore", "TernBench",
                "RelayClient",
                .target(name: "PostgresStore", condition: .when(traits: ["Postgres"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "TernBenchmarks",
            dependencies: [
                "NostrCore", "NostrTools", "EventStorage", "NostrStore", "RelayCore",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/TernBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Reference implementations that tests and the fuzzer compare the relay against.
        .target(name: "NostrReference", dependencies: ["NostrCore", "NostrTools"]),
        .executableTarget(
            name: "FuzzRelayInput",
            dependencies: [
                "NostrCore", "NostrTools", "RelayCore", "RelayServer", "NostrReference", "RelayClient", "NostrStore",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Fuzz/FuzzRelayInput"
        ),
        .testTarget(name: "NostrCoreTests", dependencies: ["NostrCore", "NostrTools"]),
        .testTarget(name: "TernTests", dependencies: ["tern", "RelayCore"]),
        // Conformance/: every backend through the EventStorage protocol; LMDB/: that backend's own.
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "EventStorage", "NostrStore", "NostrCore", "NostrTools", "NostrReference", "LocalPostgres",
                .target(name: "PostgresStore", condition: .when(traits: ["Postgres"])),
            ]),
        .testTarget(
            name: "RelayCoreTests",
            dependencies: [
                "RelayCore", "NostrCore", "NostrTools", "EventStorage", "NostrStore", "NostrReference",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        .testTarget(
            name: "RelayServerTests",
            dependencies: [
                "RelayServer", "RelayCore", "NostrCore", "NostrTools", "EventStorage", "NostrStore", "TernBench",
                "RelayClient", "LocalPostgres",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            exclude: ["Fixtures"]
        ),
    ]
)
