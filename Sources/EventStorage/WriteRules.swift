import NostrCore

/// The NIP rules of storing an event, stated once for every backend: duplicates (NIP-01),
/// replaceable and addressable versions (NIP-01), deletion requests (NIP-09) and requests to
/// vanish (NIP-62). Expiration (NIP-40) is checked by queries and the writer's sweep.
public enum WriteRules {
    /// Applies `write` inside `txn` and says what happened. Throws only for storage errors.
    public static func apply<T: StorageTransaction>(_ write: Write, in txn: T) throws -> WriteOutcome {
        let event = write.event
        if try txn.contains(id: event.id) { return .duplicate }
        if try txn.isTombstoned(id: event.id, by: event.pubkey) { return .deleted }
        if let vanished = try txn.vanishedUpTo(event.pubkey), event.createdAt <= vanished { return .deleted }
        switch write.action {
        case .insert:
            break
        case .replace(let address):
            if let deletedUpTo = try txn.deletedUpTo(address), event.createdAt <= deletedUpTo { return .deleted }
            if let current = try txn.current(address) {
                // The newer created_at wins; on a tie, the lower id (NIP-01).
                let newer =
                    event.createdAt > current.createdAt
                    || (event.createdAt == current.createdAt && event.id < current.id)
                guard newer else { return .obsolete }
                try txn.remove(current)
                try txn.insert(write)
                return .replaced
            }
        case .delete:
            try applyDeletion(event, in: txn)
        case .vanish:
            try applyVanish(event, in: txn)
        }
        try txn.insert(write)
        return .saved
    }

    /// NIP-09: `e` tags delete the deleter's own events (not deletion requests or requests to
    /// vanish) and leave a tombstone, so they cannot come back; `a` tags delete the deleter's
    /// versions at that address up to the request's `created_at`, and refuse them later.
    static func applyDeletion<T: StorageTransaction>(_ deletion: Event, in txn: T) throws {
        for tag in deletion.tags where tag.count >= 2 {
            if tag.singleLetterName == UInt8(ascii: "e"), let target = tag.withField(1, { Bytes32(hex: $0) }) {
                if let stored = try txn.event(id: target), stored.pubkey == deletion.pubkey,
                    stored.kind != Kinds.deletion, stored.kind != Kinds.vanish
                {
                    try txn.remove(stored)
                }
                try txn.addTombstone(id: target, by: deletion.pubkey)
            } else if tag.singleLetterName == UInt8(ascii: "a"), let address = Address(tagValue: tag[1]),
                address.pubkey == deletion.pubkey
            {
                let upTo = max(deletion.createdAt, try txn.deletedUpTo(address) ?? Int64.min)
                try txn.setDeletedUpTo(address, upTo)
                if let current = try txn.current(address), current.createdAt <= deletion.createdAt {
                    try txn.remove(current)
                }
            }
        }
    }

    /// NIP-62: every event of the author up to the request's `created_at` goes, deletion requests
    /// included, and so do gift wraps addressed to the author; older events of the author are
    /// refused from now on.
    static func applyVanish<T: StorageTransaction>(_ request: Event, in txn: T) throws {
        for event in try txn.events(by: request.pubkey, upTo: request.createdAt) {
            try txn.remove(event)
        }
        for wrap in try txn.giftWraps(to: request.pubkey) {
            try txn.remove(wrap)
        }
        let upTo = max(request.createdAt, try txn.vanishedUpTo(request.pubkey) ?? Int64.min)
        try txn.setVanishedUpTo(request.pubkey, upTo)
    }
}
