import EventStorage
import NostrCore

/// The primitives of `StorageTransaction` over the tail and LMDB, for one batch of the writer:
/// reads look in the batch, then the tail's layers (newest first), then LMDB's snapshot, and
/// leave out what a newer write removed; changes go into `batch` only, which the store takes
/// into the tail once the batch's log record is durable.
struct TailTransaction: StorageTransaction {
    let lmdb: LMDBReads
    /// The batch's own changes first, then the tail's layers, newest first.
    let layers: [TailLayer]
    let batch: TailLayer
    let sequence: UInt64
    let anyVanished: Bool

    init(lmdb: LMDBReads, tail: [TailLayer], batch: TailLayer, sequence: UInt64) throws {
        self.lmdb = lmdb
        layers = [batch] + tail
        self.batch = batch
        self.sequence = sequence
        anyVanished =
            try lmdb.txn.count(lmdb.dbs.vanished) > 0 || tail.contains { !$0.vanishedUpTo.isEmpty }
    }

    private func isRemoved(_ id: Bytes32) -> Bool {
        for layer in layers where layer.removed.contains(id) { return true }
        return false
    }

    private func tailEvent(_ id: Bytes32) -> TailEvent? {
        for layer in layers { if let stored = layer.byID[id] { return stored } }
        return nil
    }

    func contains(id: Bytes32) throws -> Bool {
        guard !isRemoved(id) else { return false }
        return try tailEvent(id) != nil || lmdb.contains(id: id)
    }

    func event(id: Bytes32) throws -> Event? {
        guard !isRemoved(id) else { return nil }
        if let stored = tailEvent(id) { return try Self.decoded(stored) }
        return try lmdb.event(id: id)
    }

    func current(_ address: Address) throws -> Event? {
        for layer in layers {
            if let stored = layer.addresses[address], !isRemoved(stored.id) { return try Self.decoded(stored) }
        }
        guard let event = try lmdb.current(address), !isRemoved(event.id) else { return nil }
        return event
    }

    func insert(_ write: Write) throws { batch.insert(write, sequence: sequence) }

    func remove(_ event: Event) throws { batch.remove(event.id) }

    func isTombstoned(id: Bytes32, by pubkey: Bytes32) throws -> Bool {
        let tombstone = Tombstone(id: id, pubkey: pubkey)
        for layer in layers where layer.tombstones.contains(tombstone) { return true }
        return try lmdb.isTombstoned(id: id, by: pubkey)
    }

    func addTombstone(id: Bytes32, by pubkey: Bytes32) throws {
        batch.addTombstone(Tombstone(id: id, pubkey: pubkey))
    }

    func deletedUpTo(_ address: Address) throws -> Int64? {
        var upTo = try lmdb.deletedUpTo(address)
        for layer in layers { if let t = layer.deletedUpTo[address] { upTo = max(t, upTo ?? t) } }
        return upTo
    }

    func setDeletedUpTo(_ address: Address, _ createdAt: Int64) throws { batch.setDeletedUpTo(address, createdAt) }

    func vanishedUpTo(_ pubkey: Bytes32) throws -> Int64? {
        guard anyVanished || !batch.vanishedUpTo.isEmpty else { return nil }
        var upTo = try lmdb.vanishedUpTo(pubkey, anyVanished: true)
        for layer in layers { if let t = layer.vanishedUpTo[pubkey] { upTo = max(t, upTo ?? t) } }
        return upTo
    }

    func setVanishedUpTo(_ pubkey: Bytes32, _ createdAt: Int64) throws { batch.setVanishedUpTo(pubkey, createdAt) }

    func events(by author: Bytes32, upTo: Int64) throws -> [Event] {
        try stored(lmdb: lmdb.events(by: author, upTo: upTo)) { head, _ in
            head.pubkey == author && head.createdAt <= upTo
        }
    }

    func giftWraps(to pubkey: Bytes32) throws -> [Event] {
        try stored(lmdb: lmdb.giftWraps(to: pubkey)) { head, event in
            guard head.kind == Kinds.giftWrap else { return false }
            return try event().isGiftWrap(to: pubkey)
        }
    }

    /// LMDB's events and the tail's that pass `test` (given the head, and the event decoded when
    /// it asks), leaving out those removed.
    private func stored(lmdb events: [Event], _ test: (EventHead, () throws -> Event) throws -> Bool) throws
        -> [Event]
    {
        var found = events.filter { !isRemoved($0.id) }
        for layer in layers.reversed() {
            for stored in layer.events where !isRemoved(stored.id) {
                var decoded: Event?
                let event = {
                    if decoded == nil { decoded = try Self.decoded(stored) }
                    return decoded!
                }
                if try test(stored.head, event) { found.append(try event()) }
            }
        }
        return found
    }

    static func decodedWrite(_ stored: TailEvent) throws -> Write {
        Write(stored.action, try decoded(stored), json: stored.json)
    }

    /// A tail event decoded (its JSON is what the relay checked and logged, so it decodes).
    static func decoded(_ stored: TailEvent) throws -> Event {
        guard let event = stored.event else { throw LogError("a logged event does not decode", 0) }
        return event
    }
}
