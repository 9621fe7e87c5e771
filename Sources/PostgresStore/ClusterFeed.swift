#if Postgres
    import Dispatch
    import EventStorage
    import Logging
    import NIOConcurrencyHelpers
    import NIOCore
    import NostrCore
    import PostgresNIO

    /// How a node hears the others: every commit that stores events adds their ids to the `feed`
    /// table under one lock (so its numbers follow commit order) and notifies the schema's
    /// channel. A follower thread reads the feed past the last number it delivered when notified,
    /// and at least every `pollSeconds` besides, so a lost notification or a reconnected channel
    /// costs a little delay, never an event. Ephemeral events go through the feed too (their
    /// JSON, not stored elsewhere). Old feed rows are pruned; the events stay in `events`.
    final class ClusterFeed: SharedFeed, @unchecked Sendable {
        private unowned let store: PostgresStore
        private let follower: PGConnection
        private let publisher: PGConnection
        private let wake = DispatchSemaphore(value: 0)
        /// Notifications not yet looked at by the follower, and whether it must read the feed
        /// whatever they say (a reconnected channel may have missed some).
        private let notes = NIOLockedValueBox<(notes: [Note], mustRead: Bool)>(([], true))
        private let outbox = BatchInbox<[UInt8]>(capacity: 1024)
        private let followerThread = LoopThread()
        private let publisherThread = LoopThread()
        private let stopped = NIOLockedValueBox(false)
        private let listener = NIOLockedValueBox<Task<Void, Never>?>(nil)
        private var logger: Logger { store.logger }
        /// The follower polls this often even without notifications.
        static let pollSeconds = 1.0
        /// Feed rows are kept this long (a node that was away longer catches up from `events`
        /// only through queries, not live).
        static let retentionSeconds = 600
        static let batchSize = 1000
        /// Notifications held for the follower at most; past that, it reads the feed instead.
        static let notesHeld = 10_000

        init(store: PostgresStore) {
            self.store = store
            follower = PGConnection(url: store.url, group: store.group, logger: store.logger, name: "feed")
            publisher = PGConnection(url: store.url, group: store.group, logger: store.logger, name: "broadcast")
        }

        func start(deliver: @escaping @Sendable ([FeedItem]) -> Void) {
            listen()
            followerThread.start { [self] in follow(deliver) }
            publisherThread.start { [self] in publish() }
        }

        func broadcast(_ json: [UInt8]) -> Bool { outbox.push(json) }

        func stop() {
            let wasStopped = stopped.withLockedValue { value in
                let was = value
                value = true
                return was
            }
            guard !wasStopped else { return }
            listener.withLockedValue { $0?.cancel() }
            wake.signal()
            outbox.stop()
            followerThread.join(orRunHere: {})
            publisherThread.join(orRunHere: {})
            follower.close()
            publisher.close()
        }

        private var isStopped: Bool { stopped.withLockedValue { $0 } }

        // MARK: following

        /// LISTENs on its own connection and wakes the follower at each notification; reconnects
        /// (and wakes it, to catch up) when the connection is lost.
        private func listen() {
            let url = store.url
            let channel = store.channel
            let logger = store.logger
            let group = store.group
            let task = Task { [wake, notes] in
                var configuration = PostgresConnection.Configuration(
                    host: url.host, port: url.port, username: url.user, password: url.password,
                    database: url.database, tls: .disable)
                configuration.options.connectTimeout = PGConnection.connectTimeout
                configuration.options.additionalStartupParameters = [("application_name", "tern feed listener")]
                while !Task.isCancelled {
                    do {
                        let connection = try await PostgresConnection.connect(
                            on: group.next(), configuration: configuration, id: 0, logger: logger)
                        // Each notification with the server process that sent it: only this
                        // node's own connections' are trusted to need no read.
                        let context = connection.addListener(channel: channel) { _, message in
                            let note = Note(message.payload, sender: message.backendPID)
                            notes.withLockedValue {
                                if let note, $0.notes.count < Self.notesHeld {
                                    $0.notes.append(note)
                                } else {
                                    // Garbled, or more than a stalled follower should hold: a
                                    // read covers them all.
                                    $0.notes.removeAll()
                                    $0.mustRead = true
                                }
                            }
                            wake.signal()
                        }
                        notes.withLockedValue { $0.mustRead = true }
                        wake.signal()  // anything missed while away is read now
                        do {
                            try await withTaskCancellationHandler {
                                try await connection.closeFuture.get()
                            } onCancel: {
                                connection.close().whenComplete { _ in _ = connection }
                            }
                        } catch {
                            logger.debug("feed channel lost", metadata: ["error": "\(error)"])
                        }
                        context.stop()
                        try? await connection.close()
                    } catch {
                        logger.debug("feed channel cannot connect", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(nanoseconds: 500_000_000)
                }
            }
            listener.withLockedValue { $0 = task }
        }

        private func follow(_ deliver: @escaping @Sendable ([FeedItem]) -> Void) {
            var last: Int64? = nil
            var lastHousekeeping: UInt64 = 0
            var failing = false
            while !isStopped {
                do {
                    if last == nil {
                        // Start from now: what was committed before is in `events` for queries.
                        last = try follower.query("SELECT coalesce(max(seq), 0) FROM feed").first?.decode(Int64.self)
                    }
                    if let from = last, let through = ownNotes(after: from) {
                        // Every notification since `from` was this node's own, in order.
                        last = through
                    } else {
                        try catchUp(from: &last, deliver)
                    }
                    let now = PostgresStore.monotonicSeconds()
                    if now >= lastHousekeeping + 5 {
                        lastHousekeeping = now
                        try housekeeping()
                    }
                    if failing {
                        logger.info("database reachable again")
                        failing = false
                    }
                } catch {
                    if !failing { logger.warning("feed cannot read the database", metadata: ["error": "\(error)"]) }
                    failing = true
                    notes.withLockedValue { $0.mustRead = true }
                    store.cached.withLockedValue { $0.lastFailure = PostgresStore.monotonicSeconds() }
                }
                if wake.wait(timeout: .now() + Self.pollSeconds) == .timedOut {
                    notes.withLockedValue { $0.mustRead = true }  // the poll: read whatever was said
                }
            }
        }

        /// Takes the notifications that arrived. Numbers are given in commit order, and
        /// notifications arrive in commit order, so when they were all sent by this node's own
        /// connections and follow `from` without a gap, there is nothing to read: returns the
        /// number they bring the follower to. Nil: the feed must be read past `from` (another
        /// node's commit, a gap, a reconnect, the poll). The sender is the server process the
        /// server names, not what the payload says: any client of the database can notify the
        /// channel, but none can pass for this node's connections.
        private func ownNotes(after from: Int64) -> Int64? {
            let (taken, forced) = notes.withLockedValue { box in
                let taken = (box.notes, box.mustRead)
                box.notes.removeAll(keepingCapacity: true)
                box.mustRead = false
                return taken
            }
            if forced { return nil }
            let own = [store.writerConnection.backendPID, publisher.backendPID]
            var through = from
            for note in taken where note.last > through {
                guard note.first == through + 1, own.contains(note.sender) else { return nil }
                through = note.last
            }
            return through
        }

        /// Reads the feed past `last` until it is caught up, delivering other nodes' events.
        private func catchUp(from last: inout Int64?, _ deliver: @escaping @Sendable ([FeedItem]) -> Void) throws {
            while let from = last, !isStopped {
                let (items, through) = try read(after: from)
                last = through
                if !items.isEmpty { deliver(items) }
                if through == from || items.count < Self.batchSize && through - from < Self.batchSize { break }
            }
        }

        /// The other nodes' events after `seq`, in order, and the last number read.
        private func read(after seq: Int64) throws -> ([FeedItem], Int64) {
            var binds = PostgresBindings()
            binds.append(seq)
            binds.append(Int64(Self.batchSize))
            let rows = try follower.query(
                """
                SELECT f.seq, f.node, f.json IS NOT NULL, coalesce(f.json, e.json) FROM feed f
                LEFT JOIN events e ON e.id = f.id WHERE f.seq > $1 ORDER BY f.seq LIMIT $2
                """, binds)
            var items: [FeedItem] = []
            var last = seq
            for row in rows {
                let (number, node, ephemeral, json) = try row.decode((Int64, Int64, Bool, ByteBuffer?).self)
                last = number
                // This node's own commits reached its subscribers already; a replaced or deleted
                // event is gone.
                guard node != store.node, let json else { continue }
                let bytes = json.bytes
                guard let event = Event.decode(json: bytes) else { continue }
                items.append(FeedItem(event: event, json: bytes, sequence: ephemeral ? .max : UInt64(number)))
            }
            return (items, last)
        }

        /// The event count and size for the status page, and pruning of old feed rows.
        private func housekeeping() throws {
            var binds = PostgresBindings()
            binds.append(store.url.schema)
            let rows = try follower.query(
                """
                SELECT (SELECT value FROM counters WHERE name = 'events'),
                    (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r')
                """, binds)
            if let row = rows.first {
                let (count, bytes) = try row.decode((Int64, Int64).self)
                store.cached.withLockedValue {
                    $0.count = Int(count)
                    $0.bytes = Int(bytes)
                    $0.lastSuccess = PostgresStore.monotonicSeconds()
                }
            }
            try follower.query(
                """
                DELETE FROM feed WHERE at < now() - interval '\(Self.retentionSeconds) seconds'
                AND seq < (SELECT max(seq) FROM feed)
                """)
        }

        // MARK: broadcasting

        /// Sends queued ephemeral events to the feed, a batch per transaction (numbered under the
        /// feed's lock like commits). A batch the database refuses is dropped: ephemeral events
        /// are not kept anywhere, and this node's own subscribers had them already.
        private func publish() {
            var batch: [[UInt8]] = []
            while outbox.take(into: &batch, max: 256, timeoutSeconds: 1) {
                guard !batch.isEmpty else { continue }
                do {
                    try publisher.transaction {
                        try publisher.query("SELECT pg_advisory_xact_lock(\(store.feedLock))")
                        var binds = PostgresBindings()
                        binds.append(store.node)
                        binds.append(batch.map { ByteBuffer(bytes: $0) })
                        binds.append(store.channel)
                        try publisher.query(
                            """
                            WITH ins AS (
                                INSERT INTO feed (seq, node, json)
                                SELECT (SELECT coalesce(max(seq), 0) FROM feed) + o, $1, j
                                FROM unnest($2::bytea[]) WITH ORDINALITY AS u(j, o)
                                RETURNING seq
                            )
                            SELECT pg_notify($3, min(seq)::text || ' ' || max(seq)::text || ' ' || $1::text)::text
                            FROM ins
                            """, binds)
                    }
                } catch {
                    logger.warning(
                        "ephemeral events not sent to the other nodes",
                        metadata: ["error": "\(error)", "events": "\(batch.count)"])
                }
                batch.removeAll(keepingCapacity: true)
            }
        }
    }

    /// What a commit's notification says (`"first last node"`: the feed numbers it took, and
    /// the node that took them), and which server process sent it.
    struct Note: Sendable {
        let first: Int64
        let last: Int64
        let node: Int64
        /// The process id of the server connection that notified (the server's word).
        let sender: Int32

        init?(_ payload: String, sender: Int32) {
            let parts = payload.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, let first = Int64(parts[0]), let last = Int64(parts[1]),
                let node = Int64(parts[2]), first <= last
            else { return nil }
            self.first = first
            self.last = last
            self.node = node
            self.sender = sender
        }
    }
#endif
