import CLMDB

/// A walk over one prefix of an index table, newest first, giving each entry's inverted
/// created_at and serial. In a table of postings (`Databases.holdsPostings`: author, kind,
/// author + kind, tag, search) the prefix is the key and each entry one of the sorted 16-byte
/// values under it; in the others (created, with the empty prefix) each entry is a whole key,
/// prefix + 16-byte suffix. A paused query keeps it between slices. Closed explicitly.
struct IndexCursor {
    private let cursor: LMDBCursor
    let prefix: [UInt8]
    let postings: Bool

    init(_ txn: LMDBTransaction, _ dbi: MDBDatabase, of dbs: Databases, prefix: [UInt8]) throws {
        cursor = try txn.cursor(dbi)
        self.prefix = prefix
        postings = dbs.holdsPostings(dbi)
    }

    /// Walks the entries under `prefix` from the inverted created_at `from` on, while `body`
    /// returns true.
    static func forEach(
        _ txn: LMDBTransaction, _ dbi: MDBDatabase, of dbs: Databases, prefix: [UInt8], from inverted: UInt64?,
        _ body: (_ inverted: UInt64, _ serial: UInt64) -> Bool
    ) throws {
        let cursor = try IndexCursor(txn, dbi, of: dbs, prefix: prefix)
        defer { cursor.close() }
        var more = try cursor.seek(from: inverted)
        while more, let entry = try cursor.entry(), body(entry.inverted, entry.serial) { more = try cursor.next() }
    }

    func close() { cursor.close() }

    /// Moves to the prefix's first entry whose inverted created_at is at least `from` (its
    /// first entry when nil); false when there is none.
    func seek(from inverted: UInt64?) throws -> Bool {
        if postings {
            return try prefix.withUnsafeBytes { key in
                guard let inverted else { return try cursor.move(MDB_SET, key: key) }
                var suffix = [UInt8]()
                suffix.reserveCapacity(IndexKeys.suffixLength)
                IndexKeys.append(inverted, to: &suffix)
                IndexKeys.append(UInt64(0), to: &suffix)
                return try suffix.withUnsafeBytes { try cursor.move(MDB_GET_BOTH_RANGE, key: key, value: $0) }
            }
        }
        var start = prefix
        if let inverted { IndexKeys.append(inverted, to: &start) }
        return try cursor.seek(start)
    }

    /// Moves to the next entry; false at the end of the prefix's entries (of a table of
    /// postings) or of the table.
    func next() throws -> Bool { postings ? try cursor.move(MDB_NEXT_DUP) : try cursor.next() }

    /// The entry under the cursor, or nil when the cursor has left the prefix.
    func entry() throws -> (inverted: UInt64, serial: UInt64)? {
        if postings {
            let value = try cursor.value()
            guard value.count == IndexKeys.suffixLength else { return nil }
            return (IndexKeys.readUInt64(value, at: 0), IndexKeys.readUInt64(value, at: 8))
        }
        let key = try cursor.key()
        guard key.count == prefix.count + IndexKeys.suffixLength, IndexKeys.hasPrefix(key, prefix) else { return nil }
        return (IndexKeys.readUInt64(key, at: prefix.count), IndexKeys.readUInt64(key, at: prefix.count + 8))
    }
}
