import CLMDB
import EventStorage
import Logging
import NIOConcurrencyHelpers
import NostrCore

/// The embedded event store on LMDB, one backend of `EventStorage`. Reads run in read-only
/// transactions on the caller's thread (the relay's readers); writes come from the
/// `EventWriter`'s thread through `commit`: with `StoreOptions.log`, into the event log and the
/// in-memory tail, and into LMDB at checkpoints (`EventStore+Log`); without, in one synced
/// write transaction per batch.
public final class EventStore: EventStorage, @unchecked Sendable {
    let env: LMDBEnvironment
    let dbs: Databases
    public let options: StoreOptions
    /// The data directory.
    public let path: String
    let logger: Logger
    /// The serial the next stored event gets. Writer thread only (set once at open).
    var nextSerial: UInt64 = 1
    /// Key-building buffer. Writer thread only.
    var scratch: [UInt8] = []
    /// The secondary index entries of the current write transaction's new events, put in key
    /// order at its end. Writer thread only.
    var indexBatch = IndexBatch()
    /// Whether any request to vanish is recorded: while none is, no write looks one up. Writer
    /// thread only (set at open).
    var anyVanished = false
    /// The event log and its tail, when writes go through the log.
    private(set) var tail: LogTail?
    /// Held around every LMDB write transaction: the state above (`nextSerial`, `scratch`,
    /// `indexBatch`, `anyVanished`) belongs to whoever holds it (the writer, or the checkpoint
    /// thread with the log).
    let writeLock = NIOLock()
    /// The layout version this code reads and writes.
    static let schemaVersion: UInt64 = 4

    /// Opens (creating if needed) the store in directory `path`.
    public init(path: String, options: StoreOptions = StoreOptions(), logger: Logger) throws {
        self.options = options
        self.path = path
        self.logger = logger
        try Self.makeDirectory(path)
        env = try LMDBEnvironment(
            path: path, mapSize: options.mapSize, maxDatabases: Databases.count, maxReaders: options.maxReaders)
        do {
            (dbs, nextSerial, anyVanished) = try env.write { txn in
                try Self.upgradeLayout(txn, logger)
                let dbs = try Databases(txn)
                try Self.checkSchema(txn, dbs)
                var nextSerial: UInt64 = 1
                if let last = try txn.lastKey(dbs.events), last.count == 8 {
                    nextSerial = last.withUnsafeBytes { IndexKeys.readUInt64($0, at: 0) } + 1
                }
                return (dbs, nextSerial, try txn.count(dbs.vanished) > 0)
            }
        } catch {
            env.close()
            throw error
        }
        scratch.reserveCapacity(256)
        do {
            try reindexPostingsIfNeeded()
            try indexForSearchIfNeeded()
            if let log = options.log { tail = try openLog(log) }
        } catch {
            env.close()
            throw error
        }
    }

    /// Runs `body` in one LMDB write transaction, holding `writeLock`.
    func lmdbWrite<R>(_ body: (LMDBTransaction) throws -> R) throws -> R {
        try writeLock.withLock { try env.write(body) }
    }

    /// A store written before the search index (NIP-50) gets it once, at open, in batches of
    /// 10,000 events; a meta key records that it is complete.
    private func indexForSearchIfNeeded() throws {
        let key = Array("search_indexed".utf8)
        guard try read({ try $0.getBytes(dbs.meta, key) }) == nil else { return }
        let indexed = try indexStoredEvents(from: 1) { txn, event, serial, scratch in
            try IndexKeys.forEachSearchEntry(of: event, serial: serial, in: dbs, scratch: &scratch) { dbi, k in
                try k.withUnsafeBytes { try txn.putEntry(dbi, $0, postings: true) }
            }
        } after: { txn, last in
            if last == nil { try txn.put(dbs.meta, key, [1]) }
        }
        if indexed > 0 { logger.info("indexed stored events for search (NIP-50)", metadata: ["events": "\(indexed)"]) }
    }

