import NIOConcurrencyHelpers
import NostrCore

/// Something that receives live events for its subscriptions (a connection's session).
public protocol Subscriber: AnyObject, Sendable {
    /// Whether the read policy lets this subscriber see `event` live; asked when it matches.
    func admits(_ event: Event) -> Bool
    /// Events that matched this subscriber's subscriptions, in commit order (a matcher batch's
    /// worth, handed over at once).
    func deliver(_ lives: [LiveEvent])
}

/// An event for some of one subscriber's subscriptions.
public struct LiveEvent: Sendable {
    /// The event serialized once for all recipients.
    public let json: [UInt8]
    /// The subscriber's subscriptions that the event matched.
    public let subscriptionIDs: [String]
    /// The commit that made it visible to queries (`.max` for an ephemeral event), so that a
    /// subscription whose stored answer already holds it can skip it.
    public let sequence: UInt64

    public init(json: [UInt8], subscriptionIDs: [String], sequence: UInt64) {
        self.json = json
        self.subscriptionIDs = subscriptionIDs
        self.sequence = sequence
    }
}

/// The live subscriptions of every connection, indexed by id, author, tag and kind, so that an
/// event is checked only against filters that could match it, never against all of them.
public final class SubscriptionIndex: Sendable {
    struct Key: Hashable {
        let connection: UInt64
        let subscriptionID: String
    }

    /// One of a subscription's filters, as filed in an index: the subscription itself (not its
    /// key, so matching needs no lookup) and which of its filters.
    struct Ref {
        let entry: Entry
        let filter: Int
    }

    /// A tag name and a digest of the value's bytes, so that an event's tag values are looked
    /// up without building strings. Two values with one digest only cost a filter check: every
    /// candidate is matched against its filter.
    struct TagKey: Hashable {
        let name: UInt8
        let digest: Int
        let count: Int

        init(name: UInt8, value: UnsafeBufferPointer<UInt8>) {
            var hasher = Hasher()
            hasher.combine(bytes: UnsafeRawBufferPointer(value))
            self.name = name
            digest = hasher.finalize()
            count = value.count
        }

        init(name: UInt8, value: String) {
            var value = value
            self = value.withUTF8 { TagKey(name: name, value: $0) }
        }
    }

    /// The one attribute a filter is indexed under: its ids, else its authors, else its first
    /// tag condition's values, else its kinds, else the match-all list.
    enum Attribute {
        case ids([Bytes32])
        case authors([Bytes32])
        case tag(Filter.TagCondition)
        case kinds([UInt16])
        case all

        init(_ filter: Filter) {
            if let ids = filter.ids {
                self = .ids(ids)
            } else if let authors = filter.authors {
                self = .authors(authors)
            } else if let tag = filter.tags.first {
                self = .tag(tag)
            } else if let kinds = filter.kinds {
                self = .kinds(kinds)
            } else {
                self = .all
            }
        }
    }

    /// A subscription. `matchedBy` is the last match (its number) that took it; guarded by
    /// the index's lock, like all of its state.
    final class Entry: @unchecked Sendable {
        let key: Key
        let subscriber: any Subscriber
        let filters: [Filter]
        let connection: Connection
        var matchedBy: UInt64 = 0
        init(key: Key, subscriber: any Subscriber, filters: [Filter], connection: Connection) {
            self.key = key
            self.subscriber = subscriber
            self.filters = filters
            self.connection = connection
        }
    }

    /// A connection's subscriptions, and where the last match that found one of them put the
    /// connection in its answer; guarded by the index's lock.
    final class Connection: @unchecked Sendable {
        var subscriptionIDs: Set<String> = []
        var matchedBy: UInt64 = 0
        var answerIndex = 0
    }

    struct State {
        var entries: [Key: Entry] = [:]
        var byConnection: [UInt64: Connection] = [:]
        /// The number of the last match, so that an entry or connection marked with it was
        /// found by this match already (no set of seen entries to build per event).
        var matches: UInt64 = 0
        var byID: [Bytes32: [Ref]] = [:]
        var byAuthor: [Bytes32: [Ref]] = [:]
        var byTag: [TagKey: [Ref]] = [:]
        var byKind: [UInt16: [Ref]] = [:]
        var all: [Ref] = []
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public var count: Int { state.withLockedValue { $0.entries.count } }

    public func count(connection: UInt64) -> Int {
        state.withLockedValue { $0.byConnection[connection]?.subscriptionIDs.count ?? 0 }
    }

