import Logging
import NostrCore
import NostrStore
import RelayClient
import RelayCore
import RelayServer

/// Everything `tern serve` can be told. Sources, lowest to highest precedence: built-in
/// defaults, the TOML file, `TERN_*` environment variables, command-line flags.
struct Configuration {
    var host = "127.0.0.1"
    var port = 7447
    var dataDirectory = "./tern-data"
    var logLevel = "info"
    /// Levels of single modules (`store=debug,plugin=warning`) and the log file ("" = stderr).
    var logLevels: [String: Logger.Level] = [:]
    var logFile = ""
    var mapSizeMB = 8192
    /// LMDB's writes go through the event log, into LMDB at checkpoints (`store.log`).
    var logWrites = true
    var checkpointSeconds = Int(LogOptions().checkpointSeconds)
    var checkpointMB = LogOptions().checkpointBytes >> 20
    var checkpointChunkEvents = LogOptions().checkpointChunkEvents
    /// How long the writer lets writes gather into one commit when several are waiting (0: off).
    var writeGatherMS = 2
    /// `postgres://…`: the shared PostgreSQL store instead of LMDB in `dataDirectory`.
    var storeURL = ""
    var maxScanPerFilter = StoreOptions().maxScanPerFilter
    var info = RelayInfo()
    var limits = Limits()
    var policy = Policy()
    /// Prometheus metrics at `/metrics`: on the relay's port, or only on `metricsListen`.
    var metricsEnabled = true
    var metricsListen: (host: String, port: Int)?
    /// WebSocket permessage-deflate.
    var compression = CompressionSettings()
    /// `[stream]`: relays `serve` keeps a live copy with (`tern stream` in the relay's process).
    var streamPeers: [RelayAddress] = []
    var streamDirection: NegentropySync.Direction = .both
    var streamFilter = Filter()

    /// One setting: its TOML section and key (the env var is TERN_SECTION_KEY) and how to set it.
    struct Setting: Sendable {
        let section: String
        let key: String
        let help: String
        let apply: @Sendable (inout Configuration, String) throws(ConfigurationError) -> Void

        var name: String { "\(section).\(key)" }
        var environmentName: String { "TERN_\(section.uppercased())_\(key.uppercased())" }
    }

