import NostrCore

extension EventStore {
    /// Answers a REQ's initial query: the union of each filter's newest matches (each filter's
    /// own limit applies), newest first, ties by lowest id. Expired events are left out.
    public func query(_ filters: [Filter], defaultLimit: Int, now: Int64) throws -> [StoredEvent] {
        try read { txn in
            var seen = Set<Bytes32>()
            var all: [StoredEvent] = []
            for filter in filters {
                for found in try query(txn, filter, limit: filter.limit ?? defaultLimit, now: now)
                where seen.insert(found.event.id).inserted {
                    all.append(found)
                }
            }
            if filters.count > 1 { all.sort(by: Self.newestFirst) }
            return all
        }
    }

    static func newestFirst(_ a: StoredEvent, _ b: StoredEvent) -> Bool {
        a.event.createdAt != b.event.createdAt ? a.event.createdAt > b.event.createdAt : a.event.id < b.event.id
    }

    /// Which index serves a filter, and the key prefixes to walk in it.
    enum Plan {
        case ids([Bytes32])
        case index(MDBDatabase, [[UInt8]])
    }

    func plan(_ filter: Filter) -> Plan {
        if let ids = filter.ids { return .ids(ids) }
        if let authors = filter.authors {
            if let kinds = filter.kinds, authors.count * kinds.count <= 1000 {
                return .index(dbs.authorKind, authors.flatMap { a in kinds.map { IndexKeys.authorKindPrefix(a, $0) } })
            }
            return .index(dbs.author, authors.map(IndexKeys.authorPrefix))
        }
        if let condition = filter.tags.min(by: { $0.values.count < $1.values.count }) {
            return .index(dbs.tag, condition.values.map { IndexKeys.tagPrefix(condition.name, $0) })
        }
        if let kinds = filter.kinds { return .index(dbs.kind, kinds.map(IndexKeys.kindPrefix)) }
        return .index(dbs.created, [[]])
    }

    func query(_ txn: LMDBTransaction, _ filter: Filter, limit: Int, now: Int64) throws -> [StoredEvent] {
        guard limit > 0, !filter.matchesNothing else { return [] }
        func live(_ e: Event) -> Bool {
            guard let exp = e.expiration else { return true }
            return exp > now
        }
        var results: [StoredEvent] = []
        switch plan(filter) {
        case .ids(let ids):
            for id in ids {
                if let found = try load(txn, id: id), filter.matches(found.event), live(found.event) {
                    results.append(found)
                }
            }
            results.sort(by: Self.newestFirst)
            if results.count > limit { results.removeSubrange(limit...) }
            return results
        case .index(let dbi, let prefixes):
            let upper = IndexKeys.inverted(filter.until ?? Int64.max)
            let lower = IndexKeys.inverted(filter.since ?? 0)
            var budget = options.maxScanPerFilter
            // An event can sit under several prefixes (two of the wanted tag values): count it once.
            var seen = Set<UInt64>()
            let keyLength = IndexKeys.suffixLength
            for prefix in prefixes {
                var start = prefix
                IndexKeys.append(filter.until == nil ? 0 : upper, to: &start)
                var kept = 0
                // Keys order equal created_at by serial, not id: once `limit` events are kept,
                // finish the run of the last created_at so the sort below can pick by id.
                var boundary: UInt64?
                try txn.scan(dbi, from: start) { key, _ in
                    guard key.count == prefix.count + keyLength, budget > 0 else { return false }
                    for i in 0..<prefix.count where key[i] != prefix[i] { return false }
                    let inverted = IndexKeys.readUInt64(key, at: prefix.count)
                    if inverted > lower { return false }
                    if let boundary, inverted != boundary { return false }
                    budget -= 1
                    let serial = IndexKeys.readUInt64(key, at: prefix.count + 8)
                    if prefixes.count > 1 && !seen.insert(serial).inserted { return true }
                    if let found = try? load(txn, serial: serial), filter.matches(found.event), live(found.event) {
                        results.append(found)
                        kept += 1
                        if kept >= limit && boundary == nil { boundary = inverted }
                    }
                    return true
                }
            }
            results.sort(by: Self.newestFirst)
            if results.count > limit { results.removeSubrange(limit...) }
            return results
        }
    }
}
