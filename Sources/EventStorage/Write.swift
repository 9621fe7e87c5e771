import NostrCore

/// A replaceable or addressable event's slot: the newest version for it is the one kept
/// (NIP-01). Replaceable kinds use "" for `d`.
public struct Address: Sendable, Hashable {
    public let pubkey: Bytes32
    public let kind: UInt16
    public let d: String

    public init(pubkey: Bytes32, kind: UInt16, d: String) {
        self.pubkey = pubkey
        self.kind = kind
        self.d = d
    }

    /// The address of a replaceable (`d` is "") or addressable (its first `d` value) event.
    public init(of event: Event) {
        self.init(pubkey: event.pubkey, kind: event.kind, d: event.kindClass == .addressable ? event.dTag : "")
    }

    /// `<kind>:<pubkey hex>:<d>`, as an `a` tag names it; nil when malformed or not of a
    /// replaceable or addressable kind.
    public init?(tagValue value: String) {
        let parts = value.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let kind = UInt16(parts[0]), let pubkey = Bytes32(hex: String(parts[1])) else {
            return nil
        }
        switch KindClass(kind: kind) {
        case .replaceable: self.init(pubkey: pubkey, kind: kind, d: "")
        case .addressable: self.init(pubkey: pubkey, kind: kind, d: String(parts[2]))
        case .regular, .ephemeral: return nil
        }
    }
}

/// What the store is asked to do with an event: decided once, by the routing service, and
/// carried to the writer and the store as it is.
public enum WriteAction: Sendable, Equatable {
    /// A regular event: stored as it is.
    case insert
    /// A replaceable or addressable event: it replaces the version at its address if newer.
    case replace(Address)
    /// A NIP-09 deletion request: stored, and deletes what it references.
    case delete
    /// A NIP-62 request to vanish: deletes its author's events up to its `created_at` (and gift
    /// wraps addressed to the author), refuses them from then on, and is stored.
    case vanish
}

/// One write for the store: the event, its JSON as sent to clients, and what to do.
public struct Write: Sendable {
    public let action: WriteAction
    public let event: Event
    public let json: [UInt8]

    public init(_ action: WriteAction, _ event: Event, json: [UInt8]) {
        self.action = action
        self.event = event
        self.json = json
    }

    /// The action NIP-01's kind classes give an event (tools and tests; the relay routes).
    public static func byKind(_ event: Event, json: [UInt8]? = nil) -> Write {
        let json = json ?? event.jsonBytes
        if event.kind == Kinds.deletion { return Write(.delete, event, json: json) }
        if event.kind == Kinds.vanish { return Write(.vanish, event, json: json) }
        switch event.kindClass {
        case .replaceable, .addressable: return Write(.replace(Address(of: event)), event, json: json)
        case .regular, .ephemeral: return Write(.insert, event, json: json)
        }
    }
}

/// What happened to a write.
public enum WriteOutcome: Sendable, Equatable {
    /// Committed to disk.
    case saved
    /// Committed to disk, and the older version at its replaceable or addressable address is
    /// gone (NIP-01).
    case replaced
    /// Already stored.
    case duplicate
    /// A newer version of this replaceable or addressable event is stored.
    case obsolete
    /// The author deleted this event (NIP-09) or vanished (NIP-62); it may not be published again.
    case deleted
    /// The store could not write it (disk full, I/O error); nothing was committed.
    case failed(String)
}

extension WriteOutcome {
    /// Durably stored: saved, or saved in place of an older version.
    public var isStored: Bool { self == .saved || self == .replaced }
}

/// A write after its transaction: what happened, and the commit sequence it became visible at
/// (a query whose snapshot is at or past it sees it).
public struct Committed: Sendable {
    public let write: Write
    public let outcome: WriteOutcome
    public let sequence: UInt64
    /// Who is told the outcome.
    public let requester: (any WriteRequester)?

    public init(write: Write, outcome: WriteOutcome, sequence: UInt64, requester: (any WriteRequester)?) {
        self.write = write
        self.outcome = outcome
        self.sequence = sequence
        self.requester = requester
    }
}

/// A clock in unix seconds, passed in so tests can control time.
public typealias UnixClock = @Sendable () -> Int64
