import NostrCore

/// The primitive reads and writes of one write transaction of a backend. `WriteRules` states
/// the NIP rules once in terms of these, so every backend keeps the same semantics; a backend
/// implements only how each primitive is stored.
public protocol StorageTransaction {
    /// Whether an event with this id is stored.
    func contains(id: Bytes32) throws -> Bool
    /// The stored event with this id.
    func event(id: Bytes32) throws -> Event?
    /// The version stored at a replaceable or addressable address.
    func current(_ address: Address) throws -> Event?
    /// Stores the event and its index entries; for `.replace`, it becomes its address's version.
    func insert(_ write: Write) throws
    /// Removes a stored event, its index entries and its address entry.
    func remove(_ event: Event) throws

    /// NIP-09 `e` deletions: a deleted id, with the pubkey that asked.
    func isTombstoned(id: Bytes32, by pubkey: Bytes32) throws -> Bool
    func addTombstone(id: Bytes32, by pubkey: Bytes32) throws
    /// NIP-09 `a` deletions: versions up to this `created_at` are deleted and refused.
    func deletedUpTo(_ address: Address) throws -> Int64?
    func setDeletedUpTo(_ address: Address, _ createdAt: Int64) throws
    /// NIP-62: the author's events up to this `created_at` are deleted and refused.
    func vanishedUpTo(_ pubkey: Bytes32) throws -> Int64?
    func setVanishedUpTo(_ pubkey: Bytes32, _ createdAt: Int64) throws
    /// The author's stored events with `created_at` at or before `upTo`.
    func events(by author: Bytes32, upTo: Int64) throws -> [Event]
    /// Stored gift wraps (NIP-59, kind 1059) whose `p` tag names `pubkey`.
    func giftWraps(to pubkey: Bytes32) throws -> [Event]
}
