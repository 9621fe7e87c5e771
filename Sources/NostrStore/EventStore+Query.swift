import EventStorage
import NostrCore

extension EventStore {
    public func query(_ filters: [Filter], defaultLimit: Int, now: Int64, scope: ReadScope) throws
        -> any StorageQuery
    {
        try LMDBQuery(store: self, filters: filters, defaultLimit: defaultLimit, now: now, scope: scope, mode: .events)
    }

    public func count(_ filters: [Filter], now: Int64, scope: ReadScope, hllOffset: Int?) throws -> CountResult {
        let query = try LMDBQuery(
            store: self, filters: filters, defaultLimit: Int.max, now: now, scope: scope, mode: .count)
        defer { query.cancel() }
        query.hll = hllOffset.map(HyperLogLog.init(offset:))
        while try !query.advance(steps: 1 << 20) {}
        return CountResult(count: query.counted, approximate: query.budgetExhausted, hll: query.hll)
    }

    public func items(_ filter: Filter, now: Int64, scope: ReadScope, max: Int) throws -> [SyncItem] {
        var filter = filter
        filter.limit = nil
        let query = try LMDBQuery(
            store: self, filters: [filter], defaultLimit: Int.max, now: now, scope: scope, mode: .items)
        defer { query.cancel() }
        query.maxItems = max
        do {
            while try !query.advance(steps: 1 << 20) {}
        } catch is ItemsOverflow {
            throw SyncItemsRefused.tooMany(max: max)
        }
        if query.budgetExhausted { throw SyncItemsRefused.scanBudget }
        return query.items.sorted()
    }

    /// Which index serves a filter, and the key prefixes to walk in it.
    enum Plan {
        case ids([Bytes32])
        case index(MDBDatabase, [[UInt8]])
    }

    /// The indexes that could serve `filter`, the one expected to be cheapest first when no
    /// count tells them apart: `author_kind`, `author`, each tag condition, `kind`, `created`.
    func candidatePlans(_ filter: Filter) -> [Plan] {
        if let ids = filter.ids { return [.ids(ids)] }
        var plans: [Plan] = []
        // NIP-50: each query word's entries; the one with the fewest is walked.
        for token in filter.searchTokens { plans.append(.index(dbs.search, [IndexKeys.valueKey(token)])) }
        if let authors = filter.authors {
            if let kinds = filter.kinds, authors.count * kinds.count <= 1000 {
                plans.append(
                    .index(dbs.authorKind, authors.flatMap { a in kinds.map { IndexKeys.authorKindPrefix(a, $0) } }))
            } else {
                plans.append(.index(dbs.author, authors.map(IndexKeys.authorPrefix)))
            }
        }
        for condition in filter.tags.sorted(by: { $0.values.count < $1.values.count }) {
            plans.append(.index(dbs.tag, condition.values.sorted().map { IndexKeys.tagPrefix(condition.name, $0) }))
        }
        if let kinds = filter.kinds, filter.authors == nil {
            plans.append(.index(dbs.kind, kinds.map(IndexKeys.kindPrefix)))
        }
        if plans.isEmpty { plans.append(.index(dbs.created, [[]])) }
        return plans
    }

    /// The plan whose prefixes hold the fewest entries in the filter's time range. Each is
    /// counted only up to the best count so far (and `cap`), so estimating costs at most a few
    /// thousand key steps; past the cap, the earlier plan of `candidatePlans` wins.
    func plan(_ filter: Filter, _ txn: LMDBTransaction, cap: Int = 4096) throws -> Plan {
        let plans = candidatePlans(filter)
        guard plans.count > 1 else { return plans[0] }
        var best = plans[0]
        var bestCount = Int.max
        for plan in plans {
            guard case .index(let dbi, let prefixes) = plan else { return plan }
            let n = try estimate(txn, dbi, prefixes, filter, upTo: min(cap, bestCount))
            if n < bestCount {
                best = plan
                bestCount = n
            }
        }
        return best
    }

    /// Entries under `prefixes` within the filter's time range, counted up to `limit`.
    func estimate(_ txn: LMDBTransaction, _ dbi: MDBDatabase, _ prefixes: [[UInt8]], _ filter: Filter, upTo limit: Int)
        throws -> Int
    {
        let lower = IndexKeys.inverted(filter.since ?? 0)
        var n = 0
        for prefix in prefixes {
            try IndexCursor.forEach(txn, dbi, of: dbs, prefix: prefix, from: filter.until.map(IndexKeys.inverted)) {
                inverted, _ in
                guard n < limit, inverted <= lower else { return false }
                n += 1
                return true
            }
            if n >= limit { break }
        }
        return n
    }

    /// Whether the raw bytes hold `"expiration"` (with its quotes).
    static func mentionsExpiration(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let word: StaticString = "\"expiration\""
        let n = word.utf8CodeUnitCount
        guard bytes.count >= n else { return false }
        return word.withUTF8Buffer { w in
            for i in 0...(bytes.count - n) where bytes[i] == w[0] {
                if UnsafeBufferPointer(rebasing: bytes[i..<(i + n)]).elementsEqual(w) { return true }
            }
            return false
        }
    }

    /// Whether the event stored under `serial` passes `filter`, lies in `scope` and has not
    /// expired (NIP-40), with its head when it does. The filter is checked on the event's head
    /// and its stored tags array; an event whose tags do not mention "expiration" cannot have
    /// expired, so most candidates are never decoded. `body` gets the stored JSON of a match.
    func candidate<R>(
        _ txn: LMDBTransaction, _ serial: UInt64, _ filter: Filter, now: Int64, scope: ReadScope,
        _ body: (EventHead, UnsafeBufferPointer<UInt8>) -> R
    ) throws -> R? {
        try withJSON(txn, serial: serial) { bytes -> R? in
            guard let head = EventHead.decode(json: bytes) else { return nil }
            let tags = UnsafeBufferPointer(rebasing: bytes[head.tags])
            if !Self.mentionsExpiration(tags), let matches = filter.matches(head, tags: tags) {
                guard matches else { return nil }
                if let inScope = scope.admits(head, tags: tags) { return inScope ? body(head, bytes) : nil }
            }
            guard let event = Event.decode(json: bytes), filter.matches(event), scope.admits(event) else { return nil }
            if let expiration = event.expiration, expiration <= now { return nil }
            return body(head, bytes)
        }
    }
}
