import CLMDB

/// The secondary index entries (created, author, kind, author + kind, tag, expiration) of the
/// events one write transaction inserts, put into LMDB at the end of the transaction in key
/// order, through one cursor per table.
///
/// Put one by one as events arrive, each entry costs a search from the root of a B-tree whose
/// keys are random, and every page on the way is looked up in the transaction's list of dirty
/// pages. Sorted, consecutive entries mostly land on the page the cursor is already on, which
/// LMDB checks first. The events table and the ids table are still written at once: the NIP
/// rules read them within the batch (duplicates, the current version of an address).
///
/// An event inserted and removed in the same transaction (an older version replaced by a newer
/// one of the same batch) has its entries dropped here instead. Reads of these tables inside a
/// write transaction (`events(by:)`, `giftWraps(to:)`) flush first. Writer thread only.
struct IndexBatch {
    /// One waiting key: its table, its first 16 bytes as two big-endian numbers (most keys
    /// differ there, so sorting compares numbers), and where the whole key lies in `arena`.
    private struct Entry {
        let dbi: MDB_dbi
        let length: UInt32
        let offset: UInt32
        let high: UInt64
        let low: UInt64
    }

    private var arena: [UInt8] = []
    private var entries: [Entry] = []
    /// Serials inserted and removed again while their entries waited.
    private var removed: Set<UInt64> = []
    /// The lowest serial whose entries wait here.
    private var firstSerial: UInt64?

    var isEmpty: Bool { entries.isEmpty }

    /// Below this many entries (the relay's small batches) each is put on its own: opening a
    /// cursor costs LMDB a malloc, which a few keys do not repay.
    static let cursorThreshold = 256

    /// Forgets everything (a new transaction, or an aborted one).
    mutating func reset() {
        // A huge batch (an import) leaves no huge buffers behind.
        if arena.capacity > 8 << 20 {
            arena = []
            entries = []
        } else {
            arena.removeAll(keepingCapacity: true)
            entries.removeAll(keepingCapacity: true)
        }
        removed.removeAll()
        firstSerial = nil
    }

    /// Keeps one entry of the event stored under `serial`; every key ends with that serial.
    mutating func add(_ dbi: MDB_dbi, _ key: [UInt8], serial: UInt64) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<min(8, key.count) { high |= UInt64(key[i]) << (56 - 8 * i) }
        for i in 8..<max(8, min(16, key.count)) { low |= UInt64(key[i]) << (56 - 8 * (i - 8)) }
        entries.append(
            Entry(dbi: dbi, length: UInt32(key.count), offset: UInt32(arena.count), high: high, low: low))
        arena.append(contentsOf: key)
        if firstSerial == nil { firstSerial = serial }
    }

    /// Whether the entries of the event under `serial` wait here, not in LMDB.
    func holds(serial: UInt64) -> Bool {
        guard let first = firstSerial else { return false }
        return serial >= first
    }

    /// The event under `serial` was removed before its entries were put: they never will be.
    mutating func drop(serial: UInt64) { removed.insert(serial) }

    /// Puts every waiting entry into `txn`, in (table, key) order, and empties the batch.
    mutating func flush(into txn: LMDBTransaction, _ dbs: Databases) throws {
        defer { reset() }
        guard !entries.isEmpty else { return }
        try arena.withUnsafeBytes { arena in
            let base = arena.baseAddress!
            entries.sort { x, y in
                if x.dbi != y.dbi { return x.dbi < y.dbi }
                if x.high != y.high { return x.high < y.high }
                if x.low != y.low { return x.low < y.low }
                let n = Int(min(x.length, y.length))
                if n > 16 {
                    let c = memcmp(base + Int(x.offset) + 16, base + Int(y.offset) + 16, n - 16)
                    if c != 0 { return c < 0 }
                }
                return x.length < y.length
            }
            try entries.withUnsafeBufferPointer { entries in
                var cursor: OpaquePointer?
                var cursorDBI: MDB_dbi = 0
                defer { if cursor != nil { mdb_cursor_close(cursor) } }
                for entry in entries {
                    let key = UnsafeMutableRawPointer(mutating: base + Int(entry.offset))
                    if !removed.isEmpty {
                        let serial = IndexKeys.readUInt64(
                            UnsafeRawBufferPointer(start: key, count: Int(entry.length)), at: Int(entry.length) - 8)
                        if removed.contains(serial) { continue }
                    }
                    let whole = UnsafeRawBufferPointer(start: key, count: Int(entry.length))
                    var (k, v) = LMDBTransaction.entry(whole, postings: dbs.holdsPostings(entry.dbi))
                    if entries.count < Self.cursorThreshold {
                        try check(mdb_put(txn.handle, entry.dbi, &k, &v, 0))
                        continue
                    }
                    if cursor == nil || entry.dbi != cursorDBI {
                        if cursor != nil { mdb_cursor_close(cursor) }
                        cursor = nil
                        try check(mdb_cursor_open(txn.handle, entry.dbi, &cursor))
                        cursorDBI = entry.dbi
                    }
                    try check(mdb_cursor_put(cursor, &k, &v, 0))
                }
            }
        }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