    static let settings: [Setting] =
        [
            Setting(section: "server", key: "listen", help: "HOST:PORT to listen on") {
                c, v throws(ConfigurationError) in
                (c.host, c.port) = try parseListen(v, name: "server.listen")
            },
            Setting(section: "server", key: "data", help: "data directory") { c, v throws(ConfigurationError) in
                guard !v.isEmpty else { throw .invalid("server.data", v, "a directory path") }
                c.dataDirectory = v
            },
            Setting(section: "server", key: "log_level", help: "trace, debug, info, notice, warning, error") {
                c, v throws(ConfigurationError) in
                guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(v) else {
                    throw .invalid("server.log_level", v, "one of trace, debug, info, notice, warning, error")
                }
                c.logLevel = v
            },
            Setting(
                section: "server", key: "log_levels",
                help: "levels of single modules, e.g. store=debug,plugin=warning (modules: relay, server, writer, "
                    + "store, plugin, nip86)"
            ) { c, v throws(ConfigurationError) in
                guard let levels = LogSettings.parseModules(v) else {
                    throw .invalid("server.log_levels", v, "module=level pairs separated by commas")
                }
                c.logLevels = levels
            },
            Setting(section: "server", key: "log_file", help: "append the log here instead of standard error") {
                c, v throws(ConfigurationError) in c.logFile = v
            },
            list(
                "server", "trusted_proxies", "proxies' IP addresses whose X-Forwarded-For names the client",
                expected: "an IP address", parse: { $0.contains(".") || $0.contains(":") ? $0 : nil }
            ) { $0.limits.trustedProxies = $1 },
            Setting(
                section: "store", key: "url",
                help: "postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME&pool=N]: keep the events in PostgreSQL "
                    + "(several nodes may share it) instead of LMDB in server.data; needs a build with --traits Postgres"
            ) { c, v throws(ConfigurationError) in
                guard v.isEmpty || v.hasPrefix("postgres://") || v.hasPrefix("postgresql://") else {
                    throw .invalid("store.url", v, "a URL starting with postgres://")
                }
                c.storeURL = v
            },
            Setting(section: "store", key: "map_size_mb", help: "LMDB map size in MiB (the largest the store may grow)")
            {
                c, v throws(ConfigurationError) in c.mapSizeMB = try int(v, "store.map_size_mb", 1...(1 << 24))
            },
            flag("store", "log") { $0.logWrites = $1 },
            number("store", "checkpoint_seconds", 1...3600) { $0.checkpointSeconds = $1 },
            number("store", "checkpoint_mb", 1...1024) { $0.checkpointMB = $1 },
            number("store", "checkpoint_chunk_events", 16...1_000_000) { $0.checkpointChunkEvents = $1 },
            number("store", "write_gather_ms", 0...100) { $0.writeGatherMS = $1 },
            text("relay", "name", "relay name (NIP-11)") { $0.info.name = $1 },
            text("relay", "description", "relay description (NIP-11)") { $0.info.description = $1 },
            text("relay", "pubkey", "operator's hex pubkey (NIP-11)") { $0.info.pubkey = $1 },
            text("relay", "contact", "operator contact URI (NIP-11)") { $0.info.contact = $1 },
            text("relay", "icon", "icon URL (NIP-11)") { $0.info.icon = $1 },
            text("relay", "url", "public wss:// URL, checked against NIP-42 relay tags") { $0.info.url = $1 },
            text("relay", "software", "URL of the relay software (NIP-11 software); left out when unset") {
                $0.info.software = $1.isEmpty ? nil : $1
            },
            number("limits", "max_message_length", 1024...(16 << 20)) { $0.limits.maxMessageLength = $1 },
            number("limits", "max_event_size", 256...(16 << 20)) { $0.limits.maxEventSize = $1 },
            number("limits", "max_content_length", 0...(16 << 20)) { $0.limits.maxContentLength = $1 },
            number("limits", "max_subscriptions", 1...10_000) { $0.limits.maxSubscriptions = $1 },
            number("limits", "max_filters", 1...1000) { $0.limits.maxFilters = $1 },
            number("limits", "max_filter_values", 1...100_000) { $0.limits.maxFilterValues = $1 },
            number("limits", "max_limit", 1...100_000) { $0.limits.maxLimit = $1 },
            number("limits", "default_limit", 1...100_000) { $0.limits.defaultLimit = $1 },
            number("limits", "max_subid_length", 1...1024) { $0.limits.maxSubscriptionIDLength = $1 },
            number("limits", "max_event_tags", 0...100_000) { $0.limits.maxEventTags = $1 },
            number("limits", "created_at_upper_limit", 0...(1 << 40)) { $0.limits.createdAtUpperLimit = Int64($1) },
            number("limits", "created_at_lower_limit", 0...(1 << 40)) { $0.limits.createdAtLowerLimit = Int64($1) },
            number("limits", "ping_interval", 1...86_400) { $0.limits.pingInterval = Int64($1) },
            number("limits", "idle_timeout", 1...(86_400 * 7)) { $0.limits.idleTimeout = Int64($1) },
            number("limits", "outbound_budget", 4096...(1 << 30)) { $0.limits.outboundBudget = $1 },
            number("limits", "outbound_budget_total", 65536...(1 << 34)) { $0.limits.outboundBudgetTotal = $1 },
            number("limits", "max_events_in_flight", 1...100_000) { $0.limits.maxEventsInFlight = $1 },
            number("limits", "max_connections", 1...1_000_000) { $0.limits.maxConnections = $1 },
            number("limits", "max_connections_per_ip", 1...1_000_000) { $0.limits.maxConnectionsPerIP = $1 },
            number("limits", "max_negentropy_sessions", 1...1000) { $0.limits.maxNegentropySessions = $1 },
            number("limits", "max_sync_events", 1...100_000_000) { $0.limits.maxSyncEvents = $1 },
            number("limits", "negentropy_frame_size", 4096...(64 << 20)) { $0.limits.negentropyFrameSize = $1 },
            number("limits", "negentropy_idle_timeout", 1...86_400) { $0.limits.negentropyIdleTimeout = Int64($1) },
            number("readers", "threads", 1...256) { $0.limits.readerThreads = $1 },
            number("readers", "queue_depth", 1...1_000_000) { $0.limits.readerQueueDepth = $1 },
            number("readers", "max_scan_per_filter", 1...100_000_000) { $0.maxScanPerFilter = $1 },
            flag("policy", "accept_protected_events") { $0.policy.acceptProtectedEvents = $1 },
            flag("policy", "auth_required_for_writes") { $0.policy.authRequiredForWrites = $1 },
            flag("policy", "auth_required_for_reads") { $0.policy.authRequiredForReads = $1 },
            Setting(section: "policy", key: "mode", help: "who may publish: open, allowlist or follows") {
                c, v throws(ConfigurationError) in
                guard let mode = Policy.AccessMode(rawValue: v) else {
                    throw .invalid("policy.mode", v, "open, allowlist or follows")
                }
                c.policy.mode = mode
            },
            pubkeys("policy", "admins", "admins' pubkeys: NIP-86 management, and whose contact lists make `follows`") {
                $0.policy.admins = $1
            },
            pubkeys("policy", "allow_pubkeys", "who may publish in allowlist mode") { $0.policy.allowPubkeys = $1 },
            pubkeys("policy", "deny_pubkeys", "pubkeys never accepted (blocked:)") { $0.policy.denyPubkeys = $1 },
            kinds("policy", "allow_kinds", "when set, only these kinds are accepted") { $0.policy.allowKinds = $1 },
            kinds("policy", "deny_kinds", "kinds never accepted (blocked:)") { $0.policy.denyKinds = $1 },
            kinds("policy", "auth_required_kinds", "kinds served only after AUTH") { $0.policy.authRequiredKinds = $1 },
            flag("policy", "protect_direct_messages") { $0.policy.protectDirectMessages = $1 },
            number("policy", "min_pow_difficulty", 0...256) { $0.policy.minPowDifficulty = $1 },
            text("plugin", "command", "write-policy plugin: a path, or a shell command (strfry's protocol)") {
                $0.policy.plugin.command = $1
            },
            number("plugin", "timeout_ms", 10...600_000) { $0.policy.plugin.timeoutMilliseconds = $1 },
            Setting(section: "plugin", key: "on_failure", help: "while the plugin cannot answer: reject or accept") {
                c, v throws(ConfigurationError) in
                switch v {
                case "reject": c.policy.plugin.failOpen = false
                case "accept": c.policy.plugin.failOpen = true
                default: throw .invalid("plugin.on_failure", v, "reject or accept")
                }
            },
            number("plugin", "queue_depth", 1...1_000_000) { $0.policy.plugin.queueDepth = $1 },
            flag("metrics", "enabled") { $0.metricsEnabled = $1 },
            flag("compression", "enabled") { $0.compression.enabled = $1 },
            number("compression", "window_bits", 9...15) { $0.compression.windowBits = $1 },
            number("compression", "memory_level", 1...9) { $0.compression.memoryLevel = $1 },
            number("compression", "level", 1...9) { $0.compression.level = $1 },
            flag("compression", "context_takeover") { $0.compression.contextTakeover = $1 },
            number("compression", "max_connections", 0...1_000_000) { $0.compression.maxConnections = $1 },
            number("compression", "min_size", 0...(16 << 20)) { $0.compression.minimumSize = $1 },
            Setting(
                section: "metrics", key: "listen",
                help: "HOST:PORT serving /metrics alone (e.g. 127.0.0.1:9477); empty: /metrics on the relay's port"
            ) { c, v throws(ConfigurationError) in
                c.metricsListen = v.isEmpty ? nil : try parseListen(v, name: "metrics.listen")
            },
            list(
                "stream", "peers", "relays to keep a live copy with while serving (ws://HOST:PORT URLs)",
                expected: "a ws://HOST:PORT URL", parse: { RelayAddress($0) }
            ) { $0.streamPeers = $1 },
            Setting(section: "stream", key: "direction", help: "down, up or both (from and to the peers)") {
                c, v throws(ConfigurationError) in
                guard let direction = NegentropySync.Direction(rawValue: v) else {
                    throw .invalid("stream.direction", v, "down, up or both")
                }
                c.streamDirection = direction
            },
            Setting(section: "stream", key: "filter", help: "stream only events matching this filter (JSON)") {
                c, v throws(ConfigurationError) in
                guard let filter = try? parseFilter(v) else { throw .invalid("stream.filter", v, "a NIP-01 filter") }
                c.streamFilter = filter
            },
        ] + rate("events", "ip", \.eventsPerIP) + rate("events", "pubkey", \.eventsPerPubkey)
        + rate("reqs", "ip", \.reqsPerIP) + rate("reqs", "pubkey", \.reqsPerPubkey)

