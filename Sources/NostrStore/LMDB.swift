import CLMDB
import NostrCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An LMDB error with the library's own text.
public struct LMDBError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }
    public var description: String { String(cString: mdb_strerror(code)) }
    /// The store has no room left: its map size is reached or the disk (or quota) is full.
    public var isOutOfSpace: Bool { code == MDB_MAP_FULL || code == ENOSPC || code == EDQUOT }
}

@inline(__always)
func check(_ rc: Int32) throws {
    if rc != 0 { throw LMDBError(rc) }
}

/// An LMDB environment: one memory-mapped file with named databases.
final class LMDBEnvironment: @unchecked Sendable {
    let handle: OpaquePointer

    init(path: String, mapSize: Int, maxDatabases: UInt32, maxReaders: UInt32) throws {
        var env: OpaquePointer?
        try check(mdb_env_create(&env))
        handle = env!
        do {
            try check(mdb_env_set_mapsize(handle, mapSize))
            try check(mdb_env_set_maxdbs(handle, maxDatabases))
            try check(mdb_env_set_maxreaders(handle, maxReaders))
            // NOTLS: read transactions are not tied to threads, so event-loop threads may use them.
            try check(mdb_env_open(handle, path, UInt32(MDB_NOTLS), 0o644))
        } catch {
            mdb_env_close(handle)
            throw error
        }
    }

    func close() { mdb_env_close(handle) }

    func begin(readOnly: Bool) throws -> LMDBTransaction {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn))
        return LMDBTransaction(handle: txn!)
    }

    /// Runs `body` in a write transaction and commits it; if `body` throws, aborts instead.
    /// A commit that fails has already freed the transaction (LMDB's rule), so it is never
    /// aborted a second time: that would use freed memory, which a full disk (ENOSPC at commit)
    /// once turned into a crash.
    func write<R>(_ body: (LMDBTransaction) throws -> R) throws -> R {
        let txn = try begin(readOnly: false)
        let result: R
        do {
            result = try body(txn)
        } catch {
            txn.abort()
            throw error
        }
        try txn.commit()
        return result
    }
}

/// A transaction. Read transactions are aborted when done; the writer commits its own.
struct LMDBTransaction {
    let handle: OpaquePointer

    func commit() throws { try check(mdb_txn_commit(handle)) }
    func abort() { mdb_txn_abort(handle) }

    /// The transaction's id: for a write transaction, the id its commit gets; for a read
    /// transaction, the id of the last commit its snapshot holds.
    var id: UInt64 { UInt64(mdb_txn_id(handle)) }

