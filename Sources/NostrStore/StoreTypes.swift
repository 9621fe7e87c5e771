import NostrCore

/// What happened to an event handed to the store.
public enum WriteOutcome: Sendable, Equatable {
    /// Committed to disk.
    case saved
    /// Already stored.
    case duplicate
    /// A newer version of this replaceable or addressable event is stored.
    case obsolete
    /// The author deleted this event (NIP-09); it may not be published again.
    case deleted
    /// The store could not write it (disk full, I/O error); nothing was committed.
    case failed(String)
}

/// An event read from the store with the exact JSON that is sent for it.
public struct StoredEvent: Sendable {
    public let id: Bytes32
    public let createdAt: Int64
    /// The event as stored and sent to clients.
    public let json: [UInt8]
    /// Its key in the events table.
    let serial: UInt64
    /// The decoded event, when reading it needed one (queries whose filters have no tag
    /// condition check the event's head only).
    let decoded: Event?

    private init(id: Bytes32, createdAt: Int64, json: [UInt8], serial: UInt64, decoded: Event?) {
        self.id = id
        self.createdAt = createdAt
        self.json = json
        self.serial = serial
        self.decoded = decoded
    }

    init(event: Event, json: [UInt8], serial: UInt64) {
        self.init(id: event.id, createdAt: event.createdAt, json: json, serial: serial, decoded: event)
    }

    init(head: EventHead, json: [UInt8], serial: UInt64) {
        self.init(id: head.id, createdAt: head.createdAt, json: json, serial: serial, decoded: nil)
    }

    /// The whole event, decoded from `json` if the store did not need to. The relay sends `json`
    /// and never needs this; tests do.
    public var event: Event? { decoded ?? Event.decode(json: json) }

    /// The decoded event of a `StoredEvent` that `EventStore.load` made (it always decodes).
    var loaded: Event { decoded! }
}

public struct StoreOptions: Sendable {
    public var mapSize: Int
    public var maxReaders: UInt32
    /// The largest number of index entries one filter may walk before its answer is cut short.
    public var maxScanPerFilter: Int

    public init(mapSize: Int = 8 << 30, maxReaders: UInt32 = 256, maxScanPerFilter: Int = 200_000) {
        self.mapSize = mapSize
        self.maxReaders = maxReaders
        self.maxScanPerFilter = maxScanPerFilter
    }
}

/// A clock in unix seconds, passed in so tests can control time.
public typealias UnixClock = @Sendable () -> Int64