    /// `[kind.N]` tables: limits of one kind, `max_content_length` and `max_tags`.
    static func kindSetting(_ name: String) -> Setting? {
        let parts = name.split(separator: ".")
        guard parts.count == 3, parts[0] == "kind", let kind = UInt16(parts[1]) else { return nil }
        let section = "kind.\(kind)"
        switch parts[2] {
        case "max_content_length":
            return number(section, "max_content_length", 0...(16 << 20)) {
                $0.policy.kindLimits[kind, default: KindLimit()].maxContentLength = $1
            }
        case "max_tags":
            return number(section, "max_tags", 0...100_000) {
                $0.policy.kindLimits[kind, default: KindLimit()].maxTags = $1
            }
        default: return nil
        }
    }

    /// `TERN_KIND_<N>_<KEY>`: a `[kind.N]` setting from the environment.
    static func kindSetting(environmentName name: String) -> Setting? {
        let parts = name.split(separator: "_", maxSplits: 3)
        guard parts.count == 4, parts[0] == "TERN", parts[1] == "KIND", let kind = UInt16(parts[2]) else { return nil }
        return kindSetting("kind.\(kind).\(parts[3].lowercased())")
    }

    /// A list of pubkeys: 64 hex characters or npub (NIP-19) each.
    static func pubkeys(
        _ section: String, _ key: String, _ help: String,
        _ set: @escaping @Sendable (inout Configuration, [Bytes32]) -> Void
    ) -> Setting {
        list(
            section, key, help + " (hex or npub list)", expected: "a pubkey as 64 hex characters or npub",
            parse: { Bytes32(hex: Array($0.utf8)) ?? NPub.decode($0) }, set)
    }

