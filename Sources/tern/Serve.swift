import ArgumentParser
import CoreMetrics
import Dispatch
import EventStorage
import Logging
import NIOPosix
import NostrStore
import Prometheus
import RelayClient
import RelayCore
import RelayServer

#if canImport(Glibc)
    import Glibc
#endif

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the relay.",
        discussion: "Settings come from built-in defaults, then the TOML file given with --config, then "
            + "TERN_<SECTION>_<KEY> environment variables, then these flags. [kind.N] tables set one kind's "
            + "max_content_length and max_tags (TERN_KIND_<N>_<KEY>). SIGHUP reloads the policy. Settings:\n"
            + Configuration.settings.map { "  \($0.name) (\($0.environmentName)): \($0.help)" }.joined(separator: "\n")
    )

    @Option(name: .long, help: "Address to listen on, HOST:PORT (default 127.0.0.1:7447).")
    var listen: String?

    @Option(name: .long, help: "Data directory for the LMDB store (default ./tern-data).")
    var data: String?

    @Option(name: .long, help: "TOML configuration file.")
    var config: String?

    @Option(
        name: .long,
        help: "postgres://USER@HOST:PORT/DB: keep the events in PostgreSQL, shared with other nodes (store.url).")
    var store: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String?

    /// The settings from the file, the environment and the flags, in that order.
    func loadConfiguration() throws(ConfigurationError) -> Configuration {
        var configuration = Configuration()
        if let config { try configuration.apply(tomlFile: config) }
        try configuration.apply(environment: Self.environment())
        if let listen { try configuration.set("server.listen", listen) }
        if let data { try configuration.set("server.data", data) }
        if let store { try configuration.set("store.url", store) }
        if let logLevel { try configuration.set("server.log_level", logLevel) }
        return configuration
    }

    func run() throws {
        raiseFileLimit()
        var configuration: Configuration
        do {
            configuration = try loadConfiguration()
        } catch {
            throw ValidationError(error.description)
        }
        configuration.fitReadersToStore()
        let logSettings: LogSettings
        do {
            logSettings = try LogSettings(
                level: Logger.Level(rawValue: configuration.logLevel) ?? .info, modules: configuration.logLevels,
                path: configuration.logFile)
        } catch {
            throw ValidationError("\(error)")
        }
        LoggingSystem.bootstrap { LogfmtHandler(label: $0, settings: logSettings) }
        let logger = Logger(label: "tern")
        var storeLogger = logger
        storeLogger[metadataKey: "module"] = "store"

        let clock: UnixClock = { Int64(time(nil)) }
        let store: any EventStorage
        do {
            store = try Self.openStore(configuration, logger: storeLogger)
        } catch {
            logger.critical(
                "cannot open store", metadata: ["store": "\(configuration.storeName)", "error": "\(error)"])
            throw ExitCode(1)
        }
        let (metrics, metricsText) = Self.prometheus(enabled: configuration.metricsEnabled)
        let relay = Relay(
            info: configuration.info, limits: configuration.limits, policy: configuration.policy, storage: store,
            writeGatherSeconds: Double(configuration.writeGatherMS) / 1000, clock: clock, logger: logger,
            metrics: metrics)
        relay.start()
        let server = RelayServer(
            relay: relay, metricsText: metricsText, metricsOnRelayPort: configuration.metricsListen == nil,
            compression: configuration.compression)
        let port: Int
        do {
            port = try server.start(host: configuration.host, port: configuration.port)
            if configuration.metricsEnabled, let listen = configuration.metricsListen {
                try server.startMetrics(host: listen.host, port: listen.port)
            }
        } catch {
            logger.critical(
                "cannot listen",
                metadata: ["address": "\(configuration.host):\(configuration.port)", "error": "\(error)"])
            relay.shutdown()
            store.close()
            throw ExitCode(1)
        }
        logger.info("started", metadata: ["store": "\(configuration.storeName)", "events": "\(store.count)"])
        let streaming = Self.startStreams(configuration, port: port, logger: logger)

        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        signal(SIGHUP, SIG_IGN)
        let hangUp = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangUp.setEventHandler { reload(relay, running: configuration, logs: logSettings, logger: logger) }
        hangUp.resume()
        sources.append(hangUp)
        stop.wait()
        streaming?.task.cancel()
        server.shutdown()
        try? streaming?.group.syncShutdownGracefully()
        _ = sources
    }

    /// `[stream] peers`: a live copy with each peer (down, up or both), through this relay's own
    /// WebSocket port as `tern stream` would, so that its events pass the relay's rules.
    static func startStreams(_ configuration: Configuration, port: Int, logger: Logger)
        -> (task: Task<Void, Never>, group: MultiThreadedEventLoopGroup)?
    {
        guard !configuration.streamPeers.isEmpty else { return nil }
        let host = ["0.0.0.0", "::", ""].contains(configuration.host) ? "127.0.0.1" : configuration.host
        guard let here = RelayAddress("ws://\(host.contains(":") ? "[\(host)]" : host):\(port)") else { return nil }
        var pumps: [RelayStream.Pump] = []
        for peer in configuration.streamPeers {
            if configuration.streamDirection != .up {
                pumps.append(.init(name: "down \(peer)", source: peer, sink: here))
            }
            if configuration.streamDirection != .down {
                pumps.append(.init(name: "up \(peer)", source: here, sink: peer))
            }
        }
        var streamLogger = logger
        streamLogger[metadataKey: "module"] = "stream"
        let log = streamLogger
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let stream = RelayStream(pumps: pumps, filter: configuration.streamFilter, group: group) { log.info("\($0)") }
        return (Task { await stream.run() }, group)
    }

    /// The relay's metrics on a Prometheus registry (also the process's swift-metrics backend),
    /// and the text `/metrics` serves; none when disabled.
    static func prometheus(enabled: Bool) -> (RelayMetrics, (@Sendable () -> [UInt8])?) {
        guard enabled else { return (RelayMetrics(), nil) }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
        ]
        factory.valueHistogramBuckets = ["tern_writer_batch_events": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]]
        MetricsSystem.bootstrap(factory)
        return (RelayMetrics(factory: factory), { registry.emitToBuffer() })
    }

    /// SIGHUP: reads the settings again and puts the new policy and log settings in force
    /// (the log file is opened again, for logrotate), without dropping a connection. A file that
    /// does not read or does not check keeps the old settings, and the log says why. Settings
    /// that need a restart (addresses, store, limits, metrics) are not changed; the log names
    /// them when they differ.
    func reload(_ relay: Relay, running: Configuration, logs: LogSettings, logger: Logger) {
        let configuration: Configuration
        do {
            configuration = try loadConfiguration()
        } catch {
            logger.error("reload failed; the policy in force is kept", metadata: ["error": "\(error)"])
            return
        }
        do {
            try logs.reload(
                level: Logger.Level(rawValue: configuration.logLevel) ?? .info, modules: configuration.logLevels,
                path: configuration.logFile)
        } catch {
            logger.error("log file not reopened; logging on where it was", metadata: ["error": "\(error)"])
        }
        relay.reload(configuration.policy)
        let needRestart = running.differences(from: configuration)
        logger.info(
            "policy reloaded",
            metadata: [
                "mode": "\(configuration.policy.mode.rawValue)",
                "restart_needed_for": "\(needRestart.isEmpty ? "nothing" : needRestart.joined(separator: ","))",
            ])
    }

    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return result
    }
}
