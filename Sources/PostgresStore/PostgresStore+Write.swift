#if Postgres
    import EventStorage
    import NIOCore
    import NostrCore
    import PostgresNIO

    /// Writes: one transaction per batch. It first locks every author of the batch (advisory
    /// locks, in key order, so two nodes never wait on each other in a circle), so that what it
    /// then reads of those authors (stored ids, versions at their addresses, deletions, vanish)
    /// stays true until it commits; another node writing the same author waits. The feed's
    /// numbers are taken last, under one lock, so they follow commit order.
    extension PostgresStore {
        public func commit(_ writes: [Write], outcomes: inout [WriteOutcome], sequences: inout [UInt64]) {
            var attempt = 0
            while true {
                attempt += 1
                do {
                    try noted { try commitBatch(writes, outcomes: &outcomes, sequences: &sequences) }
                    return
                } catch let failure as PGFailure where failure.isRetryable && attempt < 5 {
                    logger.debug("batch lost a race; retrying", metadata: ["error": "\(failure)"])
                } catch let failure as PGFailure where failure.sqlState != nil && writes.count > 1 {
                    // The server refused something in the batch: each write alone, so one bad
                    // write cannot fail the others.
                    logger.warning("batch commit failed; retrying one by one", metadata: ["error": "\(failure)"])
                    outcomes.removeAll(keepingCapacity: true)
                    sequences.removeAll(keepingCapacity: true)
                    for write in writes {
                        var one: [WriteOutcome] = []
                        var sequence: [UInt64] = []
                        commit([write], outcomes: &one, sequences: &sequence)
                        outcomes.append(one[0])
                        sequences.append(sequence[0])
                    }
                    return
                } catch {
                    logger.error("commit failed", metadata: ["error": "\(error)", "events": "\(writes.count)"])
                    outcomes.removeAll(keepingCapacity: true)
                    sequences.removeAll(keepingCapacity: true)
                    for _ in writes {
                        outcomes.append(.failed("the database is unavailable"))
                        sequences.append(0)
                    }
                    return
                }
            }
        }

        private func commitBatch(_ writes: [Write], outcomes: inout [WriteOutcome], sequences: inout [UInt64])
            throws
        {
            outcomes.removeAll(keepingCapacity: true)
            sequences.removeAll(keepingCapacity: true)
            let connection = writerConnection
            var batchOutcomes: [WriteOutcome] = []
            let authors = Set(writes.map { Self.lockNumber(of: $0.event.pubkey) }).sorted()
            var lockBinds = PostgresBindings()
            lockBinds.append(authors)
            let opening = [
                ("BEGIN", PostgresBindings()),
                ("SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k", lockBinds),
            ]
            // Two round trips: BEGIN, the locks and the prefetch; then the writes, the feed
            // numbers and COMMIT. The server runs each group's statements in order, and one that
            // fails aborts the transaction, so COMMIT then rolls back and the batch throws.
            var last: Int64 = 0
            var stored: [Int] = []
            do {
                let txn = try PostgresWriteTransaction(connection: connection, writes: writes, opening: opening)
                for write in writes { batchOutcomes.append(try WriteRules.apply(write, in: txn)) }
                var statements = txn.flushStatements()
                for (i, outcome) in batchOutcomes.enumerated() where outcome.isStored {
                    // A version replaced later in the same batch is not stored.
                    if txn.isPending(writes[i].event.id) { stored.append(i) }
                }
                var published: Int?
                if !stored.isEmpty || txn.countChange != 0 {
                    published = statements.count + 1  // after the feed lock
                    statements += publishStatements(stored.map { writes[$0].event.id }, countChange: txn.countChange)
                }
                statements.append(("COMMIT", PostgresBindings()))
                let results = try connection.queries(statements)
                if let published {
                    guard let row = results[published].first else {
                        throw PGFailure(message: "the feed insert returned nothing")
                    }
                    let (seq, count, _) = try row.decode((Int64, Int64, String?).self)
                    last = seq
                    cached.withLockedValue { $0.count = Int(count) }
                }
            } catch {
                if connection.isConnected { _ = try? connection.query("ROLLBACK") }
                throw PGFailure(error)
            }
            outcomes.append(contentsOf: batchOutcomes)
            // The feed numbers the stored writes in order; the others get the batch's last.
            let first = last - Int64(stored.count) + 1
            var next = 0
            for i in writes.indices {
                if next < stored.count && stored[next] == i {
                    sequences.append(UInt64(first + Int64(next)))
                    next += 1
                } else {
                    sequences.append(UInt64(max(0, last)))
                }
            }
        }

        /// Under the feed's lock: numbers `ids` after the feed's last entry, adds `countChange` to
        /// the event count, and notifies the other nodes (delivered when the transaction commits).
        /// The last statement answers the last number and the new count.
        func publishStatements(_ ids: [Bytes32], countChange: Int) -> [(String, PostgresBindings)] {
            let lock = ("SELECT pg_advisory_xact_lock(\(feedLock))", PostgresBindings())
            var binds = PostgresBindings()
            binds.append(Int64(countChange))
            guard !ids.isEmpty else {
                return [
                    lock,
                    (
                        "UPDATE counters SET value = value + $1 WHERE name = 'events' RETURNING 0::int8, value, ''",
                        binds
                    ),
                ]
            }
            binds.append(node)
            binds.append(ids.map(\.buffer))
            binds.append(channel)
            binds.append(Int64(ids.count))
            // After the lock, in the same round trip: the statement's snapshot sees every earlier
            // number. The notification says which numbers, from which node (`Note`).
            return [
                lock,
                (
                    """
                    WITH counted AS (
                        UPDATE counters SET value = value + $1 WHERE name = 'events' RETURNING value
                    ), ins AS (
                        INSERT INTO feed (seq, node, id)
                        SELECT (SELECT coalesce(max(seq), 0) FROM feed) + o, $2, i
                        FROM unnest($3::bytea[]) WITH ORDINALITY AS u(i, o)
                        RETURNING seq
                    )
                    SELECT s, (SELECT value FROM counted),
                        pg_notify($4, (s - $5 + 1)::text || ' ' || s::text || ' ' || $2::text)::text
                    FROM (SELECT max(seq) AS s FROM ins) AS m
                    """, binds
                ),
            ]
        }

        static func lockNumber(of pubkey: Bytes32) -> Int64 { Int64(bitPattern: pubkey.w0) }

        /// NIP-40: removes up to `max` events whose expiration is at or before `now`.
        public func sweepExpired(now: Int64, max: Int) throws -> Int {
            try noted {
                try writerConnection.transaction {
                    var binds = PostgresBindings()
                    binds.append(now)
                    binds.append(Int64(max))
                    let rows = try writerConnection.query(
                        """
                        DELETE FROM events WHERE id IN (
                            SELECT id FROM events WHERE expiration IS NOT NULL AND expiration <= $1
                            ORDER BY expiration LIMIT $2 FOR UPDATE SKIP LOCKED)
                        RETURNING 1
                        """, binds)
                    if !rows.isEmpty { try updateCount(-rows.count) }
                    return rows.count
                }
            }
        }

        public func remove(ids: [Bytes32]) throws -> Int {
            try noted {
                try writerConnection.transaction {
                    var binds = PostgresBindings()
                    binds.append(ids.map(\.buffer))
                    let rows = try writerConnection.query(
                        "DELETE FROM events WHERE id = ANY($1::bytea[]) RETURNING 1", binds)
                    if !rows.isEmpty { try updateCount(-rows.count) }
                    return rows.count
                }
            }
        }

        private func updateCount(_ change: Int) throws {
            let results = try writerConnection.queries(publishStatements([], countChange: change))
            guard let row = results[1].first else { return }
            let (_, count, _) = try row.decode((Int64, Int64, String?).self)
            cached.withLockedValue { $0.count = Int(count) }
        }
    }
#endif
