import EventStorage
import NostrCore

/// The reads the NIP rules make of LMDB's tables, in any transaction: the writer's own
/// (`LMDBWriteTransaction`) or a read-only one under the tail (`TailTransaction`).
struct LMDBReads {
    let store: EventStore
    let txn: LMDBTransaction
    var dbs: Databases { store.dbs }

    func contains(id: Bytes32) throws -> Bool { try txn.contains(dbs.ids, id) }

    func event(id: Bytes32) throws -> Event? {
        guard let serial = try store.serial(txn, id: id) else { return nil }
        return try store.load(txn, serial: serial)
    }

    func current(_ address: Address) throws -> Event? {
        guard let id = try txn.getBytes(dbs.address, IndexKeys.address(address)).flatMap(Bytes32.init) else {
            return nil
        }
        return try event(id: id)
    }

    func isTombstoned(id: Bytes32, by pubkey: Bytes32) throws -> Bool {
        // Asked for every write: the key is built on the stack, not allocated.
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 8) { words in
            (words[0], words[1], words[2], words[3]) = (
                id.w0.bigEndian, id.w1.bigEndian, id.w2.bigEndian, id.w3.bigEndian
            )
            (words[4], words[5], words[6], words[7]) = (
                pubkey.w0.bigEndian, pubkey.w1.bigEndian, pubkey.w2.bigEndian, pubkey.w3.bigEndian
            )
            return try txn.get(dbs.tombstone, UnsafeRawBufferPointer(words)) { _ in true } ?? false
        }
    }

    func deletedUpTo(_ address: Address) throws -> Int64? {
        try timestamp(dbs.addressTombstone, IndexKeys.address(address))
    }

    /// Skipped while no request to vanish is recorded (`anyVanished`), else looked up by the
    /// pubkey's bytes, nothing allocated.
    func vanishedUpTo(_ pubkey: Bytes32, anyVanished: Bool) throws -> Int64? {
        guard anyVanished else { return nil }
        return try pubkey.withBytes { k in
            try txn.get(dbs.vanished, k) { v in
                v.count == 8 ? Int64(bitPattern: IndexKeys.readUInt64(v, at: 0)) : nil
            } ?? nil
        }
    }

    private func timestamp(_ dbi: MDBDatabase, _ key: [UInt8]) throws -> Int64? {
        try key.withUnsafeBytes { k in
            try txn.get(dbi, k) { v in v.count == 8 ? Int64(bitPattern: IndexKeys.readUInt64(v, at: 0)) : nil } ?? nil
        }
    }

    /// The author's events with `created_at` at or before `upTo` (the index as the transaction
    /// holds it).
    func events(by author: Bytes32, upTo: Int64) throws -> [Event] {
        try events(in: dbs.author, prefix: IndexKeys.authorPrefix(author), from: IndexKeys.inverted(upTo))
    }

    /// Gift wraps (kind 1059) whose `p` tag names `pubkey`.
    func giftWraps(to pubkey: Bytes32) throws -> [Event] {
        let prefix = IndexKeys.tagPrefix(UInt8(ascii: "p"), pubkey.hex)
        return try events(in: dbs.tag, prefix: prefix, from: nil).filter { $0.isGiftWrap(to: pubkey) }
    }

    /// The events under `prefix` in the index `dbi`, from the inverted created_at `from` on.
    private func events(in dbi: MDBDatabase, prefix: [UInt8], from inverted: UInt64?) throws -> [Event] {
        var serials: [UInt64] = []
        try IndexCursor.forEach(txn, dbi, of: dbs, prefix: prefix, from: inverted) { _, serial in
            serials.append(serial)
            return true
        }
        return try serials.compactMap { try store.load(txn, serial: $0) }
    }
}

extension Event {
    /// A NIP-59 gift wrap whose `p` tag names `pubkey` (NIP-62 removes them with their addressee).
    func isGiftWrap(to pubkey: Bytes32) -> Bool {
        let value = pubkey.hex
        return kind == Kinds.giftWrap
            && tags.contains { $0.count >= 2 && $0.singleLetterName == UInt8(ascii: "p") && $0[1] == value }
    }
}