    static func kinds(
        _ section: String, _ key: String, _ help: String,
        _ set: @escaping @Sendable (inout Configuration, [UInt16]) -> Void
    ) -> Setting {
        list(
            section, key, help + " (list of kind numbers)", expected: "a kind from 0 to 65535", parse: { UInt16($0) },
            set)
    }

    /// A list setting: a TOML array, or items separated by commas or spaces (the environment);
    /// the first item that does not parse is named in the error.
    static func list<Item: Sendable>(
        _ section: String, _ key: String, _ help: String, expected: String,
        parse: @escaping @Sendable (String) -> Item?, _ set: @escaping @Sendable (inout Configuration, [Item]) -> Void
    ) -> Setting {
        Setting(section: section, key: key, help: help) { c, v throws(ConfigurationError) in
            var items: [Item] = []
            for text in listItems(v) {
                guard let item = parse(text) else { throw .invalid("\(section).\(key)", text, expected) }
                items.append(item)
            }
            set(&c, items)
        }
    }

    /// `[rate_limits]` `<what>_per_minute_per_<by>` and `<what>_burst_per_<by>`.
    static func rate(_ what: String, _ by: String, _ path: WritableKeyPath<RateLimits, RateLimits.Rate> & Sendable)
        -> [Setting]
    {
        [
            number("rate_limits", "\(what)_per_minute_per_\(by)", 0...1_000_000_000) {
                $0.policy.rateLimits[keyPath: path].perMinute = $1
            },
            number("rate_limits", "\(what)_burst_per_\(by)", 0...1_000_000_000) {
                $0.policy.rateLimits[keyPath: path].burst = $1
            },
        ]
    }

    static func listItems(_ v: String) -> [String] {
        v.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
    }

    static func text(
        _ section: String, _ key: String, _ help: String,
        _ set: @escaping @Sendable (inout Configuration, String) -> Void
    )
        -> Setting
    {
        Setting(section: section, key: key, help: help) { c, v in set(&c, v) }
    }

    static func number(
        _ section: String, _ key: String, _ range: ClosedRange<Int>,
        _ set: @escaping @Sendable (inout Configuration, Int) -> Void
    ) -> Setting {
        Setting(section: section, key: key, help: "integer in \(range.lowerBound)...\(range.upperBound)") {
            c, v throws(ConfigurationError) in set(&c, try int(v, "\(section).\(key)", range))
        }
    }

