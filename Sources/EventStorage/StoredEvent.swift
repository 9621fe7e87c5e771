import NostrCore

/// An event read from the store with the exact JSON that is sent for it.
public struct StoredEvent: Sendable {
    public let id: Bytes32
    public let createdAt: Int64
    /// The event as stored and sent to clients.
    public let json: [UInt8]
    /// The decoded event, when reading it needed one (a store may check filters on the JSON).
    let decoded: Event?

    public init(id: Bytes32, createdAt: Int64, json: [UInt8], decoded: Event? = nil) {
        self.id = id
        self.createdAt = createdAt
        self.json = json
        self.decoded = decoded
    }

    public init(event: Event, json: [UInt8]) {
        self.init(id: event.id, createdAt: event.createdAt, json: json, decoded: event)
    }

    /// The whole event, decoded from `json` if the store did not need to. The relay sends `json`
    /// and never needs this; tests and tools do.
    public var event: Event? { decoded ?? Event.decode(json: json) }

    /// NIP-01's order of answers: newest first, ties by lowest id.
    public static func newestFirst(_ a: StoredEvent, _ b: StoredEvent) -> Bool {
        a.createdAt != b.createdAt ? a.createdAt > b.createdAt : a.id < b.id
    }
}

/// One item of NIP-77 negentropy: an event's `created_at` and id.
public struct SyncItem: Sendable, Equatable, Comparable {
    public let createdAt: Int64
    public let id: Bytes32

    public init(createdAt: Int64, id: Bytes32) {
        self.createdAt = createdAt
        self.id = id
    }

    /// Negentropy's order: oldest first, ties by lowest id.
    public static func < (a: SyncItem, b: SyncItem) -> Bool {
        a.createdAt != b.createdAt ? a.createdAt < b.createdAt : a.id < b.id
    }
}
