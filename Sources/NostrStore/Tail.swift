import EventStorage
import NostrCore

/// A stored write that is in the event log but not yet in LMDB (a checkpoint puts it there).
/// It keeps the JSON and the head (the fixed-size fields and where the tags are), not the
/// decoded event: filters are checked on those as LMDB's candidates are, and the few reads
/// that need the whole event decode it. Immutable once made.
final class TailEvent: @unchecked Sendable {
    let action: WriteAction
    let json: [UInt8]
    let head: EventHead
    /// NIP-40's expiration, if the event has one.
    let expiration: Int64?
    /// The log record it came in: its commit sequence.
    let sequence: UInt64

    init(_ write: Write, sequence: UInt64) {
        action = write.action
        json = write.json
        let event = write.event
        head =
            json.withUnsafeBufferPointer { EventHead.decode(json: $0) }
            ?? EventHead(
                id: event.id, pubkey: event.pubkey, createdAt: event.createdAt, kind: event.kind, tags: 0..<0)
        expiration = event.expiration
        self.sequence = sequence
    }

    var id: Bytes32 { head.id }

    /// The whole event, decoded from its JSON.
    var event: Event? { Event.decode(json: json) }

    /// The write again, for a checkpoint.
    var write: Write? { event.map { Write(action, $0, json: json) } }
}

/// A NIP-09 `e` deletion: the deleted id and who asked.
struct Tombstone: Hashable {
    let id: Bytes32
    let pubkey: Bytes32
}

/// The writes of one generation of the tail, in commit order, with what the NIP rules need to
/// know of them: which events they stored and removed (removed ids may be LMDB's events or the
/// tail's), the versions they put at addresses, and the deletion and vanish marks they left.
/// A checkpoint applies `events`' writes to LMDB again, in order, by the same rules, which
/// leaves LMDB as the tail describes it. Writer thread only; readers see it through a
/// `TailView` taken under the store's tail lock.
final class TailLayer: @unchecked Sendable {
    private(set) var events: [TailEvent] = []
    private(set) var byID: [Bytes32: TailEvent] = [:]
    private(set) var addresses: [Address: TailEvent] = [:]
    private(set) var removed: Set<Bytes32> = []
    private(set) var tombstones: Set<Tombstone> = []
    private(set) var deletedUpTo: [Address: Int64] = [:]
    private(set) var vanishedUpTo: [Bytes32: Int64] = [:]
    /// The JSON bytes of its events (what the checkpoint thresholds and the tail's cap count).
    private(set) var jsonBytes = 0
    /// The sequence of its last write; an empty layer carries its predecessor's.
    private(set) var lastSequence: UInt64
    /// When its first write came (monotonic nanoseconds; 0 while empty).
    private(set) var startedAt: UInt64 = 0

    init(after sequence: UInt64) { lastSequence = sequence }

    var isEmpty: Bool { events.isEmpty }

    // MARK: one write transaction's changes (`TailTransaction`)

    func insert(_ write: Write, sequence: UInt64) {
        let stored = TailEvent(write, sequence: sequence)
        events.append(stored)
        byID[stored.id] = stored
        if case .replace(let address) = write.action { addresses[address] = stored }
        jsonBytes += write.json.count
        lastSequence = sequence
    }

    func remove(_ id: Bytes32) {
        removed.insert(id)
        if let stored = byID[id], case .replace(let address) = stored.action, addresses[address] === stored {
            addresses[address] = nil
        }
    }

    func addTombstone(_ tombstone: Tombstone) { tombstones.insert(tombstone) }

    func setDeletedUpTo(_ address: Address, _ createdAt: Int64) {
        deletedUpTo[address] = max(createdAt, deletedUpTo[address] ?? .min)
    }

    func setVanishedUpTo(_ pubkey: Bytes32, _ createdAt: Int64) {
        vanishedUpTo[pubkey] = max(createdAt, vanishedUpTo[pubkey] ?? .min)
    }

    /// Takes in a committed batch's changes (`batch` is newer than everything here).
    func absorb(_ batch: TailLayer, now: UInt64) {
        guard !batch.isEmpty else { return }
        if events.isEmpty { startedAt = now }
        for id in batch.removed { remove(id) }
        for stored in batch.events {
            events.append(stored)
            byID[stored.id] = stored
        }
        for (address, stored) in batch.addresses { addresses[address] = stored }
        tombstones.formUnion(batch.tombstones)
        for (address, upTo) in batch.deletedUpTo { setDeletedUpTo(address, upTo) }
        for (pubkey, upTo) in batch.vanishedUpTo { setVanishedUpTo(pubkey, upTo) }
        jsonBytes += batch.jsonBytes
        lastSequence = batch.lastSequence
    }

    /// What a reader sees of it (copy-on-write: taking it copies nothing; the writer's next
    /// change copies the arrays it changes if a reader still holds them).
    var view: TailView { TailView(events: events, removed: removed, lastSequence: lastSequence) }
}

/// A reader's picture of one tail layer, taken under the store's tail lock.
struct TailView: Sendable {
    let events: [TailEvent]
    /// Ids whose events (in LMDB or in the tail) this layer removed.
    let removed: Set<Bytes32>
    let lastSequence: UInt64
}

/// The tail as one query sees it: the layers not yet wholly in its LMDB snapshot, newest first,
/// and the last log record the snapshot holds (a checkpoint in progress may have put the first
/// part of a layer in LMDB already: those events are left out here).
struct TailSnapshot: Sendable {
    let layers: [TailView]
    let checkpointed: UInt64

    /// Whether a write of the tail removed the event with this id.
    func isRemoved(_ id: Bytes32) -> Bool {
        for layer in layers where layer.removed.contains(id) { return true }
        return false
    }

    var isEmpty: Bool { layers.allSatisfy { $0.events.isEmpty && $0.removed.isEmpty } }

    /// The tail's events still stored, oldest layer first.
    func forEachStored(_ body: (TailEvent) throws -> Void) rethrows {
        for layer in layers.reversed() {
            for stored in layer.events where stored.sequence > checkpointed && !isRemoved(stored.id) {
                try body(stored)
            }
        }
    }
}
