import NIOConcurrencyHelpers
import NostrCore

/// Something that receives live events for its subscriptions (a connection's session).
public protocol Subscriber: AnyObject, Sendable {
    /// `json` is the event serialized once for all recipients; `subscriptionIDs` are this
    /// subscriber's subscriptions that the event matched; `sequence` is the commit that made it
    /// visible to queries (`.max` for an ephemeral event), so that a subscription whose stored
    /// answer already holds it can skip it.
    func deliver(_ event: Event, json: [UInt8], to subscriptionIDs: [String], sequence: UInt64)
}

/// The live subscriptions of every connection, indexed by id, author, tag and kind, so that an
/// event is checked only against filters that could match it, never against all of them.
public final class SubscriptionIndex: Sendable {
    struct Key: Hashable {
        let connection: UInt64
        let subscriptionID: String
    }

    struct Ref: Equatable {
        let key: Key
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

    struct Entry {
        let subscriber: any Subscriber
        let filters: [Filter]
    }

    struct State {
        var entries: [Key: Entry] = [:]
        var byConnection: [UInt64: Set<String>] = [:]
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
        state.withLockedValue { $0.byConnection[connection]?.count ?? 0 }
    }

    /// Adds a subscription, replacing one with the same id on the same connection.
    public func add(connection: UInt64, subscriptionID: String, filters: [Filter], subscriber: any Subscriber) {
        let key = Key(connection: connection, subscriptionID: subscriptionID)
        state.withLockedValue { s in
            Self.unindex(&s, key)
            s.entries[key] = Entry(subscriber: subscriber, filters: filters)
            s.byConnection[connection, default: []].insert(subscriptionID)
            for (i, filter) in filters.enumerated() where !filter.matchesNothing {
                let ref = Ref(key: key, filter: i)
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
            for id in s.byConnection[connection] ?? [] {
                Self.unindex(&s, Key(connection: connection, subscriptionID: id))
            }
            s.byConnection[connection] = nil
        }
    }

    private static func unindex(_ s: inout State, _ key: Key) {
        guard let entry = s.entries.removeValue(forKey: key) else { return }
        s.byConnection[key.connection]?.remove(key.subscriptionID)
        if s.byConnection[key.connection]?.isEmpty == true { s.byConnection[key.connection] = nil }
        func drop<K: Hashable>(_ map: inout [K: [Ref]], _ k: K) {
            map[k]?.removeAll { $0.key == key }
            if map[k]?.isEmpty == true { map[k] = nil }
        }
        for filter in entry.filters where !filter.matchesNothing {
            switch Attribute(filter) {
            case .ids(let ids): for id in ids { drop(&s.byID, id) }
            case .authors(let authors): for a in authors { drop(&s.byAuthor, a) }
            case .tag(let tag): for v in tag.values { drop(&s.byTag, TagKey(name: tag.name, value: v)) }
            case .kinds(let kinds): for k in kinds { drop(&s.byKind, k) }
            case .all: s.all.removeAll { $0.key == key }
            }
        }
    }

    /// The subscribers whose subscriptions match `event`, each with its matching ids.
    public func match(_ event: Event) -> [(any Subscriber, [String])] {
        state.withLockedValue { s in
            var matched: [Key: Void] = [:]
            var byConnection: [UInt64: (any Subscriber, [String])] = [:]
            func consider(_ refs: [Ref]?) {
                guard let refs else { return }
                for ref in refs where matched[ref.key] == nil {
                    guard let entry = s.entries[ref.key], entry.filters[ref.filter].matches(event) else { continue }
                    matched[ref.key] = ()
                    byConnection[ref.key.connection, default: (entry.subscriber, [])].1.append(ref.key.subscriptionID)
                }
            }
            consider(s.byID[event.id])
            consider(s.byAuthor[event.pubkey])
            if !s.byTag.isEmpty {
                event.forEachIndexedTag { name, value in consider(s.byTag[TagKey(name: name, value: value)]) }
            }
            consider(s.byKind[event.kind])
            consider(s.all)
            return Array(byConnection.values)
        }
    }
}
