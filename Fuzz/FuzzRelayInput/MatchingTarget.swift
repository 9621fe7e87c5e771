import NostrCore
import NostrReference
import RelayCore

/// Structured fuzzing of filter matching: the input bytes decide an event and a set of live
/// subscriptions (filters drawn from small pools, so that matches are common), then
/// `Filter.matches` and the subscription index must agree with the naive NIP-01 reference.
/// A disagreement stops the process, which libFuzzer reports as a crash with the input saved.
enum MatchingTarget {
    /// Reads the input one byte at a time; past its end, zeros.
    struct Choices {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        mutating func byte() -> Int {
            guard position < bytes.count else { return 0 }
            defer { position += 1 }
            return Int(bytes[position])
        }

        mutating func pick<T>(_ pool: [T]) -> T { pool[byte() % pool.count] }

        mutating func some<T>(_ pool: [T], max: Int) -> [T] { (0..<(byte() % (max + 1))).map { _ in pick(pool) } }
    }

    static let keys: [Bytes32] = (1...4).map { Bytes32(w0: UInt64($0), w1: 0, w2: 0, w3: UInt64($0)) }
    static let kinds: [UInt16] = [0, 1, 7, 30023, 65535]
    static let values = ["a", "b", "ñ", "", keys[0].hex, keys[1].hex, "q\"\\"]
    static let tagNames = ["t", "e", "p", "T", "tt", "d", ""]
    static let letters: [UInt8] = Array("tepTdx".utf8)
    static let base: Int64 = 1_700_000_000

    static func event(_ c: inout Choices) -> Event {
        var tags: [[String]] = []
        for _ in 0..<(c.byte() % 5) {
            var tag = [c.pick(tagNames)]
            if c.byte() % 4 != 0 { tag.append(c.pick(values)) }
            if c.byte() % 4 == 0 { tag.append(c.pick(values)) }
            tags.append(tag)
        }
        return Event(
            id: c.pick(keys), pubkey: c.pick(keys), createdAt: base + Int64(c.byte() % 8), kind: c.pick(kinds),
            tags: Tags(tags), content: "", sig: Signature64(r: .zero, s: .zero))
    }

    static func filter(_ c: inout Choices) -> Filter {
        let fields = c.byte()
        var f = Filter()
        if fields & 1 != 0 { f.ids = Array(Set(c.some(keys, max: 3))).sorted() }
        if fields & 2 != 0 { f.authors = Array(Set(c.some(keys, max: 3))).sorted() }
        if fields & 4 != 0 { f.kinds = Array(Set(c.some(kinds, max: 3))).sorted() }
        if fields & 8 != 0 { f.since = base + Int64(c.byte() % 8) }
        if fields & 16 != 0 { f.until = base + Int64(c.byte() % 8) }
        if fields & 32 != 0 {
            var names = Set<UInt8>()
            for _ in 0..<(1 + c.byte() % 2) {
                let name = c.pick(letters)
                guard names.insert(name).inserted else { continue }
                f.tags.append(.init(name: name, values: Set(c.some(values, max: 3))))
            }
        }
        if fields & 64 != 0 { f.limit = c.byte() % 3 }
        return f
    }

    static func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        var c = Choices(bytes: bytes)
        let event = event(&c)
        let json = event.jsonBytes
        guard let head = json.withUnsafeBufferPointer({ EventHead.decode(json: $0) }) else {
            fatalError("EventHead cannot read \(event.json)")
        }
        let index = SubscriptionIndex()
        let subscribers = [NoSubscriber(), NoSubscriber()]  // one per connection
        var live: [String: [Filter]] = [:]
        for i in 0..<(1 + c.byte() % 6) {
            let id = "s\(c.byte() % 4)"  // ids repeat: a REQ with an open id replaces it
            let connection = UInt64(i % 2)
            let filters = (0..<(1 + c.byte() % 3)).map { _ in filter(&c) }
            for filter in filters where filter.matches(event) != naiveMatches(filter, event) {
                fatalError("Filter.matches disagrees with the reference: \(filter) on \(event.json)")
            }
            // The store checks filters on the stored JSON's head and tags array: it must agree too.
            for filter in filters {
                let onJSON = json.withUnsafeBufferPointer { bytes in
                    filter.matches(head, tags: UnsafeBufferPointer(rebasing: bytes[head.tags]))
                }
                if onJSON != naiveMatches(filter, event) {
                    fatalError("matching on stored JSON disagrees with the reference: \(filter) on \(event.json)")
                }
            }
            index.add(connection: connection, subscriptionID: id, filters: filters, subscriber: subscribers[i % 2])
            live["\(connection)/\(id)"] = filters
            if c.byte() % 5 == 0 {
                index.remove(connection: connection, subscriptionID: id)
                live["\(connection)/\(id)"] = nil
            }
        }
        var matched: [String] = []
        for (subscriber, ids) in index.match(event) {
            let connection = subscriber === subscribers[0] ? 0 : 1
            matched += ids.map { "\(connection)/\($0)" }
        }
        let expected = live.filter { naiveMatches($0.value, event) }.map(\.key)
        if matched.sorted() != expected.sorted() {
            fatalError("the subscription index disagrees with the reference: \(matched) vs \(expected)")
        }
    }

    final class NoSubscriber: Subscriber {
        func admits(_ event: Event) -> Bool { true }
        func deliver(_ lives: [LiveEvent]) {}
    }
}