    /// Adds a subscription, replacing one with the same id on the same connection.
    public func add(connection: UInt64, subscriptionID: String, filters: [Filter], subscriber: any Subscriber) {
        let key = Key(connection: connection, subscriptionID: subscriptionID)
        state.withLockedValue { s in
            Self.unindex(&s, key)
            let owner = s.byConnection[connection] ?? Connection()
            s.byConnection[connection] = owner
            owner.subscriptionIDs.insert(subscriptionID)
            let entry = Entry(key: key, subscriber: subscriber, filters: filters, connection: owner)
            s.entries[key] = entry
            for (i, filter) in filters.enumerated() where !filter.matchesNothing {
                let ref = Ref(entry: entry, filter: i)
                switch Attribute(filter) {
                case .ids(let ids): for id in ids { s.byID[id, default: []].append(ref) }
                case .authors(let authors): for a in authors { s.byAuthor[a, default: []].append(ref) }
                case .tag(let tag):
                    for v in tag.values { s.byTag[TagKey(name: tag.name, value: v), default: []].append(ref) }
                case .kinds(let kinds): for k in kinds { s.byKind[k, default: []].append(ref) }
                case .all: s.all.append(ref)
                }
            }
        }
    }

    public func remove(connection: UInt64, subscriptionID: String) {
        state.withLockedValue { s in Self.unindex(&s, Key(connection: connection, subscriptionID: subscriptionID)) }
    }

    public func removeAll(connection: UInt64) {
        state.withLockedValue { s in
            for id in s.byConnection[connection]?.subscriptionIDs ?? [] {
                Self.unindex(&s, Key(connection: connection, subscriptionID: id))
            }
            s.byConnection[connection] = nil
        }
    }

    private static func unindex(_ s: inout State, _ key: Key) {
        guard let entry = s.entries.removeValue(forKey: key) else { return }
        entry.connection.subscriptionIDs.remove(key.subscriptionID)
        if entry.connection.subscriptionIDs.isEmpty { s.byConnection[key.connection] = nil }
        func drop<K: Hashable>(_ map: inout [K: [Ref]], _ k: K) {
            map[k]?.removeAll { $0.entry === entry }
            if map[k]?.isEmpty == true { map[k] = nil }
        }
        for filter in entry.filters where !filter.matchesNothing {
            switch Attribute(filter) {
            case .ids(let ids): for id in ids { drop(&s.byID, id) }
            case .authors(let authors): for a in authors { drop(&s.byAuthor, a) }
            case .tag(let tag): for v in tag.values { drop(&s.byTag, TagKey(name: tag.name, value: v)) }
            case .kinds(let kinds): for k in kinds { drop(&s.byKind, k) }
            case .all: s.all.removeAll { $0.entry === entry }
            }
        }
    }

    /// The subscribers whose subscriptions match `event`, each with its matching ids.
    public func match(_ event: Event) -> [(any Subscriber, [String])] {
        state.withLockedValue { s in
            // A subscription is listed once per filter and value it is filed under: the first
            // match counts (an entry marked with this match's number was taken). Most
            // connections have one matching subscription, so the answer is a list, and a
            // connection marked with this match's number holds its place in it.
            s.matches &+= 1
            let mark = s.matches
            var answer: [(any Subscriber, [String])] = []
            func consider(_ refs: [Ref]?) {
                guard let refs else { return }
                for ref in refs {
                    let entry = ref.entry
                    guard entry.matchedBy != mark,
                        entry.filters.withUnsafeBufferPointer({ $0[ref.filter].matches(event) })
                    else { continue }
                    if answer.isEmpty { answer.reserveCapacity(refs.count) }
                    entry.matchedBy = mark
                    let connection = entry.connection
                    if connection.matchedBy == mark {
                        answer[connection.answerIndex].1.append(entry.key.subscriptionID)
                    } else {
                        connection.matchedBy = mark
                        connection.answerIndex = answer.count
                        answer.append((entry.subscriber, [entry.key.subscriptionID]))
                    }
                }
            }
            consider(s.byID[event.id])
            consider(s.byAuthor[event.pubkey])
            if !s.byTag.isEmpty {
                event.forEachIndexedTag { name, value in consider(s.byTag[TagKey(name: name, value: value)]) }
            }
            consider(s.byKind[event.kind])
            consider(s.all)
            return answer
        }
    }
}
