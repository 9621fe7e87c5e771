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
    public let event: Event
    public let json: [UInt8]
    /// Its key in the events table.
    let serial: UInt64
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
