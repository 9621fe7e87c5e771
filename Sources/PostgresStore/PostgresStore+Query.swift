#if Postgres
    import EventStorage
    import NIOCore
    import NostrCore
    import PostgresNIO

    /// Reads: each filter becomes one indexed SQL query, newest first with its limit; a REQ's
    /// filters and the feed's last number are read in one statement, so in one snapshot.
    extension PostgresStore {
        /// A search (NIP-50) ranks at most this many matches, the newest (as LMDB's does).
        static let searchWindow = 1000

        public func query(_ filters: [Filter], defaultLimit: Int, now: Int64, scope: ReadScope) throws
            -> any StorageQuery
        {
            var sql = SQLBuilder()
            var parts = [
                "SELECT -1 AS f, NULL::bytea AS id, (SELECT coalesce(max(seq), 0) FROM feed) AS t, NULL::bytea AS json"
            ]
            var limits: [Int] = []
            for (i, filter) in filters.enumerated() {
                let limit = filter.limit ?? filter.ids?.count ?? defaultLimit
                limits.append(limit)
                let ranked = !filter.searchTokens.isEmpty
                let rows = min(ranked ? Self.searchWindow : limit, maxScanPerFilter)
                guard rows > 0, limit > 0, !filter.matchesNothing, !scope.excludesAll(filter) else { continue }
                let from = Self.from(filter, now: now, scope: scope, &sql)
                parts.append(
                    "(SELECT \(from.distinct)\(i), e.id, e.created_at, e.json FROM \(from.tables) WHERE \(from.conditions) "
                        + "ORDER BY \(from.order) LIMIT \(rows))")
            }
            let rows = try noted {
                try readers.with { try $0.query(parts.joined(separator: " UNION ALL "), sql.binds) }
            }
            return try PostgresAnswer(filters: filters, limits: limits, rows: rows)
        }

        public func count(_ filters: [Filter], now: Int64, scope: ReadScope, hllOffset: Int?) throws -> CountResult {
            var sql = SQLBuilder()
            var ctes: [String] = []
            let budget = maxScanPerFilter
            for filter in filters where !filter.matchesNothing && !scope.excludesAll(filter) {
                let from = Self.from(filter, now: now, scope: scope, &sql)
                ctes.append(
                    "f\(ctes.count) AS (SELECT DISTINCT e.id, e.pubkey FROM \(from.tables) WHERE \(from.conditions) "
                        + "LIMIT \(budget + 1))")
            }
            guard !ctes.isEmpty else { return CountResult(count: 0, hll: hllOffset.map { HyperLogLog(offset: $0) }) }
            let each = (0..<ctes.count).map { "(SELECT count(*) FROM f\($0))" }
            let union = (0..<ctes.count).map { "SELECT id, pubkey FROM f\($0)" }.joined(separator: " UNION ")
            let pubkeys = hllOffset == nil ? "NULL::bytea[]" : "(SELECT array_agg(DISTINCT pubkey) FROM (\(union)) p)"
            let statement =
                "WITH \(ctes.joined(separator: ", ")) SELECT (SELECT count(*) FROM (\(union)) u), \(pubkeys), "
                + "ARRAY[\(each.joined(separator: ", "))]::int8[]"
            let row = try noted { try readers.with { try $0.query(statement, sql.binds) } }.first
            guard let row else { throw PGFailure(message: "the count returned nothing") }
            let (total, keys, counts) = try row.decode((Int64, [ByteBuffer]?, [Int64]).self)
            let approximate = counts.contains { $0 > budget }
            var hll = hllOffset.map { HyperLogLog(offset: $0) }
            for key in keys ?? [] { if let key = Bytes32(key) { hll?.add(key) } }
            let count = approximate ? min(Int(total), budget * ctes.count) : Int(total)
            return CountResult(count: count, approximate: approximate, hll: hll)
        }

        public func items(_ filter: Filter, now: Int64, scope: ReadScope, max: Int) throws -> [SyncItem] {
            guard !filter.matchesNothing, !scope.excludesAll(filter) else { return [] }
            var sql = SQLBuilder()
            let from = Self.from(filter, now: now, scope: scope, &sql)
            let cap = min(max, maxScanPerFilter)
            let rows = try noted {
                try readers.with {
                    try $0.query(
                        "SELECT DISTINCT e.created_at, e.id FROM \(from.tables) WHERE \(from.conditions) "
                            + "ORDER BY e.created_at, e.id LIMIT \(cap + 1)", sql.binds)
                }
            }
            if rows.count > cap { throw maxScanPerFilter < max ? SyncItemsRefused.scanBudget : .tooMany(max: max) }
            return try rows.compactMap { row in
                let (createdAt, id) = try row.decode((Int64, ByteBuffer).self)
                return Bytes32(id).map { SyncItem(createdAt: createdAt, id: $0) }
            }
        }

        /// Where a filter's events are read from, newest first. A filter with a tag condition and
        /// neither ids nor authors reads that tag's index in time order (`tags t0`, joined to
        /// `events`), so a rare tag costs its few rows and a common one stops at the limit; an
        /// event with two of the wanted values is kept once (`DISTINCT ON`). Any other filter
        /// reads `events` through the index its columns pick.
        static func from(_ filter: Filter, now: Int64, scope: ReadScope, _ sql: inout SQLBuilder) -> (
            tables: String, conditions: String, order: String, distinct: String
        ) {
            guard filter.ids == nil, filter.authors == nil, let tag = filter.tags.first else {
                return ("events e", conditions(filter, now: now, scope: scope, &sql), "e.created_at DESC, e.id", "")
            }
            let keys = tag.values.sorted().map { TagKey.key(tag.name, $0) }
            var bounds = ""
            if let since = filter.since { bounds += " AND t.created_at >= \(sql.bind(since))" }
            if let until = filter.until { bounds += " AND t.created_at <= \(sql.bind(until))" }
            let tables: String
            if keys.count == 1 || keys.count > Self.mergedTagValues {
                tables =
                    "(SELECT t.id, t.created_at FROM tags t WHERE \(sql.member("t.tag", keys, "text"))\(bounds)) t0"
            } else {
                // One ordered index walk per value, merged (Merge Append): the limit still stops it.
                let walks = keys.map {
                    "(SELECT t.id, t.created_at FROM tags t WHERE t.tag = \(sql.bind($0))::text\(bounds))"
                }
                tables = "(\(walks.joined(separator: " UNION ALL "))) t0"
            }
            let rest = conditions(filter, now: now, scope: scope, &sql, skippingFirstTag: true)
            return (
                "\(tables) JOIN events e ON e.id = t0.id", rest, "t0.created_at DESC, t0.id",
                keys.count > 1 ? "DISTINCT ON (t0.created_at, t0.id) " : ""
            )
        }

        /// Up to this many values of a driving tag are walked one by one and merged; more are
        /// read with `= ANY`.
        static let mergedTagValues = 16

        /// The WHERE clause of a filter, within the reader's scope, without expired events.
        static func conditions(
            _ filter: Filter, now: Int64, scope: ReadScope, _ sql: inout SQLBuilder, skippingFirstTag: Bool = false
        ) -> String {
            var all: [String] = []
            if let ids = filter.ids { all.append(sql.member("e.id", ids.map(\.buffer), "bytea")) }
            if let authors = filter.authors { all.append(sql.member("e.pubkey", authors.map(\.buffer), "bytea")) }
            if let kinds = filter.kinds { all.append(sql.member("e.kind", kinds.map { Int32($0) }, "int4")) }
            var times = ""
            if let since = filter.since {
                let p = sql.bind(since)
                all.append("e.created_at >= \(p)")
                times += " AND t.created_at >= \(p)"
            }
            if let until = filter.until {
                let p = sql.bind(until)
                all.append("e.created_at <= \(p)")
                times += " AND t.created_at <= \(p)"
            }
            for tag in filter.tags.dropFirst(skippingFirstTag ? 1 : 0) {
                let keys = tag.values.sorted().map { TagKey.key(tag.name, $0) }
                all.append("e.id IN (SELECT t.id FROM tags t WHERE \(sql.member("t.tag", keys, "text"))\(times))")
            }
            if !filter.searchTokens.isEmpty { all.append("e.words @> \(sql.bind(filter.searchTokens))::text[]") }
            all.append("(e.expiration IS NULL OR e.expiration > \(sql.bind(now)))")
            if !scope.hiddenKinds.isEmpty {
                all.append("e.kind <> ALL(\(sql.bind(scope.hiddenKinds.map { Int32($0) }))::int4[])")
            }
            if !scope.partyKinds.isEmpty {
                var admitted = ["e.kind <> ALL(\(sql.bind(scope.partyKinds.map { Int32($0) }))::int4[])"]
                if !scope.parties.isEmpty {
                    admitted.append("e.pubkey = ANY(\(sql.bind(scope.parties.map(\.buffer)))::bytea[])")
                    let keys = scope.parties.map { TagKey.key(UInt8(ascii: "p"), $0.hex) }
                    admitted.append("e.id IN (SELECT t.id FROM tags t WHERE t.tag = ANY(\(sql.bind(keys))::text[]))")
                }
                all.append("(\(admitted.joined(separator: " OR ")))")
            }
            return all.joined(separator: " AND ")
        }
    }

    /// Parameters of one statement, numbered as they are added.
    struct SQLBuilder {
        var binds = PostgresBindings()
        private var count = 0

        mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
            binds.append(value)
            count += 1
            return "$\(count)"
        }

        /// `column` is one of `values`: `= $n` for one value (so the planner can walk an index in
        /// order, which it does not for `= ANY` of a one-element array), `= ANY($n)` for several.
        mutating func member<
            Value: PostgresArrayEncodable & PostgresNonThrowingEncodable & PostgresDynamicTypeEncodable
        >(
            _ column: String, _ values: [Value], _ type: String
        ) -> String {
            if values.count == 1 { return "\(column) = \(bind(values[0]))::\(type)" }
            return "\(column) = ANY(\(bind(values))::\(type)[])"
        }
    }

    /// A REQ's answer, read at once (one statement, one snapshot) and turned into events in steps.
    final class PostgresAnswer: StorageQuery, @unchecked Sendable {
        let sequence: UInt64
        private(set) var results: [StoredEvent] = []
        private let filters: [Filter]
        private let limits: [Int]
        private var rows: [PostgresRow]
        private var next = 0
        private var found: [[StoredEvent]]
        private var scores: [Bytes32: Int] = [:]
        private var done = false

        init(filters: [Filter], limits: [Int], rows: [PostgresRow]) throws {
            self.filters = filters
            self.limits = limits
            var sequence: UInt64 = 0
            var events: [PostgresRow] = []
            for row in rows {
                let (f, _, t, _) = try row.decode((Int32, ByteBuffer?, Int64, ByteBuffer?).self)
                if f < 0 {
                    sequence = UInt64(max(0, t))
                } else {
                    events.append(row)
                }
            }
            self.sequence = sequence
            self.rows = events
            found = Array(repeating: [], count: filters.count)
        }

        func advance(steps: Int) throws -> Bool {
            guard !done else { return true }
            let end = min(rows.count, next + max(1, steps))
            while next < end {
                let (f, id, createdAt, json) = try rows[next].decode((Int32, ByteBuffer, Int64, ByteBuffer).self)
                next += 1
                guard let id = Bytes32(id) else { continue }
                let filter = filters[Int(f)]
                if filter.searchTokens.isEmpty {
                    found[Int(f)].append(StoredEvent(id: id, createdAt: createdAt, json: json.bytes))
                } else {
                    let bytes = json.bytes
                    guard let event = Event.decode(json: bytes),
                        let score = SearchText.match(content: event.content, query: filter.searchTokens)
                    else { continue }
                    scores[id] = score
                    found[Int(f)].append(StoredEvent(event: event, json: bytes))
                }
            }
            guard next >= rows.count else { return false }
            finish()
            return true
        }

        /// Ranks searches, then joins the filters' answers as LMDB's query does: each filter's in
        /// order, an event once, newest first when there are several (searches keep their rank).
        private func finish() {
            let several = filters.count > 1
            var seen: Set<Bytes32> = []
            for (i, filter) in filters.enumerated() {
                var events = found[i]
                if !filter.searchTokens.isEmpty {
                    events = events.sorted { a, b in
                        let x = scores[a.id] ?? 0
                        let y = scores[b.id] ?? 0
                        return x != y ? x > y : StoredEvent.newestFirst(a, b)
                    }.prefix(limits[i]).map { $0 }
                }
                for event in events where !several || seen.insert(event.id).inserted { results.append(event) }
            }
            if several && !filters.contains(where: { !$0.searchTokens.isEmpty }) {
                results.sort(by: StoredEvent.newestFirst)
            }
            cancel()
        }

        func cancel() {
            done = true
            rows = []
            found = []
        }
    }
#endif
