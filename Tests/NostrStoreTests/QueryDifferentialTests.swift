import NostrCore
import NostrStore
import XCTest

/// The store's query engine against a naive reference: every filter shape, random data.
final class QueryDifferentialTests: XCTestCase {
    func newestFirst(_ a: Event, _ b: Event) -> Bool {
        a.createdAt != b.createdAt ? a.createdAt > b.createdAt : a.id < b.id
    }

    func reference(_ events: [Event], _ filters: [Filter], defaultLimit: Int) -> [Bytes32] {
        var seen = Set<Bytes32>()
        var out: [Event] = []
        for f in filters {
            let limit = f.limit ?? defaultLimit
            let matches = events.filter { f.matches($0) }.sorted(by: newestFirst).prefix(limit)
            for e in matches where seen.insert(e.id).inserted { out.append(e) }
        }
        return out.sorted(by: newestFirst).map(\.id)
    }

    func testRandomFiltersAgreeWithReference() throws {
        var rng = SeededRandom(seed: 42)
        let authors = (0..<12).map { _ in Bytes32.random(using: &rng) }
        let kinds: [UInt16] = [1, 4, 7, 1000, 1063]
        let topics = ["nostr", "swift", "bitcoin", "tern", "ñ", "日本"]
        let refs = (0..<40).map { _ in Bytes32.random(using: &rng) }
        var events: [Event] = []
        for _ in 0..<3000 {
            var tags: [[String]] = []
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: tags.append(["t", topics.randomElement(using: &rng)!])
                case 1: tags.append(["e", refs.randomElement(using: &rng)!.hex, "wss://x"])
                case 2: tags.append(["p", authors.randomElement(using: &rng)!.hex])
                default: tags.append(["alt", "not indexed"])
                }
            }
            events.append(
                makeEvent(
                    id: .random(using: &rng), pubkey: authors.randomElement(using: &rng)!,
                    // A narrow time range makes many ties, to check the id tie-break.
                    createdAt: 1_699_990_000 + Int64.random(in: 0..<600, using: &rng),
                    kind: kinds.randomElement(using: &rng)!, tags: tags, content: "c"))
        }
        let t = try TestStore()
        XCTAssertTrue(t.write(events).allSatisfy { $0 == .saved })
        XCTAssertEqual(t.store.count, events.count)

        func randomFilter() -> Filter {
            var f = Filter()
            let shape = Int.random(in: 0..<10, using: &rng)
            if shape == 0 {
                f.ids = (0..<Int.random(in: 1...6, using: &rng)).map { _ in
                    Bool.random(using: &rng) ? events.randomElement(using: &rng)!.id : .random(using: &rng)
                }.sorted()
            }
            if shape == 1 || shape == 2 || shape == 9 {
                f.authors = Array(
                    Set((0..<Int.random(in: 1...4, using: &rng)).map { _ in authors.randomElement(using: &rng)! })
                ).sorted()
            }
            if shape == 2 || shape == 3 || shape == 8 || (shape == 9 && Bool.random(using: &rng)) {
                f.kinds = Array(
                    Set((0..<Int.random(in: 1...3, using: &rng)).map { _ in kinds.randomElement(using: &rng)! })
                ).sorted()
            }
            if shape == 4 || shape == 8 {
                f.tags = [
                    .init(name: UInt8(ascii: "t"), values: Set((0..<2).map { _ in topics.randomElement(using: &rng)! }))
                ]
            }
            if shape == 5 {
                f.tags = [.init(name: UInt8(ascii: "e"), values: [refs.randomElement(using: &rng)!.hex])]
            }
            if shape == 6 {
                f.tags = [
                    .init(name: UInt8(ascii: "p"), values: [authors.randomElement(using: &rng)!.hex]),
                    .init(name: UInt8(ascii: "t"), values: [topics.randomElement(using: &rng)!]),
                ]
            }
            if Int.random(in: 0..<3, using: &rng) == 0 {
                f.since = 1_699_990_000 + Int64.random(in: 0..<600, using: &rng)
            }
            if Int.random(in: 0..<3, using: &rng) == 0 {
                f.until = 1_699_990_000 + Int64.random(in: 0..<600, using: &rng)
            }
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: f.limit = nil
            case 1: f.limit = 0
            default: f.limit = Int.random(in: 1...60, using: &rng)
            }
            return f
        }

        for round in 0..<400 {
            let filters = (0..<(round % 5 == 0 ? 3 : 1)).map { _ in randomFilter() }
            let got = try t.query(filters, limit: 50).map(\.id)
            let expected = reference(events, filters, defaultLimit: 50)
            XCTAssertEqual(got, expected, "round \(round): \(filters)")
            if got != expected { break }
        }
    }
}
