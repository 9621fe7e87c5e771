import ArgumentParser
import Dispatch
import EventStorage
import Logging
import NostrStore
import RelayCore
import RelayServer

#if canImport(Glibc)
    import Glibc
#endif

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the relay.",
        discussion: """
            Settings come from built-in defaults, then the TOML file given with --config, then
            TERN_<SECTION>_<KEY> environment variables, then these flags. Settings:
            \(Configuration.settings.map { "  \($0.name) (\($0.environmentName)): \($0.help)" }.joined(separator: "\n"))
            """
    )

    @Option(name: .long, help: "Address to listen on, HOST:PORT (default 127.0.0.1:7447).")
    var listen: String?

    @Option(name: .long, help: "Data directory for the LMDB store (default ./tern-data).")
    var data: String?

    @Option(name: .long, help: "TOML configuration file.")
    var config: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String?

    func run() throws {
        raiseFileLimit()
        var configuration = Configuration()
        do {
            if let config { try configuration.apply(tomlFile: config) }
            try configuration.apply(environment: Self.environment())
            if let listen { try configuration.set("server.listen", listen) }
            if let data { try configuration.set("server.data", data) }
            if let logLevel { try configuration.set("server.log_level", logLevel) }
        } catch {
            throw ValidationError(error.description)
        }
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { LogfmtHandler(label: $0, level: level) }
        let logger = Logger(label: "tern")

        let clock: UnixClock = { Int64(time(nil)) }
        let store: EventStore
        do {
            store = try EventStore(
                path: configuration.dataDirectory, options: configuration.storeOptions, logger: logger)
        } catch {
            logger.critical(
                "cannot open store", metadata: ["path": "\(configuration.dataDirectory)", "error": "\(error)"])
            throw ExitCode(1)
        }
        let relay = Relay(
            info: configuration.info, limits: configuration.limits, policy: configuration.policy, storage: store,
            clock: clock, logger: logger)
        relay.start()
        let server = RelayServer(relay: relay)
        do {
            try server.start(host: configuration.host, port: configuration.port)
        } catch {
            logger.critical(
                "cannot listen",
                metadata: ["address": "\(configuration.host):\(configuration.port)", "error": "\(error)"])
            relay.shutdown()
            store.close()
            throw ExitCode(1)
        }
        logger.info("started", metadata: ["data": "\(configuration.dataDirectory)", "events": "\(store.count)"])

        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        stop.wait()
        server.shutdown()
        _ = sources
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
