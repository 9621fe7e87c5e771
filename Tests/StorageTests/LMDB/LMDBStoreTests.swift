import CLMDB
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

    /// Index entries wait in `IndexBatch` until the transaction ends. Events replaced, deleted or
    /// vanished within the same transaction as their insert must leave no entry behind: one
    /// transaction for the whole batch must leave exactly the tables that one per event leaves.
    func testOneTransactionLeavesTheSameIndexesAsOnePerEvent() throws {
        let bob = random()
        var events: [Event] = []
        for i in 0..<60 {
            let author = i % 3 == 0 ? alice : bob
            let kind: UInt16 = [1, 0, 3, 30023, 1059, 1][i % 6]
            var tags: Tags = [["t", "tag\(i % 4)"], ["p", (i % 2 == 0 ? bob : alice).hex]]
            if kind == 30023 { tags.append(["d", "article\(i % 2)"]) }
            if i % 7 == 0 { tags.append(["expiration", "1800000000"]) }
            events.append(makeEvent(id: random(), pubkey: author, createdAt: Int64(100 + i), kind: kind, tags: tags))
        }
        // A deletion of a note of this batch, then alice vanishes: in the middle of the batch.
        events.insert(
            makeEvent(id: random(), pubkey: bob, createdAt: 500, kind: 5, tags: [["e", events[1].id.hex]]), at: 30)
        events.insert(
            makeEvent(id: random(), pubkey: alice, createdAt: 130, kind: 62, tags: [["relay", "ALL_RELAYS"]]), at: 40)
        events.insert(makeEvent(id: random(), pubkey: alice, createdAt: 120, kind: 1), at: 41)  // refused: vanished
        let writes = events.map { Write.byKind($0) }

        let together = try TestStore(Backends.lmdb())
        var outcomes: [WriteOutcome] = []
        var sequences: [UInt64] = []
        together.lmdb.commit(writes, outcomes: &outcomes, sequences: &sequences)
        XCTAssertEqual(Set(sequences).count, 1, "one transaction")

        let oneByOne = try TestStore(Backends.lmdb())
        var each: [WriteOutcome] = []
        for write in writes {
            var o: [WriteOutcome] = []
            oneByOne.lmdb.commit([write], outcomes: &o, sequences: &sequences)
            each += o
        }
        XCTAssertEqual(outcomes, each)
        XCTAssertTrue(outcomes.contains(.replaced) && outcomes.contains(.deleted), "\(outcomes)")
        let a = try together.lmdb.statistics().tables.map { "\($0.name) \($0.entries)" }
        let b = try oneByOne.lmdb.statistics().tables.map { "\($0.name) \($0.entries)" }
        XCTAssertEqual(a, b)
        for filter in [
            Filter(authors: [alice]), Filter(authors: [bob]), Filter(kinds: [1]), Filter(kinds: [0, 3, 30023]),
            Filter(tags: [.init(name: UInt8(ascii: "t"), values: ["tag1", "tag2"])]),
            Filter(tags: [.init(name: UInt8(ascii: "p"), values: [alice.hex])]), Filter(),
        ] {
            XCTAssertEqual(try together.query([filter]).map(\.id), try oneByOne.query([filter]).map(\.id), "\(filter)")
        }
    }

    /// A store written before the search index gets it when opened.
    func testAStoreWithoutTheSearchIndexIsIndexedWhenOpened() throws {
        let t = try TestStore(Backends.lmdb())
        let notes = (0..<30).map { i in
            makeEvent(
                id: random(), pubkey: alice, createdAt: Int64(100 + i), kind: 1,
                content: i % 3 == 0 ? "find me \(i)" : "other \(i)")
        }
        XCTAssertTrue(t.write(notes).allSatisfy { $0 == .saved })
        // Make it look older: no search entries, no record of them.
        try t.lmdb.env.write { txn in
            try check(mdb_drop(txn.handle, t.lmdb.dbs.search, 0))
            try txn.delete(t.lmdb.dbs.meta, Array("search_indexed".utf8))
        }
        XCTAssertEqual(try t.query([Filter(search: "find")]).count, 0)
        try t.reopen()
        XCTAssertEqual(try t.query([Filter(search: "find")]).count, 10)
        XCTAssertEqual(try t.lmdb.statistics().tables.first { $0.name == "search" }?.entries, 30 * 2 + 10)
    }

    /// The allocation-free path for ASCII content gives the same search keys as `SearchText`.
    func testASCIIContentGetsTheSameSearchKeysAsTheGeneralPath() throws {
        let t = try TestStore(Backends.lmdb())
        let long = String(repeating: "x", count: 80)
        for content in [
            "Hello, NOSTR world! hello again: 42 times, v2.0 \(long) end", "", "   ", "a-b_c d",
            String((0..<100).map { "w\($0) " }.joined()),
        ] {
            let event = makeEvent(id: random(), pubkey: alice, createdAt: 500, kind: 1, content: content)
            var scratch: [UInt8] = []
            var got: [[UInt8]] = []
            IndexKeys.forEachSearchEntry(of: event, serial: 9, in: t.lmdb.dbs, scratch: &scratch) { _, key in
                got.append(key)
            }
            let expected = SearchText.tokens(content, limit: IndexKeys.searchTokensPerEvent).map { token in
                var key = IndexKeys.valueKey(token)
                IndexKeys.append(IndexKeys.inverted(500), to: &key)
                IndexKeys.append(UInt64(9), to: &key)
                return key
            }
            XCTAssertEqual(got, expected, content)
        }
    }
}
