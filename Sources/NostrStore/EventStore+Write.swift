import EventStorage
import NostrCore

/// Writes: the writer's thread calls `commit`; the NIP rules are `WriteRules`', applied through
/// `LMDBWriteTransaction`.
extension EventStore {
    /// One LMDB transaction for the whole batch; if it fails, each write is retried alone so that
    /// one bad write cannot fail the others. The commit sequence is the transaction's id.
    public func commit(_ writes: [Write], outcomes: inout [WriteOutcome], sequences: inout [UInt64]) {
        if let tail { return commitLogged(tail, writes, outcomes: &outcomes, sequences: &sequences) }
        let firstSerial = nextSerial
        do {
            let sequence = try lmdbWrite { txn -> UInt64 in
                try refreshWriterState(txn)
                let t = LMDBWriteTransaction(store: self, txn: txn)
                for write in writes { outcomes.append(try WriteRules.apply(write, in: t)) }
                try indexBatch.flush(into: txn, dbs)
                return txn.id
            }
            for _ in writes { sequences.append(sequence) }
        } catch {
            logger.warning("batch commit failed; retrying one by one", metadata: ["error": "\(error)"])
            nextSerial = firstSerial  // nothing of the batch was committed
            outcomes.removeAll(keepingCapacity: true)
            sequences.removeAll(keepingCapacity: true)
            for write in writes {
                let (outcome, sequence) = commitAlone(write)
                outcomes.append(outcome)
                sequences.append(sequence)
            }
        }
    }

    private func commitAlone(_ write: Write) -> (WriteOutcome, UInt64) {
        let firstSerial = nextSerial
        do {
            return try lmdbWrite { txn in
                try refreshWriterState(txn)
                let outcome = try WriteRules.apply(write, in: LMDBWriteTransaction(store: self, txn: txn))
                try indexBatch.flush(into: txn, dbs)
                return (outcome, txn.id)
            }
        } catch let error as LMDBError {
            nextSerial = firstSerial
            let full = error.isOutOfSpace || (error.code == EIO && filesystemIsFull)
            return (.failed(full ? "storage is full" : "storage error: \(error)"), 0)
        } catch {
            nextSerial = firstSerial
            return (.failed("storage error: \(error)"), 0)
        }
    }

    /// Whether the data directory's filesystem has (almost) no room left: LMDB reports a write
    /// cut short by a full disk as EIO, not ENOSPC.
    var filesystemIsFull: Bool {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return false }
        return Int(stats.f_bavail) * Int(stats.f_frsize) < 1 << 20
    }

    /// Another process may have written to the store since this one's last write (`tern import`
    /// beside a running relay; LMDB serializes the writers): the next serial and whether anyone
    /// vanished are read again inside each write transaction, which holds the writer lock.
    func refreshWriterState(_ txn: LMDBTransaction) throws {
        if let last = try txn.lastSerial(dbs.events) { nextSerial = max(nextSerial, last + 1) }
        if !anyVanished { anyVanished = try txn.count(dbs.vanished) > 0 }
    }

    /// NIP-40: removes up to `max` events whose expiration is at or before `now`.
    public func sweepExpired(now: Int64, max: Int) throws -> Int {
        // Expired events of the tail go into LMDB first, to be swept from there.
        if let tail, tail.holdsExpired(now: now), let problem = tail.flush() {
            throw LogError("cannot checkpoint the log: \(problem)", 0)
        }
        return try lmdbWrite { txn in
            var due: [[UInt8]] = []
            try txn.scan(dbs.expiration, from: []) { key, _ in
                guard key.count == 16, due.count < max else { return false }
                guard Int64(bitPattern: IndexKeys.readUInt64(key, at: 0)) <= now else { return false }
                due.append(Array(key))
                return true
            }
            let t = LMDBWriteTransaction(store: self, txn: txn)
            for key in due {
                let serial = key.withUnsafeBytes { IndexKeys.readUInt64($0, at: 8) }
                if let event = try load(txn, serial: serial) {
                    try t.remove(event, serial: serial)
                } else {
                    try txn.delete(dbs.expiration, key)  // its event is gone already
                }
            }
            return due.count
        }
    }
}

extension EventStore {
    public func remove(ids: [Bytes32]) throws -> Int {
        // The tail goes into LMDB first, so that what is removed is all in one place.
        if let problem = tail?.flush() { throw LogError("cannot checkpoint the log: \(problem)", 0) }
        return try lmdbWrite { txn in
            let t = LMDBWriteTransaction(store: self, txn: txn)
            var removed = 0
            for id in ids {
                guard let event = try t.event(id: id) else { continue }
                try t.remove(event)
                removed += 1
            }
            return removed
        }
    }

    /// Settings live in the `meta` table under `setting:` and their key.
    static func settingKey(_ key: String) -> [UInt8] { Array("setting:\(key)".utf8) }

