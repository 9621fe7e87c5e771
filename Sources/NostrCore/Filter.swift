/// A NIP-01 filter, compiled once: id, author and kind lists are sorted for binary search and tag
/// values are held in sets, so matching an event allocates nothing.
public struct Filter: Sendable, Equatable {
    public struct TagCondition: Sendable, Equatable {
        public var name: UInt8
        public var values: Set<String>

        public init(name: UInt8, values: Set<String>) {
            self.name = name
            self.values = values
        }

        /// Whether the UTF-8 `bytes` are one of the values: a short set is compared byte by byte
        /// (no allocation), a long one looked up by a `String` of the bytes.
        @inlinable
        public func contains(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            if values.count <= 8 {
                for value in values where UTF8Bytes.equal(value, bytes) { return true }
                return false
            }
            return String(validating: bytes, as: UTF8.self).map(values.contains) ?? false
        }
    }

    public var ids: [Bytes32]?
    public var authors: [Bytes32]?
    public var kinds: [UInt16]?
    public var tags: [TagCondition]
    public var since: Int64?
    public var until: Int64?
    public var limit: Int?
    /// NIP-50: the query as sent, and the tokens an event's content must all hold (its
    /// `key:value` extensions left out). No tokens: no condition.
    public var search: String? {
        didSet { searchTokens = search.map(SearchText.queryTokens) ?? [] }
    }
    public private(set) var searchTokens: [String] = []
    /// The longest `search` accepted, in bytes.
    public static let maxSearchLength = 512

    public init(
        ids: [Bytes32]? = nil, authors: [Bytes32]? = nil, kinds: [UInt16]? = nil, tags: [TagCondition] = [],
        since: Int64? = nil, until: Int64? = nil, limit: Int? = nil, search: String? = nil
    ) {
        self.ids = ids.map { Array(Set($0)).sorted() }
        self.authors = authors.map { Array(Set($0)).sorted() }
        self.kinds = kinds.map { Array(Set($0)).sorted() }
        self.tags = tags
        self.since = since
        self.until = until
        self.limit = limit
        self.search = search
        searchTokens = search.map(SearchText.queryTokens) ?? []
    }

    /// True when some list in the filter is empty, so that nothing can match it.
    public var matchesNothing: Bool {
        if let ids, ids.isEmpty { return true }
        if let authors, authors.isEmpty { return true }
        if let kinds, kinds.isEmpty { return true }
        if tags.contains(where: { $0.values.isEmpty }) { return true }
        if let since, let until, since > until { return true }
        return false
    }

    /// Whether `event` passes every condition of this filter (`limit` is not a condition).
    @inlinable
    public func matches(_ event: Event) -> Bool {
        guard matches(fields: event) else { return false }
        if !searchTokens.isEmpty { return matchesSearch(content: event.content) }
        return true
    }

    /// Every condition but the search words (the caller checks those, scoring them).
    public func matches(fields event: Event) -> Bool {
        guard matchesFields(id: event.id, pubkey: event.pubkey, kind: event.kind, createdAt: event.createdAt) else {
            return false
        }
        for condition in tags {
            var found = false
            for tag in event.tags where tag.count >= 2 && tag.singleLetterName == condition.name {
                if tag.withField(1, condition.contains) {
                    found = true
                    break
                }
            }
            if !found { return false }
        }
        return true
    }

    /// NIP-50: the content holds every token of the query.
    public func matchesSearch(content: String) -> Bool {
        SearchText.match(content: content, query: searchTokens) != nil
    }

    /// The conditions on an event's fixed-size fields: since, until, kinds, authors, ids.
    @inlinable
    public func matchesFields(id: Bytes32, pubkey: Bytes32, kind: UInt16, createdAt: Int64) -> Bool {
        if let since, createdAt < since { return false }
        if let until, createdAt > until { return false }
        if let kinds, !Self.contains(kinds, kind) { return false }
        if let authors, !Self.contains(authors, pubkey) { return false }
        if let ids, !Self.contains(ids, id) { return false }
        return true
    }

    @inlinable
    public static func contains<T: Comparable>(_ sorted: [T], _ value: T) -> Bool {
        if sorted.count <= 8 {
            for v in sorted where v == value { return true }
            return false
        }
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if sorted[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo] == value
    }
}

extension Array where Element == Filter {
    /// A REQ's filters are OR-ed.
    @inlinable
    public func anyMatches(_ event: Event) -> Bool {
        for filter in self where filter.matches(event) { return true }
        return false
    }
}