    static func flag(_ section: String, _ key: String, _ set: @escaping @Sendable (inout Configuration, Bool) -> Void)
        -> Setting
    {
        Setting(section: section, key: key, help: "true or false") { c, v throws(ConfigurationError) in
            switch v.lowercased() {
            case "true", "1", "yes", "on": set(&c, true)
            case "false", "0", "no", "off": set(&c, false)
            default: throw .invalid("\(section).\(key)", v, "true or false")
            }
        }
    }

    static func int(_ v: String, _ name: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let n = Int(v), range.contains(n) else {
            throw .invalid(name, v, "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    static func parseListen(_ v: String, name: String) throws(ConfigurationError) -> (String, Int) {
        guard let colon = v.lastIndex(of: ":") else { throw .invalid(name, v, "HOST:PORT") }
        var host = String(v[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(v[v.index(after: colon)...]), (0...65535).contains(port) else {
            throw .invalid(name, v, "HOST:PORT with a port from 0 to 65535")
        }
        return (host, port)
    }

    /// `TERN_` variables that other commands read (`tern admin`), not settings of `serve`.
    static let otherCommandsVariables: Set<String> = ["TERN_ADMIN_KEY"]

    mutating func set(_ name: String, _ value: String) throws(ConfigurationError) {
        guard let setting = Self.settings.first(where: { $0.name == name }) ?? Self.kindSetting(name) else {
            throw .unknownKey(name)
        }
        try setting.apply(&self, value)
    }

    /// Applies every `TERN_SECTION_KEY` variable present in `environment`; unknown TERN_ names
    /// are refused so that a typo does not pass silently.
    mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        let known = Dictionary(uniqueKeysWithValues: Self.settings.map { ($0.environmentName, $0) })
        for (name, value) in environment.sorted(by: { $0.key < $1.key })
        where name.hasPrefix("TERN_") && !Self.otherCommandsVariables.contains(name) {
            guard let setting = known[name] ?? Self.kindSetting(environmentName: name) else {
                throw .unknownKey(name)
            }
            try setting.apply(&self, value)
        }
    }

    /// The settings besides the policy that differ in `other`: they take effect on a restart.
    func differences(from other: Configuration) -> [String] {
        var names: [String] = []
        if host != other.host || port != other.port { names.append("server.listen") }
        if dataDirectory != other.dataDirectory { names.append("server.data") }
        if mapSizeMB != other.mapSizeMB || maxScanPerFilter != other.maxScanPerFilter || storeURL != other.storeURL
            || logWrites != other.logWrites || checkpointSeconds != other.checkpointSeconds
            || checkpointMB != other.checkpointMB || checkpointChunkEvents != other.checkpointChunkEvents
            || writeGatherMS != other.writeGatherMS
        {
            names.append("store")
        }
        if info != other.info { names.append("relay") }
        if limits != other.limits { names.append("limits") }
        if compression != other.compression { names.append("compression") }
        if metricsEnabled != other.metricsEnabled || metricsListen?.host != other.metricsListen?.host
            || metricsListen?.port != other.metricsListen?.port
        {
            names.append("metrics")
        }
        return names
    }

    /// The relay's store: through the event log unless `store.log = false`.
    var storeOptions: StoreOptions {
        var options = toolStoreOptions
        if logWrites {
            options.log = LogOptions(
                checkpointSeconds: Double(checkpointSeconds), checkpointBytes: checkpointMB << 20,
                maxTailBytes: 3 * (checkpointMB << 20), checkpointChunkEvents: checkpointChunkEvents)
        }
        return options
    }

    /// The store tools' (`import`, `export`, ...): LMDB directly, beside a relay that may be
    /// serving from the same directory (the relay's log is its own; its tail reaches LMDB at
    /// the next checkpoint).
    var toolStoreOptions: StoreOptions {
        StoreOptions(
            mapSize: mapSizeMB << 20, maxReaders: UInt32(max(512, limits.readerThreads + 256)),
            maxScanPerFilter: maxScanPerFilter)
    }
}

enum ConfigurationError: Error, CustomStringConvertible {
    case invalid(String, String, String)
    case unknownKey(String)
    case file(String, String)

    var description: String {
        switch self {
        case .invalid(let name, let value, let expected):
            "invalid value for \(name): \"\(value)\" (expected \(expected))"
        case .unknownKey(let name): "unknown setting \(name)"
        case .file(let path, let why): "cannot read configuration file \(path): \(why)"
        }
    }
}
