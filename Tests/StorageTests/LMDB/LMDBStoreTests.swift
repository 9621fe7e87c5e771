import EventStorage
import NostrCore
import NostrTools
import XCTest

@testable import NostrStore

extension TestStore {
    /// The store as the LMDB backend, for its internals.
    var lmdb: EventStore { storage as! EventStore }
}

/// What is particular to the LMDB backend: its map size and its query planner.
final class LMDBStoreTests: XCTestCase {
    let alice = Bytes32(w0: 1, w1: 1, w2: 1, w3: 1)
    var rng = SplitMix64(seed: 9)

    func random() -> Bytes32 { Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()) }

    func testFullMapGivesAFailureNotACrash() throws {
        let t = try TestStore(Backends.lmdb(mapSize: 1 << 20))
        let big = String(repeating: "x", count: 60_000)
        let events = (0..<40).map { i in
            makeEvent(id: random(), pubkey: alice, createdAt: Int64(i), kind: 1, content: big)
        }
        let outcomes = t.write(events)
        XCTAssertTrue(outcomes.contains(.saved))
        XCTAssertTrue(outcomes.contains(.failed("storage is full")), "\(outcomes)")
        // What was committed is intact and readable.
        let saved = zip(events, outcomes).filter { $0.1 == .saved }.map(\.0.id)
        for id in saved { XCTAssertNotNil(try t.lmdb.event(id: id)) }
    }

    func testThePlannerScansTheIndexWithFewestCandidates() throws {
        // Many events with common hashtags, few of a rare kind: a filter naming both must walk
        // the kind's entries, not the hashtags'.
        let t = try TestStore(Backends.lmdb())
        var events: [Event] = []
        for i in 0..<3000 {
            let kind: UInt16 = i % 100 == 0 ? 3 : 1
            events.append(
                makeEvent(
                    id: random(), pubkey: random(), createdAt: Int64(1000 + i), kind: kind,
                    tags: [["t", i % 2 == 0 ? "nostr" : "bitcoin"]]))
        }
        XCTAssertTrue(t.write(events).allSatisfy { $0 == .saved })
        let filter = Filter(kinds: [3], tags: [.init(name: UInt8(ascii: "t"), values: ["nostr", "bitcoin", "zap"])])
        let plan = try t.lmdb.read { try t.lmdb.plan(filter, $0) }
        guard case .index(let dbi, let prefixes) = plan else { return XCTFail("\(plan)") }
        XCTAssertEqual(dbi, t.lmdb.dbs.kind)
        XCTAssertEqual(prefixes.count, 1)
        XCTAssertEqual(try t.query([filter]).count, 30)
        // With a rare hashtag and a common kind, the hashtag wins.
        let rare = Filter(kinds: [1], tags: [.init(name: UInt8(ascii: "t"), values: ["zap"])])
        guard case .index(let rareDBI, _) = try t.lmdb.read({ try t.lmdb.plan(rare, $0) }) else { return XCTFail() }
        XCTAssertEqual(rareDBI, t.lmdb.dbs.tag)
    }
}
