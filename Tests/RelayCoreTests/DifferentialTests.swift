import Foundation
import Logging
import NostrCore
import NostrReference
import NostrStore
import RelayCore
import XCTest

/// Random events and random filters fed to the store's query engine, to the live subscription
/// index, and to the naive reference; all three must agree.
final class DifferentialTests: XCTestCase {
    var rng = SplitMix64(seed: 42)
    var authors: [Bytes32] = []
    var refs: [Bytes32] = []
    var events: [Event] = []
    let kinds: [UInt16] = [1, 4, 7, 1000, 1063]
    let topics = ["nostr", "swift", "bitcoin", "tern", "ñ", "日本", ""]
    let base: Int64 = 1_699_990_000

    func random32() -> Bytes32 { Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()) }

    override func setUp() {
        authors = (0..<12).map { _ in random32() }
        refs = (0..<40).map { _ in random32() }
        events = (0..<3000).map { _ in randomEvent() }
    }

    /// Regular kinds only, so that every event is stored and the reference needs no
    /// replacement rules. The store does not check signatures, so these carry none.
    func randomEvent() -> Event {
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

    func some<T>(_ pool: [T], _ range: ClosedRange<Int>) -> [T] {
        (0..<Int.random(in: range, using: &rng)).map { _ in pool.randomElement(using: &rng)! }
    }

    func randomFilter() -> Filter {
        var f = Filter()
        let shape = Int.random(in: 0..<12, using: &rng)
        if shape == 0 {
            f.ids = Array(
                Set(
                    (0..<Int.random(in: 1...6, using: &rng)).map { _ in
                        Bool.random(using: &rng) ? events.randomElement(using: &rng)!.id : random32()
                    })
            ).sorted()
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

    func newestFirst(_ a: Event, _ b: Event) -> Bool {
        a.createdAt != b.createdAt ? a.createdAt > b.createdAt : a.id < b.id
    }

    /// What a REQ must return: per filter, its newest `limit` matches; the union, newest first.
    func reference(_ filters: [Filter], defaultLimit: Int) -> [Bytes32] {
        var seen = Set<Bytes32>()
        var out: [Event] = []
        for f in filters {
            let matches = events.filter { naiveMatches(f, $0) }.sorted(by: newestFirst).prefix(f.limit ?? defaultLimit)
            for e in matches where seen.insert(e.id).inserted { out.append(e) }
        }
        return out.sorted(by: newestFirst).map(\.id)
    }

    func testStoreQueriesAgreeWithTheReference() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-diff-\(UUID().uuidString)").path
        let store = try EventStore(path: path, logger: Logger(label: "test"))
        let writer = EventWriter(store: store, clock: { 1_700_000_000 }, logger: Logger(label: "test"))
        writer.start()
        defer {
            writer.shutdown()
            store.close()
            try? FileManager.default.removeItem(atPath: path)
        }
        let written = expectation(description: "written")
        written.expectedFulfillmentCount = events.count
        for event in events {
            XCTAssertTrue(
                writer.submit(event, json: event.jsonBytes) { outcome in
                    XCTAssertEqual(outcome, .saved)
                    written.fulfill()
                })
        }
        wait(for: [written], timeout: 60)
        XCTAssertEqual(store.count, events.count)

        for round in 0..<400 {
            let filters = (0..<(round % 5 == 0 ? 3 : 1)).map { _ in randomFilter() }
            let got = try store.query(filters, defaultLimit: 50, now: 1_700_000_000).map(\.id)
            let expected = reference(filters, defaultLimit: 50)
            XCTAssertEqual(got, expected, "round \(round): \(filters)")
            if got != expected { break }
        }
    }

    func testLiveMatcherAgreesWithTheReference() {
        let index = SubscriptionIndex()
        let subscriber = RecordingSubscriber()
        var subscriptions: [[Filter]] = []
        for i in 0..<300 {
            let filters = (0..<Int.random(in: 1...3, using: &rng)).map { _ in randomFilter() }
            subscriptions.append(filters)
            // A few connections with many subscriptions each, as real clients have.
            index.add(connection: UInt64(i % 7), subscriptionID: "s\(i)", filters: filters, subscriber: subscriber)
        }
        // Replacing and closing subscriptions must leave the index consistent.
        for i in stride(from: 0, to: 300, by: 10) {
            let filters = [randomFilter()]
            subscriptions[i] = filters
            index.add(connection: UInt64(i % 7), subscriptionID: "s\(i)", filters: filters, subscriber: subscriber)
        }
        for i in stride(from: 5, to: 300, by: 25) {
            subscriptions[i] = []
            index.remove(connection: UInt64(i % 7), subscriptionID: "s\(i)")
        }

        var mismatches = 0
        for event in events {
            let matched = index.match(event).flatMap(\.1)
            let expected = Set(
                subscriptions.indices.filter { subscriptions[$0].contains { naiveMatches($0, event) } }.map { "s\($0)" }
            )
            XCTAssertEqual(matched.count, Set(matched).count, "each subscription is matched at most once")
            if Set(matched) != expected {
                mismatches += 1
                XCTFail("event \(event.json): got \(Set(matched).sorted()), expected \(expected.sorted())")
                if mismatches > 3 { break }
            }
        }
    }
}
