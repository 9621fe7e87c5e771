import NostrCore
import NostrTools

/// Random events and filters for differential tests: a seeded corpus of regular events with
/// many equal timestamps (to exercise the id tie-break), filters of every shape, and what a
/// REQ must answer, computed naively.
public struct RandomCorpus {
    public var rng: SplitMix64
    public var authors: [Bytes32] = []
    public var refs: [Bytes32] = []
    public var events: [Event] = []
    public let kinds: [UInt16] = [1, 4, 7, 1000, 1063]
    public let topics = ["nostr", "swift", "bitcoin", "tern", "ñ", "日本", ""]
    public let base: Int64 = 1_699_990_000

    public init(seed: UInt64, events count: Int) {
        rng = SplitMix64(seed: seed)
        authors = (0..<12).map { _ in random32() }
        refs = (0..<40).map { _ in random32() }
        events = (0..<count).map { _ in randomEvent() }
    }

    public mutating func random32() -> Bytes32 {
        Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
    }

    /// Regular kinds only, so that every event is stored and the reference needs no
    /// replacement rules. Stores do not check signatures, so these carry none.
    public mutating func randomEvent() -> Event {
        var tags: [[String]] = []
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: tags.append(["t", topics.randomElement(using: &rng)!])
            case 1: tags.append(["e", refs.randomElement(using: &rng)!.hex, "wss://x"])
            case 2: tags.append(["p", authors.randomElement(using: &rng)!.hex])
            case 3: tags.append(["t"])  // no value: matches no tag condition
            case 4: tags.append(["tt", topics.randomElement(using: &rng)!])  // not a single letter
            case 5: tags.append(["T", topics.randomElement(using: &rng)!])
            default: tags.append(["alt", "not indexed"])
            }
        }
        return Event(
            id: random32(), pubkey: authors.randomElement(using: &rng)!,
            // A narrow time range makes many ties, to check the id tie-break.
            createdAt: base + Int64.random(in: 0..<600, using: &rng), kind: kinds.randomElement(using: &rng)!,
            tags: Tags(tags), content: "c", sig: Signature64(r: .zero, s: .zero))
    }

    mutating func some<T>(_ pool: [T], _ range: ClosedRange<Int>) -> [T] {
        (0..<Int.random(in: range, using: &rng)).map { _ in pool.randomElement(using: &rng)! }
    }

    public mutating func randomFilter() -> Filter {
        var f = Filter()
        let shape = Int.random(in: 0..<12, using: &rng)
        if shape == 0 {
            var ids: Set<Bytes32> = []
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                ids.insert(Bool.random(using: &rng) ? events.randomElement(using: &rng)!.id : random32())
            }
            f.ids = ids.sorted()
        }
        if shape == 1 || shape == 2 || shape == 9 { f.authors = Array(Set(some(authors, 1...4))).sorted() }
        if shape == 2 || shape == 3 || shape == 8 || (shape == 9 && Bool.random(using: &rng)) {
            f.kinds = Array(Set(some(kinds, 1...3))).sorted()
        }
        if shape == 4 || shape == 8 { f.tags = [.init(name: UInt8(ascii: "t"), values: Set(some(topics, 1...2)))] }
        if shape == 5 { f.tags = [.init(name: UInt8(ascii: "e"), values: [refs.randomElement(using: &rng)!.hex])] }
        if shape == 6 {
            f.tags = [
                .init(name: UInt8(ascii: "p"), values: [authors.randomElement(using: &rng)!.hex]),
                .init(name: UInt8(ascii: "t"), values: [topics.randomElement(using: &rng)!]),
            ]
        }
        if shape == 7 { f.tags = [.init(name: UInt8(ascii: "T"), values: Set(some(topics, 1...3)))] }
        if shape == 10 {
            // An empty list matches nothing.
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: f.authors = []
            case 1: f.kinds = []
            default: f.tags = [.init(name: UInt8(ascii: "t"), values: [])]
            }
        }
        if Int.random(in: 0..<3, using: &rng) == 0 { f.since = base + Int64.random(in: 0..<600, using: &rng) }
        if Int.random(in: 0..<3, using: &rng) == 0 { f.until = base + Int64.random(in: 0..<600, using: &rng) }
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: f.limit = nil
        case 1: f.limit = 0
        default: f.limit = Int.random(in: 1...60, using: &rng)
        }
        return f
    }

    public static func newestFirst(_ a: Event, _ b: Event) -> Bool {
        a.createdAt != b.createdAt ? a.createdAt > b.createdAt : a.id < b.id
    }

    /// What a REQ must return: per filter, its newest `limit` matches (a filter without one gets
    /// `defaultLimit`, or as many as the ids it names); the union, newest first.
    public func reference(_ filters: [Filter], defaultLimit: Int) -> [Bytes32] {
        var seen = Set<Bytes32>()
        var out: [Event] = []
        for f in filters {
            let limit = f.limit ?? f.ids?.count ?? defaultLimit
            let matches = events.filter { naiveMatches(f, $0) }.sorted(by: Self.newestFirst).prefix(limit)
            for e in matches where seen.insert(e.id).inserted { out.append(e) }
        }
        return out.sorted(by: Self.newestFirst).map(\.id)
    }
}
