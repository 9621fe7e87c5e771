import CLMDB

typealias MDBDatabase = MDB_dbi

/// The named LMDB databases of the store and what each maps.
struct Databases: Sendable {
    /// serial → event JSON, as sent to clients. Serials only grow, so inserts append.
    let events: MDBDatabase
    /// id → serial
    let ids: MDBDatabase
    /// inverted created_at + serial → (empty): every event, newest first.
    let created: MDBDatabase
    /// The five tables of postings below (author, kind, author_kind, tag, search) hold each
    /// entry's last 16 bytes (inverted created_at + serial) as one of the sorted fixed-size
    /// values under its prefix (MDB_DUPSORT, MDB_DUPFIXED): an entry costs 16 bytes instead of
    /// a whole key with its node, so the tables are smaller and a checkpoint rewrites fewer
    /// pages. `IndexCursor` walks them; `LMDBTransaction.putEntry` writes them.
    /// pubkey → postings
    let author: MDBDatabase
    /// kind → postings
    let kind: MDBDatabase
    /// pubkey + kind → postings
    let authorKind: MDBDatabase
    /// tag letter + 16-byte value key (IndexKeys.appendValueKey) → postings
    let tag: MDBDatabase
    /// pubkey + kind + hash(d) → id of the current replaceable/addressable version
    let address: MDBDatabase
    /// deleted id + deleter pubkey → (empty): NIP-09 `e` deletions
    let tombstone: MDBDatabase
    /// pubkey + kind + hash(d) → created_at of the newest `a` deletion
    let addressTombstone: MDBDatabase
    /// expiration + serial → (empty): NIP-40 sweep order
    let expiration: MDBDatabase
    /// store metadata (schema version)
    let meta: MDBDatabase
    /// pubkey → created_at of its newest NIP-62 request to vanish
    let vanished: MDBDatabase
    /// NIP-50: 16-byte token key (IndexKeys.appendValueKey of the token) → postings: the words
    /// of each event's content
    let search: MDBDatabase

    static let count: UInt32 = 14

    /// The tables whose entries are postings (see above), by name: the layout of schema 4.
    static let postingTables = ["author", "kind", "author_kind", "tag", "search"]

    /// Whether `dbi` holds postings: an entry's last 16 bytes are a value under the rest.
    @inline(__always)
    func holdsPostings(_ dbi: MDBDatabase) -> Bool {
        dbi == author || dbi == kind || dbi == authorKind || dbi == tag || dbi == search
    }

    /// Every table with its name (`tern stats`).
    var named: [(String, MDBDatabase)] {
        [
            ("events", events), ("ids", ids), ("created", created), ("author", author), ("kind", kind),
            ("author_kind", authorKind), ("tag", tag), ("address", address), ("tombstone", tombstone),
            ("address_tombstone", addressTombstone), ("expiration", expiration), ("meta", meta),
            ("vanished", vanished), ("search", search),
        ]
    }

    init(_ txn: LMDBTransaction) throws {
        events = try txn.open("events", create: true)
        ids = try txn.open("ids", create: true)
        created = try txn.open("created", create: true)
        author = try txn.open("author", create: true, postings: true)
        kind = try txn.open("kind", create: true, postings: true)
        authorKind = try txn.open("author_kind", create: true, postings: true)
        tag = try txn.open("tag", create: true, postings: true)
        address = try txn.open("address", create: true)
        tombstone = try txn.open("tombstone", create: true)
        addressTombstone = try txn.open("address_tombstone", create: true)
        expiration = try txn.open("expiration", create: true)
        meta = try txn.open("meta", create: true)
        vanished = try txn.open("vanished", create: true)
        search = try txn.open("search", create: true, postings: true)
    }
}