    func cursor(_ dbi: MDB_dbi) throws -> LMDBCursor {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(handle, dbi, &cursor))
        return LMDBCursor(handle: cursor!)
    }

    /// `postings`: a table of sorted 16-byte values under each key (MDB_DUPSORT, MDB_DUPFIXED).
    func open(_ name: String, create: Bool, postings: Bool = false) throws -> MDB_dbi {
        var dbi: MDB_dbi = 0
        var flags = create ? UInt32(MDB_CREATE) : 0
        if postings { flags |= UInt32(MDB_DUPSORT | MDB_DUPFIXED) }
        try check(mdb_dbi_open(handle, name, flags, &dbi))
        return dbi
    }

    /// Opens a table that exists, or nil when there is none by that name.
    func openExisting(_ name: String) throws -> MDB_dbi? {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(handle, name, 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        return dbi
    }

    /// Deletes a table and its name from the environment.
    func drop(_ dbi: MDB_dbi) throws { try check(mdb_drop(handle, dbi, 1)) }

    /// Puts an index entry: in a table of postings the key's last 16 bytes are the value under
    /// the rest (`Databases.holdsPostings`); elsewhere the whole key, with an empty value.
    func putEntry(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, postings: Bool) throws {
        var (k, v) = Self.entry(key, postings: postings)
        try check(mdb_put(handle, dbi, &k, &v, 0))
    }

    /// Deletes an index entry (see `putEntry`); an entry that is not there is not an error.
    func deleteEntry(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, postings: Bool) throws {
        var (k, v) = Self.entry(key, postings: postings)
        let rc = postings ? mdb_del(handle, dbi, &k, &v) : mdb_del(handle, dbi, &k, nil)
        if rc != MDB_NOTFOUND { try check(rc) }
    }

    /// An index entry's key and value as LMDB stores them.
    static func entry(_ key: UnsafeRawBufferPointer, postings: Bool) -> (MDB_val, MDB_val) {
        let base = UnsafeMutableRawPointer(mutating: key.baseAddress)
        guard postings else { return (MDB_val(mv_size: key.count, mv_data: base), MDB_val(mv_size: 0, mv_data: nil)) }
        let split = key.count - IndexKeys.suffixLength
        return (
            MDB_val(mv_size: split, mv_data: base), MDB_val(mv_size: IndexKeys.suffixLength, mv_data: base! + split)
        )
    }

    /// Calls `body` with the value stored under `key`, or returns nil when there is none.
    func get<R>(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) throws -> R? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(handle, dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        return body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    func contains(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { (k) throws -> Bool in try get(dbi, k) { _ in true } ?? false }
    }

    func getBytes(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { (k) throws -> [UInt8]? in try get(dbi, k) { Array($0) } }
    }

    func contains(_ dbi: MDB_dbi, _ key: Bytes32) throws -> Bool {
        try key.withBytes { k in try get(dbi, k) { _ in true } ?? false }
    }

    /// `append`: the key is known to sort after every key in the database (MDB_APPEND), so LMDB
    /// fills the last page instead of searching and splitting.
    func put(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, append: Bool = false)
        throws
    {
        var kv = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var vv = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_put(handle, dbi, &kv, &vv, append ? UInt32(MDB_APPEND) : 0))
    }

    /// The last key of a database, if it has any.
    func lastKey(_ dbi: MDB_dbi) throws -> [UInt8]? {
        try withLastKey(dbi) { Array($0) }
    }

    /// The last key of a database read as a big-endian 8-byte number (serials), without
    /// copying it; nil when the database is empty or its last key is not 8 bytes.
    func lastSerial(_ dbi: MDB_dbi) throws -> UInt64? {
        try withLastKey(dbi) { $0.count == 8 ? IndexKeys.readUInt64($0, at: 0) : nil } ?? nil
    }

    /// Calls `body` with the last key of a database (valid during the call), if it has any.
    private func withLastKey<R>(_ dbi: MDB_dbi, _ body: (UnsafeRawBufferPointer) -> R) throws -> R? {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(handle, dbi, &cursor))
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        let rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        return body(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size))
    }

    func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws {
        try key.withUnsafeBytes { (k) throws in
            try value.withUnsafeBytes { (v) throws in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                try check(mdb_put(handle, dbi, &kv, &vv, 0))
            }
        }
    }

    /// Deletes `key`; a key that is not there is not an error.
    func delete(_ dbi: MDB_dbi, _ key: [UInt8]) throws {
        try key.withUnsafeBytes { (k) throws in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            let rc = mdb_del(handle, dbi, &kv, nil)
            if rc != MDB_NOTFOUND { try check(rc) }
        }
    }

    /// Walks keys from the first one >= `start` in ascending order while `body` returns true.
    func scan(_ dbi: MDB_dbi, from start: [UInt8], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool)
        throws
    {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(handle, dbi, &cursor))
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc: Int32 = start.withUnsafeBytes { s in
            k = MDB_val(mv_size: s.count, mv_data: UnsafeMutableRawPointer(mutating: s.baseAddress))
            return mdb_cursor_get(cursor, &k, &v, start.isEmpty ? MDB_FIRST : MDB_SET_RANGE)
        }
        while rc == 0 {
            let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
            let value = UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
            if !body(key, value) { return }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try check(rc) }
    }

    func count(_ dbi: MDB_dbi) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(handle, dbi, &stat))
        return stat.ms_entries
    }
}

/// A cursor that a paused query keeps between its slices. Closed explicitly.
struct LMDBCursor {
    let handle: OpaquePointer

    func close() { mdb_cursor_close(handle) }

    /// Moves to the first key >= `key`; false when there is none.
    func seek(_ key: [UInt8]) throws -> Bool {
        var k = MDB_val()
        var v = MDB_val()
        let rc: Int32 = key.withUnsafeBytes { s in
            k = MDB_val(mv_size: s.count, mv_data: UnsafeMutableRawPointer(mutating: s.baseAddress))
            return mdb_cursor_get(handle, &k, &v, key.isEmpty ? MDB_FIRST : MDB_SET_RANGE)
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc)
        return true
    }

    /// Moves to the next key; false at the end.
    func next() throws -> Bool { try move(MDB_NEXT) }

    /// Moves with `op` (MDB_NEXT_DUP, MDB_SET, MDB_GET_BOTH_RANGE...) from `key` and `value`;
    /// false when LMDB finds nothing there.
    func move(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer? = nil) throws
        -> Bool
    {
        var k = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var v = MDB_val(mv_size: value?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: value?.baseAddress))
        let rc = mdb_cursor_get(handle, &k, &v, op)
        if rc == MDB_NOTFOUND { return false }
        try check(rc)
        return true
    }

    /// The value under the cursor (valid until the cursor moves or its transaction ends).
    func value() throws -> UnsafeRawBufferPointer {
        var k = MDB_val()
        var v = MDB_val()
        try check(mdb_cursor_get(handle, &k, &v, MDB_GET_CURRENT))
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    /// The key under the cursor (valid until the cursor moves or its transaction ends).
    func key() throws -> UnsafeRawBufferPointer {
        var k = MDB_val()
        var v = MDB_val()
        try check(mdb_cursor_get(handle, &k, &v, MDB_GET_CURRENT))
        return UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
    }
}
