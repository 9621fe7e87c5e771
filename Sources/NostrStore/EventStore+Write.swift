import NostrCore

/// Write operations. Only `EventWriter` calls these, inside its one write transaction.
extension EventStore {
    func insert(_ txn: LMDBTransaction, _ event: Event, json: [UInt8], scratch: inout [UInt8]) throws -> WriteOutcome {
        if try txn.contains(dbs.ids, event.id) { return .duplicate }
        scratch.removeAll(keepingCapacity: true)
        IndexKeys.append(event.id, to: &scratch)
        IndexKeys.append(event.pubkey, to: &scratch)
        if try txn.contains(dbs.tombstone, scratch) { return .deleted }

        switch event.kindClass {
        case .replaceable, .addressable:
            let address = IndexKeys.address(of: event)
            if let deletedUpTo = try txn.getBytes(dbs.addressTombstone, address),
                Int64(bitPattern: deletedUpTo.withUnsafeBytes { IndexKeys.readUInt64($0, at: 0) }) >= event.createdAt
            {
                return .deleted
            }
            if let currentID = try txn.getBytes(dbs.address, address).flatMap(Bytes32.init),
                let current = try load(txn, id: currentID)
            {
                let newer =
                    event.createdAt > current.createdAt
                    || (event.createdAt == current.createdAt && event.id < current.id)
                guard newer else { return .obsolete }
                try remove(txn, current)
            }
            try txn.put(dbs.address, address, IndexKeys.id(event.id))
        case .regular, .ephemeral:
            break
        }

        if event.kind == Kinds.deletion { try applyDeletion(txn, event) }

        let serial = nextSerial
        nextSerial += 1
        var serialKey = serial.bigEndian
        try withUnsafeBytes(of: &serialKey) { key in
            try json.withUnsafeBytes { try txn.put(dbs.events, key, $0, append: true) }
            try event.id.withBytes { try txn.put(dbs.ids, $0, key) }
        }
        try IndexKeys.forEachEntry(of: event, serial: serial, in: dbs, scratch: &scratch) { dbi, key in
            try key.withUnsafeBytes { try txn.put(dbi, $0, UnsafeRawBufferPointer(start: nil, count: 0)) }
        }
        return .saved
    }

    /// NIP-09: `e` tags delete the deleter's own events and leave a tombstone so that they cannot
    /// come back; `a` tags delete every version up to the request's created_at.
    func applyDeletion(_ txn: LMDBTransaction, _ deletion: Event) throws {
        for tag in deletion.tags where tag.count >= 2 {
            if tag.singleLetterName == UInt8(ascii: "e"), let target = tag.withField(1, { Bytes32(hex: $0) }) {
                if let stored = try load(txn, id: target), stored.loaded.pubkey == deletion.pubkey,
                    stored.loaded.kind != Kinds.deletion
                {
                    try remove(txn, stored)
                }
                try txn.put(dbs.tombstone, IndexKeys.tombstone(id: target, pubkey: deletion.pubkey), [])
            } else if tag.singleLetterName == UInt8(ascii: "a"), let (kind, pubkey, d) = Self.parseAddress(tag[1]),
                pubkey == deletion.pubkey
            {
                let kindClass = KindClass(kind: kind)
                guard kindClass == .replaceable || kindClass == .addressable else { continue }
                let address = IndexKeys.address(pubkey: pubkey, kind: kind, d: kindClass == .addressable ? d : "")
                var upTo = deletion.createdAt
                if let previous = try txn.getBytes(dbs.addressTombstone, address) {
                    upTo = max(upTo, Int64(bitPattern: previous.withUnsafeBytes { IndexKeys.readUInt64($0, at: 0) }))
                }
                var value: [UInt8] = []
                IndexKeys.append(UInt64(bitPattern: upTo), to: &value)
                try txn.put(dbs.addressTombstone, address, value)
                if let currentID = try txn.getBytes(dbs.address, address).flatMap(Bytes32.init),
                    let current = try load(txn, id: currentID), current.createdAt <= deletion.createdAt
                {
                    try remove(txn, current)
                }
            }
        }
    }

    /// `<kind>:<pubkey hex>:<d>` from an `a` tag.
    static func parseAddress(_ value: String) -> (UInt16, Bytes32, String)? {
        let parts = value.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let kind = UInt16(parts[0]), let pubkey = Bytes32(hex: String(parts[1])) else {
            return nil
        }
        return (kind, pubkey, String(parts[2]))
    }

    /// Removes an event and all its index entries.
    func remove(_ txn: LMDBTransaction, _ stored: StoredEvent) throws {
        let event = stored.loaded
        let idKey = IndexKeys.id(event.id)
        try txn.delete(dbs.events, IndexKeys.serial(stored.serial))
        try txn.delete(dbs.ids, idKey)
        var scratch: [UInt8] = []
        try IndexKeys.forEachEntry(of: event, serial: stored.serial, in: dbs, scratch: &scratch) { dbi, key in
            try txn.delete(dbi, key)
        }
        if event.kindClass == .replaceable || event.kindClass == .addressable {
            let address = IndexKeys.address(of: event)
            if try txn.getBytes(dbs.address, address) == idKey { try txn.delete(dbs.address, address) }
        }
    }

    /// NIP-40: removes up to `max` events whose expiration is at or before `now`.
    func sweepExpired(_ txn: LMDBTransaction, now: Int64, max: Int) throws -> Int {
        var due: [[UInt8]] = []
        try txn.scan(dbs.expiration, from: []) { key, _ in
            guard key.count == 16, due.count < max else { return false }
            guard Int64(bitPattern: IndexKeys.readUInt64(key, at: 0)) <= now else { return false }
            due.append(Array(key))
            return true
        }
        for key in due {
            let serial = key.withUnsafeBytes { IndexKeys.readUInt64($0, at: 8) }
            if let stored = try load(txn, serial: serial) {
                try remove(txn, stored)
            } else {
                try txn.delete(dbs.expiration, key)  // its event is gone already
            }
        }
        return due.count
    }
}
