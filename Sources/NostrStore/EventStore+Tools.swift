import CLMDB
import EventStorage
import NostrCore

/// What `tern stats` reports of the store.
public struct StoreStatistics: Sendable {
    /// One LMDB table (the events, or an index): its entries and the bytes of its pages.
    public struct Table: Sendable {
        public let name: String
        public let entries: Int
        public let bytes: Int
    }

    public let events: Int
    /// Stored events of each kind, most numerous first.
    public let kinds: [(kind: UInt16, count: Int)]
    public let tables: [Table]
    /// The size of `data.mdb` on disk, the bytes its pages in use take, and the map size.
    public let fileBytes: Int
    public let usedBytes: Int
    public let mapSize: Int
    /// The oldest and newest `created_at` stored.
    public let oldest: Int64?
    public let newest: Int64?
}

/// Operators' tools on the embedded store (`tern export`, `scan`, `delete`, `stats`,
/// `compact`). Each runs in its own transactions, so a relay may serve from the same store in
/// another process meanwhile: LMDB serializes writers across processes with its lock file, and
/// a read transaction reads one consistent snapshot however long it runs.
extension EventStore {
    /// Calls `body` with the stored JSON of each event, newest first (or oldest first), from one
    /// snapshot, until it returns false. The bytes are valid during the call only.
    public func forEachEvent(oldestFirst: Bool, _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool) throws {
        try read { txn in
            var cursor: OpaquePointer?
            try check(mdb_cursor_open(txn.handle, dbs.created, &cursor))
            defer { mdb_cursor_close(cursor) }
            var k = MDB_val()
            var v = MDB_val()
            var rc = mdb_cursor_get(cursor, &k, &v, oldestFirst ? MDB_LAST : MDB_FIRST)
            while rc == 0 {
                let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
                if key.count == IndexKeys.suffixLength {
                    let serial = IndexKeys.readUInt64(key, at: 8)
                    let more = try withJSON(txn, serial: serial) { json in Result { try body(json) } }
                    if let more, try !more.get() { return }
                }
                rc = mdb_cursor_get(cursor, &k, &v, oldestFirst ? MDB_PREV : MDB_NEXT)
            }
            if rc != MDB_NOTFOUND { try check(rc) }
        }
    }

    /// Removes every stored event `filter` matches (its `limit` aside), in write transactions of
    /// up to `batch` events; returns how many went. Each batch is found in a fresh snapshot, so
    /// events written meanwhile by a running relay are judged too.
    public func removeAll(matching filter: Filter, batch: Int = 10_000) throws -> Int {
        var removed = 0
        var skipTo: [UInt8] = []
        while true {
            var ids: [Bytes32] = []
            var resume: [UInt8]?
            try read { txn in
                try txn.scan(dbs.created, from: skipTo) { key, _ in
                    guard key.count == IndexKeys.suffixLength else { return true }
                    if ids.count == batch {
                        resume = Array(key)
                        return false
                    }
                    let serial = IndexKeys.readUInt64(key, at: 8)
                    let match = try? withJSON(txn, serial: serial) { filter.matches(storedJSON: $0) }
                    if let (head, matches) = match ?? nil, matches { ids.append(head.id) }
                    return true
                }
            }
            if !ids.isEmpty { removed += try remove(ids: ids) }
            guard let resume else { return removed }
            skipTo = resume
        }
    }

    /// About how many pages the postings of `dbi` take outside its own tree: LMDB moves a key's
    /// values to a tree of their own once they outgrow half a page, and `mdb_stat` counts only
    /// the main tree (leaf pages of 16-byte values, plus one branch page per 256 leaves).
    private func subtreePages(_ txn: LMDBTransaction, _ dbi: MDBDatabase, pageSize: Int) throws -> Int {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn.handle, dbi, &cursor))
        defer { mdb_cursor_close(cursor) }
        let perPage = (pageSize - 16) / IndexKeys.suffixLength
        var pages = 0
        var k = MDB_val()
        var v = MDB_val()
        var rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        while rc == 0 {
            var count = 0
            try check(mdb_cursor_count(cursor, &count))
            if count * IndexKeys.suffixLength > pageSize / 2 {
                let leaves = (count + perPage - 1) / perPage
                pages += leaves + (leaves > 1 ? (leaves + 255) / 256 : 0)
            }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT_NODUP)
        }
        if rc != MDB_NOTFOUND { try check(rc) }
        return pages
    }

    /// Counts, sizes and time range of what is stored.
    public func statistics() throws -> StoreStatistics {
        try read { txn in
            var kinds: [UInt16: Int] = [:]
            try txn.scan(dbs.kind, from: []) { key, _ in
                if key.count >= 2 { kinds[UInt16(key[0]) << 8 | UInt16(key[1]), default: 0] += 1 }
                return true
            }
            var tables: [StoreStatistics.Table] = []
            for (name, dbi) in dbs.named {
                var stat = MDB_stat()
                try check(mdb_stat(txn.handle, dbi, &stat))
                var pages = stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages
                if dbs.holdsPostings(dbi) { pages += try subtreePages(txn, dbi, pageSize: Int(stat.ms_psize)) }
                tables.append(.init(name: name, entries: stat.ms_entries, bytes: pages * Int(stat.ms_psize)))
            }
            var info = MDB_envinfo()
            var envStat = MDB_stat()
            try check(mdb_env_info(env.handle, &info))
            try check(mdb_env_stat(env.handle, &envStat))
            var first: UInt64?
            var last: UInt64?
            try txn.scan(dbs.created, from: []) { key, _ in
                if key.count == IndexKeys.suffixLength { first = IndexKeys.readUInt64(key, at: 0) }
                return false
            }
            if let key = try txn.lastKey(dbs.created), key.count == IndexKeys.suffixLength {
                last = key.withUnsafeBytes { IndexKeys.readUInt64($0, at: 0) }
            }
            var file = stat()
            let fileBytes = stat(path + "/data.mdb", &file) == 0 ? Int(file.st_size) : 0
            return StoreStatistics(
                events: try txn.count(dbs.events),
                kinds: kinds.map { ($0.key, $0.value) }.sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) },
                tables: tables, fileBytes: fileBytes, usedBytes: (info.me_last_pgno + 1) * Int(envStat.ms_psize),
                mapSize: info.me_mapsize,
                oldest: last.map { IndexKeys.createdAt(inverted: $0) },
                newest: first.map { IndexKeys.createdAt(inverted: $0) })
        }
    }

    /// Writes a compacted copy of the store (free pages left out, pages in order) to `directory`,
    /// which must exist and hold no store. It reads one snapshot, so a relay may write meanwhile.
    public func compact(to directory: String) throws {
        try check(mdb_env_copy2(env.handle, directory, UInt32(MDB_CP_COMPACT)))
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
