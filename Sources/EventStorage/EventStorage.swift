import NostrCore

/// What the relay needs of a store, whatever holds the events (LMDB embedded, or a database
/// server). Writes go through one `EventWriter`, which calls `commit` on its own thread; reads
/// may run on any thread but never on an event loop (the relay runs them on its readers).
public protocol EventStorage: AnyObject, Sendable {
    /// Applies `writes` in order, by `WriteRules`, and commits them durably, in one transaction
    /// where it can. Appends one outcome per write to `outcomes`, and returns the commit
    /// sequence of each write in `sequences` (a write that failed gets 0). A failure of one write
    /// must not fail the others. Writer thread only.
    func commit(_ writes: [Write], outcomes: inout [WriteOutcome], sequences: inout [UInt64])

    /// Housekeeping between batches and when idle (at least once a second): a store that holds
    /// writes before moving them elsewhere (LMDB's log tail) starts that move when due. Writer
    /// thread only.
    func maintain()

    /// Removes up to `max` events whose NIP-40 expiration is at or before `now`; returns how
    /// many. Writer thread only.
    func sweepExpired(now: Int64, max: Int) throws -> Int

    /// A query of the union of `filters` (each with its own limit, `defaultLimit` when it has
    /// none), answered newest first, ties by lowest id, expired events left out, within the
    /// scan budget, and only events `scope` admits (a filter's limit counts those alone). It runs
    /// in steps, so a reader can interleave it with others.
    func query(_ filters: [Filter], defaultLimit: Int, now: Int64, scope: ReadScope) throws -> any StorageQuery

    /// How many stored events in `scope` match any of `filters` (NIP-45), within the scan budget
    /// (`approximate` when it cut the count short), with NIP-45's HyperLogLog registers over
    /// them when `hllOffset` is given.
    func count(_ filters: [Filter], now: Int64, scope: ReadScope, hllOffset: Int?) throws -> CountResult

    /// The stored event with this id.
    func event(id: Bytes32) throws -> StoredEvent?

    /// The (created_at, id) items of every stored event in `scope` matching `filter` (its limit
    /// ignored), oldest first, ties by lowest id (NIP-77). Throws `SyncItemsRefused` when there
    /// are more than `max`, or when the scan budget ends the walk first: a sync needs them all.
    func items(_ filter: Filter, now: Int64, scope: ReadScope, max: Int) throws -> [SyncItem]

    /// Removes the events with these ids and their index entries (an operator's ban); returns
    /// how many were stored. Writer thread only (`EventWriter.perform`).
    func remove(ids: [Bytes32]) throws -> Int

    /// A value the relay keeps beside the events under `key` (the operator's managed lists), or
    /// nil.
    func setting(_ key: String) throws -> [UInt8]?

    /// Keeps `value` under `key`, durably. Writer thread only (`EventWriter.perform`).
    func setSetting(_ key: String, _ value: [UInt8]) throws

    /// How many events are stored.
    var count: Int { get }

    /// The bytes the store takes (the status page, metrics).
    var storedBytes: Int { get }

    /// Whether the store answers reads (`/health`).
    func checkHealth() -> Bool

    /// The feed of events other processes commit to a shared store (several relay nodes on one
    /// database); nil for a store only this process writes.
    var sharedFeed: (any SharedFeed)? { get }

    func close()
}

extension EventStorage {
    public var sharedFeed: (any SharedFeed)? { nil }
    public func maintain() {}
}

/// Events that other relay processes on the same store commit or broadcast: the relay delivers
/// them to its live subscribers as it does its own.
public protocol SharedFeed: AnyObject, Sendable {
    /// Starts following the other nodes: `deliver` gets their events, in commit order, on the
    /// feed's thread, each once, from this moment on.
    func start(deliver: @escaping @Sendable ([FeedItem]) -> Void)
    /// Sends an ephemeral event to the other nodes; false when the feed's queue is full.
    func broadcast(_ json: [UInt8]) -> Bool
    func stop()
}

/// One event from another node: a stored one with the commit sequence it became visible at, or
/// an ephemeral one (sequence `.max`: no query holds it).
public struct FeedItem: Sendable {
    public let event: Event
    public let json: [UInt8]
    public let sequence: UInt64

    public init(event: Event, json: [UInt8], sequence: UInt64) {
        self.event = event
        self.json = json
        self.sequence = sequence
    }
}

/// NIP-45's answer.
public struct CountResult: Sendable, Equatable {
    public var count: Int
    /// The scan budget ended the count before every candidate was seen.
    public var approximate: Bool
    /// The 256 HyperLogLog registers, when asked for.
    public var hll: HyperLogLog?

    public init(count: Int, approximate: Bool = false, hll: HyperLogLog? = nil) {
        self.count = count
        self.approximate = approximate
        self.hll = hll
    }
}

/// Why the items of a sync were not listed.
public enum SyncItemsRefused: Error, Equatable, Sendable {
    /// More events match than the relay reconciles at once.
    case tooMany(max: Int)
    /// The scan budget ended the walk before it was complete.
    case scanBudget
}

/// One REQ's initial query, run in steps. It reads one consistent snapshot from start to end.
/// Only one thread may use it at a time (the readers hand it from one to another between steps).
public protocol StorageQuery: AnyObject, Sendable {
    /// Walks up to `steps` index entries (each candidate checked against its filter); returns
    /// true once the answer is complete.
    func advance(steps: Int) throws -> Bool
    /// The answer, newest first; once `advance` returned true.
    var results: [StoredEvent] { get }
    /// The commit sequence of the snapshot: every write committed at or before it is reflected
    /// in the answer, none after it.
    var sequence: UInt64 { get }
    /// Ends the query early (a closed subscription) and frees what it holds.
    func cancel()
}

extension StorageQuery {
    /// Runs the query to its end (tools and tests; the relay's readers run it in slices).
    public func run() throws -> [StoredEvent] {
        while try !advance(steps: 1 << 20) {}
        return results
    }
}

extension EventStorage {
    /// A query of every event (tools and tests; the relay passes each reader's scope).
    public func query(_ filters: [Filter], defaultLimit: Int, now: Int64) throws -> any StorageQuery {
        try query(filters, defaultLimit: defaultLimit, now: now, scope: .everything)
    }

    public func count(_ filters: [Filter], now: Int64, scope: ReadScope = .everything) throws -> Int {
        try count(filters, now: now, scope: scope, hllOffset: nil).count
    }

    /// Every item matching `filter` (tools and tests).
    public func items(_ filter: Filter, now: Int64) throws -> [SyncItem] {
        try items(filter, now: now, scope: .everything, max: .max)
    }

    /// The answer to `filters` at once (tools and tests).
    public func fetch(_ filters: [Filter], defaultLimit: Int, now: Int64, scope: ReadScope = .everything) throws
        -> [StoredEvent]
    {
        let query: any StorageQuery = try query(filters, defaultLimit: defaultLimit, now: now, scope: scope)
        defer { query.cancel() }
        return try query.run()
    }
}