    /// Calls `index` for every stored event from serial `from` on, 10,000 events a write
    /// transaction; `after` ends each transaction with the last serial it held (nil for the
    /// last, empty one). Returns how many events were indexed.
    private func indexStoredEvents(
        from first: UInt64, _ index: (LMDBTransaction, Event, UInt64, inout [UInt8]) throws -> Void,
        after: (LMDBTransaction, UInt64?) throws -> Void
    ) throws -> Int {
        var next = first
        var indexed = 0
        while true {
            let (batch, last) = try read { txn -> ([(UInt64, Event)], UInt64?) in
                var batch: [(UInt64, Event)] = []
                var last: UInt64?
                try txn.scan(dbs.events, from: IndexKeys.serial(next)) { k, v in
                    guard k.count == 8 else { return false }
                    let serial = IndexKeys.readUInt64(k, at: 0)
                    last = serial
                    if let event = Event.decode(json: v.bindMemory(to: UInt8.self)) { batch.append((serial, event)) }
                    return batch.count < 10_000
                }
                return (batch, last)
            }
            try env.write { txn in
                var scratch: [UInt8] = []
                for (serial, event) in batch { try index(txn, event, serial, &scratch) }
                try after(txn, last)
            }
            indexed += batch.count
            guard let last else { return indexed }
            next = last + 1
        }
    }

    /// The meta key of the store's layout version.
    static let schemaKey = Array("schema".utf8)

    /// The meta key of the next serial whose postings must be put again (`reindexPostingsIfNeeded`).
    static let reindexKey = Array("postings_reindex".utf8)

    /// Schema 3 kept each entry of the five posting tables (`Databases.postingTables`) as a
    /// whole key; schema 4 keeps its last 16 bytes as a value under the rest. A store of schema
    /// 3 drops those tables, in one transaction that also records schema 4 and that they must be
    /// filled again from the events (`reindexPostingsIfNeeded`, right after). Runs in the
    /// opening transaction, before `Databases` opens the tables with their new flags.
    private static func upgradeLayout(_ txn: LMDBTransaction, _ logger: Logger) throws {
        let meta = try txn.open("meta", create: true)
        guard let stored = try txn.getBytes(meta, schemaKey), stored.count == 8,
            stored.withUnsafeBytes({ IndexKeys.readUInt64($0, at: 0) }) == 3
        else { return }
        for name in Databases.postingTables {
            if let dbi = try txn.openExisting(name) { try txn.drop(dbi) }
        }
        try txn.put(meta, schemaKey, IndexKeys.serial(schemaVersion))
        try txn.put(meta, reindexKey, IndexKeys.serial(1))
        logger.info("store layout 3 upgraded to 4: the author, kind, tag and search indexes are built again")
    }

    /// Fills the posting tables from the stored events after `upgradeLayout`, 10,000 events a
    /// transaction; the meta key says where to go on after a crash, and goes once all are in.
    private func reindexPostingsIfNeeded() throws {
        guard
            let next = try read({ try $0.getBytes(dbs.meta, Self.reindexKey) }).map({
                IndexKeys.readUInt64($0.withUnsafeBytes { $0 }, at: 0)
            })
        else { return }
        let indexed = try indexStoredEvents(from: next) { txn, event, serial, scratch in
            try IndexKeys.forEachEntry(of: event, serial: serial, in: dbs, scratch: &scratch) { dbi, k in
                guard dbs.holdsPostings(dbi) else { return }
                try k.withUnsafeBytes { try txn.putEntry(dbi, $0, postings: true) }
            }
        } after: { txn, last in
            if let last {
                try txn.put(dbs.meta, Self.reindexKey, IndexKeys.serial(last + 1))
            } else {
                try txn.delete(dbs.meta, Self.reindexKey)
            }
        }
        logger.info("indexes built again for the new layout", metadata: ["events": "\(indexed)"])
    }

    /// A new store gets the current schema version; a store of another layout is refused.
    private static func checkSchema(_ txn: LMDBTransaction, _ dbs: Databases) throws {
        if let stored = try txn.getBytes(dbs.meta, schemaKey), stored.count == 8 {
            let version = stored.withUnsafeBytes { IndexKeys.readUInt64($0, at: 0) }
            guard version == schemaVersion else {
                throw StoreError.schemaMismatch(found: version, expected: schemaVersion)
            }
            return
        }
        guard try txn.count(dbs.events) == 0 else { throw StoreError.schemaMismatch(found: 1, expected: schemaVersion) }
        try txn.put(dbs.meta, schemaKey, IndexKeys.serial(schemaVersion))
    }