    public func setting(_ key: String) throws -> [UInt8]? {
        try read { txn in try txn.getBytes(dbs.meta, Self.settingKey(key)) }
    }

    public func setSetting(_ key: String, _ value: [UInt8]) throws {
        try lmdbWrite { txn in try txn.put(dbs.meta, Self.settingKey(key), value) }
    }
}

/// The primitives of `StorageTransaction` on LMDB's tables (see `Databases`).
struct LMDBWriteTransaction: StorageTransaction {
    let store: EventStore
    let txn: LMDBTransaction
    var dbs: Databases { store.dbs }

    /// One per write transaction: nothing of an earlier (perhaps aborted) one waits in the
    /// store's index batch.
    init(store: EventStore, txn: LMDBTransaction) {
        self.store = store
        self.txn = txn
        store.indexBatch.reset()
    }

    var reads: LMDBReads { LMDBReads(store: store, txn: txn) }

    func contains(id: Bytes32) throws -> Bool { try reads.contains(id: id) }
    func event(id: Bytes32) throws -> Event? { try reads.event(id: id) }
    func current(_ address: Address) throws -> Event? { try reads.current(address) }

    func insert(_ write: Write) throws {
        let event = write.event
        let serial = store.nextSerial
        store.nextSerial += 1
        var serialKey = serial.bigEndian
        try withUnsafeBytes(of: &serialKey) { key in
            try write.json.withUnsafeBytes { try txn.put(dbs.events, key, $0, append: true) }
            try event.id.withBytes { try txn.put(dbs.ids, $0, key) }
        }
        if case .replace(let address) = write.action {
            try txn.put(dbs.address, IndexKeys.address(address), IndexKeys.id(event.id))
        }
        // Put in key order when the transaction ends (`IndexBatch`).
        let store = store
        IndexKeys.forEachEntry(of: event, serial: serial, in: dbs, scratch: &store.scratch) { dbi, key in
            store.indexBatch.add(dbi, key, serial: serial)
        }
    }

    func remove(_ event: Event) throws {
        guard let serial = try store.serial(txn, id: event.id) else { return }
        try remove(event, serial: serial)
    }

    /// Removes an event and all its index entries.
    func remove(_ event: Event, serial: UInt64) throws {
        let idKey = IndexKeys.id(event.id)
        try txn.delete(dbs.events, IndexKeys.serial(serial))
        try txn.delete(dbs.ids, idKey)
        if store.indexBatch.holds(serial: serial) {
            // Inserted by this transaction: its index entries have not been put yet.
            store.indexBatch.drop(serial: serial)
        } else {
            var scratch: [UInt8] = []
            try IndexKeys.forEachEntry(of: event, serial: serial, in: dbs, scratch: &scratch) { dbi, key in
                try key.withUnsafeBytes { try txn.deleteEntry(dbi, $0, postings: dbs.holdsPostings(dbi)) }
            }
        }
        if event.kindClass == .replaceable || event.kindClass == .addressable {
            let address = IndexKeys.address(Address(of: event))
            if try txn.getBytes(dbs.address, address) == idKey { try txn.delete(dbs.address, address) }
        }
    }

    func isTombstoned(id: Bytes32, by pubkey: Bytes32) throws -> Bool {
        try reads.isTombstoned(id: id, by: pubkey)
    }

    func addTombstone(id: Bytes32, by pubkey: Bytes32) throws {
        try txn.put(dbs.tombstone, IndexKeys.tombstone(id: id, pubkey: pubkey), [])
    }

    func deletedUpTo(_ address: Address) throws -> Int64? { try reads.deletedUpTo(address) }

    func setDeletedUpTo(_ address: Address, _ createdAt: Int64) throws {
        try txn.put(dbs.addressTombstone, IndexKeys.address(address), IndexKeys.serial(UInt64(bitPattern: createdAt)))
    }

    func vanishedUpTo(_ pubkey: Bytes32) throws -> Int64? {
        try reads.vanishedUpTo(pubkey, anyVanished: store.anyVanished)
    }

    func setVanishedUpTo(_ pubkey: Bytes32, _ createdAt: Int64) throws {
        try txn.put(dbs.vanished, IndexKeys.id(pubkey), IndexKeys.serial(UInt64(bitPattern: createdAt)))
        // Set before the commit: if the transaction fails, a lookup too many costs nothing.
        store.anyVanished = true
    }

    func events(by author: Bytes32, upTo: Int64) throws -> [Event] {
        try store.indexBatch.flush(into: txn, dbs)  // the author index must hold this batch's events
        return try reads.events(by: author, upTo: upTo)
    }

    func giftWraps(to pubkey: Bytes32) throws -> [Event] {
        try store.indexBatch.flush(into: txn, dbs)  // the tag index must hold this batch's events
        return try reads.giftWraps(to: pubkey)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
