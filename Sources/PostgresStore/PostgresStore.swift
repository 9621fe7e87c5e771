#if Postgres
    import Dispatch
    import EventStorage
    import Logging
    import NIOConcurrencyHelpers
    import NIOCore
    import NIOPosix
    import NostrCore
    import PostgresNIO

    /// The events on a PostgreSQL server that several relay processes (nodes) share. The NIP
    /// rules are `WriteRules`', applied per batch in one transaction that holds a lock per author
    /// (`PostgresWriteTransaction`), so concurrent nodes cannot both keep a version of one
    /// address; a unique index on addresses backs the rule up. Reads run on pooled connections.
    /// Nothing durable is kept in the process: a node can be stopped or killed at any time.
    public final class PostgresStore: EventStorage, @unchecked Sendable {
        public let url: StoreURL
        /// This process's number in the feed (its own commits are delivered locally, not twice).
        public let node: Int64
        let maxScanPerFilter: Int
        let logger: Logger
        let group: MultiThreadedEventLoopGroup
        /// The writer thread's connection (commits, sweeps, removals, settings).
        let writerConnection: PGConnection
        let readers: PGPool
        /// The advisory lock that numbers the feed (one per schema).
        let feedLock: Int64
        /// The NOTIFY channel of this schema's feed.
        let channel: String
        let cached = NIOLockedValueBox(Cached())
        private let feedBox = NIOLockedValueBox<ClusterFeed?>(nil)

        struct Cached {
            var count = 0
            var bytes = 0
            /// When a call to the database last succeeded (monotonic seconds), for `/health`.
            var lastSuccess: UInt64 = 0
            var lastFailure: UInt64 = 0
        }

        /// Connects, creates or migrates the schema, and reads the event count. Throws when the
        /// server cannot be reached or its schema is newer than this build's.
        public init(url: StoreURL, maxScanPerFilter: Int = 200_000, logger: Logger) throws {
            self.url = url
            self.maxScanPerFilter = maxScanPerFilter
            self.logger = logger
            node = Int64.random(in: 1...Int64.max)
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            self.group = group
            writerConnection = PGConnection(url: url, group: group, logger: logger, name: "writer")
            readers = PGPool(size: url.readConnections) {
                PGConnection(url: url, group: group, logger: logger, name: "reader")
            }
            feedLock = Self.lockNumber("feed \(url.schema)")
            channel = "tern_feed_\(url.schema)"
            do {
                try Self.migrate(writerConnection, schema: url.schema)
                let rows = try writerConnection.query("SELECT value FROM counters WHERE name = 'events'")
                let count = try rows.first?.decode(Int64.self) ?? 0
                cached.withLockedValue {
                    $0.count = Int(count)
                    $0.lastSuccess = Self.monotonicSeconds()
                }
            } catch {
                writerConnection.close()
                try? group.syncShutdownGracefully()
                throw error
            }
        }

        /// A lock number from a name (the first 8 bytes of its SHA-256).
        static func lockNumber(_ name: String) -> Int64 {
            Int64(bitPattern: EventID.sha256(Array(name.utf8)).w0)
        }

        /// Creates the schema, or brings it to `Schema.version`; refuses a newer one. Nodes that
        /// start together take turns (an advisory lock).
        static func migrate(_ connection: PGConnection, schema: String) throws {
            try connection.transaction {
                try connection.query("SELECT pg_advisory_xact_lock(\(Schema.migrationLock))")
                try connection.query("CREATE SCHEMA IF NOT EXISTS \(schema)")
                try connection.query("CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)")
                let rows = try connection.query("SELECT value FROM meta WHERE key = 'schema_version'")
                let current = try rows.first.map { Int(try $0.decode(String.self)) ?? -1 } ?? 0
                guard current <= Schema.version, current >= 0 else {
                    throw PGFailure(
                        message:
                            "the database's tern schema is version \(current); this tern knows versions up to "
                            + "\(Schema.version): run a newer tern")
                }
                for step in current..<Schema.version {
                    for statement in Schema.statements(Schema.migrations[step]) { try connection.query(statement) }
                }
                if current < Schema.version {
                    var binds = PostgresBindings()
                    binds.append("\(Schema.version)")
                    try connection.query(
                        "INSERT INTO meta VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = $1",
                        binds)
                }
            }
        }

        static func monotonicSeconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000_000 }

        /// Records how a call to the database went (`checkHealth`).
        func noted<R>(_ body: () throws -> R) throws -> R {
            do {
                let result = try body()
                cached.withLockedValue { $0.lastSuccess = Self.monotonicSeconds() }
                return result
            } catch {
                cached.withLockedValue { $0.lastFailure = Self.monotonicSeconds() }
                throw error
            }
        }

        // MARK: EventStorage

        public var count: Int { cached.withLockedValue { $0.count } }

        public var storedBytes: Int { cached.withLockedValue { $0.bytes } }

        /// Healthy unless the last call to the database failed (and none succeeded since).
        public func checkHealth() -> Bool {
            cached.withLockedValue { $0.lastSuccess >= $0.lastFailure }
        }

        public func event(id: Bytes32) throws -> StoredEvent? {
            var binds = PostgresBindings()
            binds.append(id.buffer)
            let rows = try noted {
                try readers.with { try $0.query("SELECT created_at, json FROM events WHERE id = $1", binds) }
            }
            guard let row = rows.first else { return nil }
            let (createdAt, json) = try row.decode((Int64, ByteBuffer).self)
            return StoredEvent(id: id, createdAt: createdAt, json: json.bytes)
        }

        public func setting(_ key: String) throws -> [UInt8]? {
            var binds = PostgresBindings()
            binds.append(key)
            let rows = try noted {
                try readers.with { try $0.query("SELECT value FROM settings WHERE key = $1", binds) }
            }
            return try rows.first.map { try $0.decode(ByteBuffer.self).bytes }
        }

        public func setSetting(_ key: String, _ value: [UInt8]) throws {
            var binds = PostgresBindings()
            binds.append(key)
            binds.append(ByteBuffer(bytes: value))
            try noted {
                try writerConnection.query(
                    "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2", binds)
            }
        }

        /// The feed of the other nodes' events; started by the relay (`SharedFeed.start`).
        public var sharedFeed: (any SharedFeed)? {
            feedBox.withLockedValue { feed in
                if let feed { return feed }
                let made = ClusterFeed(store: self)
                feed = made
                return made
            }
        }

        public func close() {
            feedBox.withLockedValue { $0?.stop() }
            writerConnection.close()
            readers.close()
            try? group.syncShutdownGracefully()
        }
    }

    extension Bytes32 {
        var buffer: ByteBuffer { withBytes { ByteBuffer(bytes: $0) } }

        init?(_ buffer: ByteBuffer) {
            guard buffer.readableBytes == 32 else { return nil }
            self = buffer.withUnsafeReadableBytes { Bytes32(bytes: $0) }
        }
    }

    extension ByteBuffer {
        var bytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
    }
#endif