    private static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw StoreError.cannotCreateDirectory(path, errno)
        }
    }

    /// Puts the tail into LMDB (a clean stop leaves nothing to replay), then closes.
    public func close() {
        if let tail {
            if !tail.crashed, let problem = tail.flush() {
                logger.error("the last checkpoint failed; the log keeps its writes", metadata: ["error": "\(problem)"])
            }
            tail.stop()
            self.tail = nil
        }
        env.close()
    }

    /// The writer's pause: a tail old enough goes to the checkpoint thread.
    /// Four times a second it also looks for a tool's request for a checkpoint
    /// (`catchUpWithLog`).
    public func maintain() {
        guard let tail else { return }
        let now = Self.monotonicNanoseconds()
        tail.maintain(now: now)
        if tail.dueToLookForRequests(now: now), checkpointRequested(after: tail.checkpointedSoFar) {
            if tail.isEmpty {
                // Nothing to put into LMDB (records past the checkpoint that changed nothing when
                // replayed): LMDB holds the log up to its end as it is.
                let last = tail.log.next - 1
                if (try? lmdbWrite({ txn in try txn.put(dbs.meta, Self.checkpointKey, IndexKeys.serial(last)) })) != nil
                {
                    tail.checkpointed(through: last)
                }
            } else {
                tail.freezeIfIdle()
            }
        }
    }

    /// Runs `body` inside a read transaction.
    func read<R>(_ body: (LMDBTransaction) throws -> R) throws -> R {
        let txn = try env.begin(readOnly: true)
        defer { txn.abort() }
        return try body(txn)
    }

    /// LMDB's events, and the tail's stored and removed ones.
    public var count: Int {
        let views = tail?.views() ?? []
        return
            (try? read { txn in
                let stored = try txn.count(dbs.events)
                guard !views.isEmpty else { return stored }
                let (snapshot, _) = try tailSnapshot(views, txn)
                // Each removal removed one stored event (LMDB's or the tail's).
                return snapshot.layers.reduce(stored) { n, layer in
                    n + layer.events.lazy.filter { $0.sequence > snapshot.checkpointed }.count - layer.removed.count
                }
            }) ?? 0
    }

    /// The pages in use, in bytes.
    public var storedBytes: Int {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        guard mdb_env_info(env.handle, &info) == 0, mdb_env_stat(env.handle, &stat) == 0 else { return 0 }
        return (info.me_last_pgno + 1) * Int(stat.ms_psize) + (tail?.heldBytes ?? 0)
    }

    /// A read transaction opens and the events table answers.
    public func checkHealth() -> Bool {
        (try? read { txn in _ = try txn.count(dbs.events) }) != nil
    }

    /// The event with `id`, if stored.
    public func event(id: Bytes32) throws -> StoredEvent? {
        let views = tail?.views() ?? []
        return try read { txn in
            if !views.isEmpty {
                let (snapshot, _) = try tailSnapshot(views, txn)
                if snapshot.isRemoved(id) { return nil }
                var found: StoredEvent?
                snapshot.forEachStored {
                    if $0.id == id { found = StoredEvent(id: id, createdAt: $0.head.createdAt, json: $0.json) }
                }
                if let found { return found }
            }
            guard let serial = try serial(txn, id: id) else { return nil }
            return try withJSON(txn, serial: serial) { bytes in
                Event.decode(json: bytes).map { StoredEvent(event: $0, json: Array(bytes)) }
            }
        }
    }

    func serial(_ txn: LMDBTransaction, id: Bytes32) throws -> UInt64? {
        try id.withBytes { k in
            try txn.get(dbs.ids, k) { v in v.count == 8 ? IndexKeys.readUInt64(v, at: 0) : nil } ?? nil
        }
    }

    /// The decoded event stored under `serial`.
    func load(_ txn: LMDBTransaction, serial: UInt64) throws -> Event? {
        try withJSON(txn, serial: serial) { Event.decode(json: $0) }
    }

    /// Calls `body` with the stored JSON of the event under `serial` (valid during the call only).
    func withJSON<R>(
        _ txn: LMDBTransaction, serial: UInt64, _ body: (UnsafeBufferPointer<UInt8>) -> R?
    ) throws -> R? {
        var key = serial.bigEndian
        return try withUnsafeBytes(of: &key) { k in
            try txn.get(dbs.events, k) { v in body(v.bindMemory(to: UInt8.self)) } ?? nil
        }
    }
}

public enum StoreError: Error, CustomStringConvertible {
    case cannotCreateDirectory(String, Int32)
    case schemaMismatch(found: UInt64, expected: UInt64)

    public var description: String {
        switch self {
        case .cannotCreateDirectory(let path, let code):
            "cannot create data directory \(path): \(String(cString: strerror(code)))"
        case .schemaMismatch(let found, let expected):
            "the store has layout version \(found); this tern reads version \(expected) (start with an empty data directory)"
        }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
