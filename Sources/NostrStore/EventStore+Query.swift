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
                where seen.insert(found.id).inserted {
                    all.append(found)
                }
            }
            if filters.count > 1 { all.sort(by: Self.newestFirst) }
            return all
        }
    }

    static func newestFirst(_ a: StoredEvent, _ b: StoredEvent) -> Bool {
        a.createdAt != b.createdAt ? a.createdAt > b.createdAt : a.id < b.id
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
        var results: [StoredEvent] = []
        switch plan(filter) {
        case .ids(let ids):
            for id in ids {
                if let serial = try serial(txn, id: id), let found = try candidate(txn, serial, filter, now: now) {
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
                    if let found = try? candidate(txn, serial, filter, now: now) {
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

    /// The event stored under `serial` if it passes `filter` and has not expired (NIP-40). The
    /// filter is checked on the event's head and its stored tags array, and an event whose tags
    /// do not mention "expiration" cannot have expired, so most candidates are never decoded.
    func candidate(_ txn: LMDBTransaction, _ serial: UInt64, _ filter: Filter, now: Int64) throws -> StoredEvent? {
        try withJSON(txn, serial: serial) { bytes -> StoredEvent? in
            if let head = EventHead.decode(json: bytes) {
                let tags = UnsafeBufferPointer(rebasing: bytes[head.tags])
                if !Self.mentionsExpiration(tags), let matches = filter.matches(head, tags: tags) {
                    return matches ? StoredEvent(head: head, json: Array(bytes), serial: serial) : nil
                }
            }
            guard let event = Event.decode(json: bytes), filter.matches(event) else { return nil }
            if let expiration = event.expiration, expiration <= now { return nil }
            return StoredEvent(event: event, json: Array(bytes), serial: serial)
        }
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
}
