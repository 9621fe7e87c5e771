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
    /// pubkey + inverted created_at + serial
    let author: MDBDatabase
    /// kind + inverted created_at + serial
    let kind: MDBDatabase
    /// pubkey + kind + inverted created_at + serial
    let authorKind: MDBDatabase
    /// tag letter + 16-byte value key (IndexKeys.appendValueKey) + inverted created_at + serial
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
    /// NIP-50: 16-byte token key (IndexKeys.appendValueKey of the token) + inverted created_at +
    /// serial → (empty): the words of each event's content
    let search: MDBDatabase

    static let count: UInt32 = 14

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
        author = try txn.open("author", create: true)
        kind = try txn.open("kind", create: true)
        authorKind = try txn.open("author_kind", create: true)
        tag = try txn.open("tag", create: true)
        address = try txn.open("address", create: true)
        tombstone = try txn.open("tombstone", create: true)
        addressTombstone = try txn.open("address_tombstone", create: true)
        expiration = try txn.open("expiration", create: true)
        meta = try txn.open("meta", create: true)
        vanished = try txn.open("vanished", create: true)
        search = try txn.open("search", create: true)
    }
}
