/// Which stored or live events one reader may see, beyond what its filters ask: the relay's read
/// policy for one connection, applied inside the query so that a filter's `limit` counts only
/// events the reader may see.
///
/// - `hiddenKinds`: served to nobody on this connection (kinds that need AUTH, before AUTH).
/// - `partyKinds`: served only to a party of the event, its author or a pubkey in one of its
///   `p` tags, among `parties` (direct messages, gift wraps).
public struct ReadScope: Sendable, Equatable {
    public private(set) var hiddenKinds: [UInt16]
    public private(set) var partyKinds: [UInt16]
    public private(set) var parties: [Bytes32]
    /// `#p` with the parties' hex keys, to check stored tags without decoding them.
    public private(set) var partyTags: Filter

    /// Every event: no kind is hidden or private.
    public static let everything = ReadScope(hiddenKinds: [], partyKinds: [], parties: [])

    public init(hiddenKinds: [UInt16], partyKinds: [UInt16], parties: [Bytes32]) {
        self.hiddenKinds = Array(Set(hiddenKinds)).sorted()
        self.partyKinds = Array(Set(partyKinds).subtracting(hiddenKinds)).sorted()
        self.parties = Array(Set(parties)).sorted()
        partyTags = Filter(tags: [Filter.TagCondition(name: UInt8(ascii: "p"), values: Set(parties.map(\.hex)))])
    }

    public var isEverything: Bool { hiddenKinds.isEmpty && partyKinds.isEmpty }

    /// Whether some event of `kind` could be out of this scope.
    @inlinable
    public func restricts(kind: UInt16) -> Bool {
        !isEverything && (Filter.contains(hiddenKinds, kind) || Filter.contains(partyKinds, kind))
    }

    /// Whether every event `filter` can match is out of this scope: its kinds are all hidden, or
    /// all private and the reader is a party of none (no pubkey proven).
    public func excludesAll(_ filter: Filter) -> Bool {
        guard let kinds = filter.kinds, !kinds.isEmpty, !isEverything else { return false }
        return kinds.allSatisfy { kind in
            Filter.contains(hiddenKinds, kind) || (parties.isEmpty && Filter.contains(partyKinds, kind))
        }
    }

    public func admits(_ event: Event) -> Bool {
        guard restricts(kind: event.kind) else { return true }
        if Filter.contains(hiddenKinds, event.kind) { return false }
        if Filter.contains(parties, event.pubkey) { return true }
        return partyTags.matches(event)
    }

    /// The same check on a stored event's head and the raw bytes of its tags array; nil when the
    /// bytes are not plain enough to check without decoding.
    public func admits(_ head: EventHead, tags json: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard restricts(kind: head.kind) else { return true }
        if Filter.contains(hiddenKinds, head.kind) { return false }
        if Filter.contains(parties, head.pubkey) { return true }
        if parties.isEmpty { return false }
        return partyTags.matchesTags(json: json)
    }
}
