import EventStorage
import Foundation
import NostrCore
import NostrReference
import NostrTools
import XCTest

/// What the relay needs of any backend beyond the NIP-01 semantics: NIP-62 vanish, the ids
/// limit, counts, sync items, snapshots and their commit sequences, stepwise queries, the scan
/// budget, and the three-way agreement with the naive reference.
final class StorageProtocolTests: XCTestCase {
    let alice = Bytes32(w0: 1, w1: 1, w2: 1, w3: 1)
    let bob = Bytes32(w0: 2, w1: 2, w2: 2, w3: 2)
    var rng = SplitMix64(seed: 8)

    func event(_ pubkey: Bytes32, _ createdAt: Int64, kind: UInt16, tags: Tags = []) -> Event {
        makeEvent(id: .random(using: &rng), pubkey: pubkey, createdAt: createdAt, kind: kind, tags: tags)
    }

    func testRequestToVanishDeletesTheAuthorsEventsAndGiftWrapsToThemAndRefusesThemAgain() throws {
        try forEachBackend { t in
            let note = event(alice, 100, kind: 1)
            let profile = event(alice, 150, kind: 0)
            let deletion = event(alice, 160, kind: 5, tags: [["e", Bytes32.random(using: &rng).hex]])
            let afterwards = event(alice, 300, kind: 1)
            let bobs = event(bob, 100, kind: 1)
            let wrapToAlice = event(bob, 120, kind: 1059, tags: [["p", alice.hex]])
            let wrapToBob = event(alice, 120, kind: 1059, tags: [["p", bob.hex]])
            let wrapToCarol = event(bob, 120, kind: 1059, tags: [["p", bob.hex]])
            XCTAssertEqual(
                t.write([note, profile, deletion, afterwards, bobs, wrapToAlice, wrapToBob, wrapToCarol]),
                Array(repeating: .saved, count: 8))
            let vanish = event(alice, 200, kind: 62, tags: [["relay", "ALL_RELAYS"]])
            XCTAssertEqual(t.write(vanish), .saved, "the request itself is kept")
            for gone in [note, profile, deletion, wrapToAlice, wrapToBob] {
                XCTAssertFalse(try t.stored(gone.id), "\(gone.kind) of \(gone.createdAt) is gone")
            }
            for kept in [afterwards, bobs, wrapToCarol, vanish] { XCTAssertTrue(try t.stored(kept.id)) }
            XCTAssertEqual(t.write(note), .deleted, "deleted events cannot come back")
            XCTAssertEqual(t.write(event(alice, 199, kind: 1)), .deleted, "nor older ones")
            XCTAssertEqual(t.write(event(alice, 201, kind: 1)), .saved, "newer events are welcome")
            XCTAssertEqual(t.write(event(bob, 120, kind: 1059, tags: [["p", alice.hex]])), .saved, "new DMs too")
            let undo = event(alice, 400, kind: 5, tags: [["e", vanish.id.hex]])
            XCTAssertEqual(t.write(undo), .saved)
            XCTAssertTrue(try t.stored(vanish.id), "a deletion request against a request to vanish has no effect")
        }
    }

    func testAReadScopeKeepsPrivateKindsToTheirPartiesAndTheLimitCountsWhatIsSeen() throws {
        let carol = Bytes32(w0: 3, w1: 3, w2: 3, w3: 3)
        try forEachBackend { t in
            let notes = (0..<3).map { event(alice, Int64(100 + $0), kind: 1) }
            // Newer than the notes, so that a limit of 3 would be spent on them if they counted.
            let toBob = (0..<3).map { event(alice, Int64(200 + $0), kind: 4, tags: [["p", bob.hex]]) }
            let wrap = event(carol, 300, kind: 1059, tags: [["t", "x"], ["p", bob.hex]])
            let reaction = event(carol, 310, kind: 7)
            let expiring = event(alice, 320, kind: 4, tags: [["p", bob.hex], ["expiration", "99999999999"]])
            XCTAssertTrue(t.write(notes + toBob + [wrap, reaction, expiring]).allSatisfy { $0 == .saved })
            func ids(_ scope: ReadScope, _ filter: Filter = Filter(limit: 3)) throws -> Set<Bytes32> {
                Set(try t.storage.fetch([filter], defaultLimit: 100, now: t.now, scope: scope).map(\.id))
            }
            let stranger = ReadScope(hiddenKinds: [7], partyKinds: [4, 1059], parties: [])
            XCTAssertEqual(try ids(stranger), Set(notes.map(\.id)), "the limit is spent on what the reader may see")
            let asBob = ReadScope(hiddenKinds: [], partyKinds: [4, 1059], parties: [bob])
            XCTAssertEqual(try ids(asBob), [wrap.id, reaction.id, expiring.id], "p-tagged, through the stored tags")
            XCTAssertEqual(
                try ids(asBob, Filter(kinds: [4], limit: 10)), Set((toBob + [expiring]).map(\.id)),
                "also when the event must be decoded (it mentions expiration)")
            let asAlice = ReadScope(hiddenKinds: [], partyKinds: [4, 1059], parties: [alice])
            XCTAssertEqual(
                try ids(asAlice, Filter(kinds: [4, 1059])), Set((toBob + [expiring]).map(\.id)), "the author")
            XCTAssertEqual(try ids(.everything, Filter(kinds: [4, 1059])).count, 5)
            XCTAssertEqual(try t.storage.count([Filter()], now: t.now, scope: stranger), 3)
            XCTAssertEqual(try t.storage.count([Filter()], now: t.now, scope: asBob), 9)
        }
    }

    func testAnIDsFilterWithoutALimitGetsEveryIDItNames() throws {
        try forEachBackend { t in
            let events = (0..<150).map { event(alice, Int64(100 + $0), kind: 1) }
            XCTAssertTrue(t.write(events).allSatisfy { $0 == .saved })
            let ids = events.map(\.id)
            XCTAssertEqual(try t.query([Filter(ids: ids)], limit: 100).count, 150)
            XCTAssertEqual(try t.query([Filter(ids: ids, limit: 20)], limit: 100).count, 20)
            XCTAssertEqual(try t.query([Filter(authors: [alice])], limit: 100).count, 100)
        }
    }

    func testCountAndSyncItems() throws {
        try forEachBackend { t in
            var events = (0..<30).map { event(alice, Int64(100 + $0 % 10), kind: 1, tags: [["t", "x"]]) }
            events += (0..<5).map { event(bob, Int64(100 + $0), kind: 7) }
            XCTAssertTrue(t.write(events).allSatisfy { $0 == .saved })
            let tagged = Filter(tags: [.init(name: UInt8(ascii: "t"), values: ["x"])])
            XCTAssertEqual(try t.storage.count([tagged], now: t.now), 30, "a count has no limit")
            XCTAssertEqual(try t.storage.count([tagged, Filter(authors: [alice])], now: t.now), 30, "counted once")
            XCTAssertEqual(try t.storage.count([tagged, Filter(kinds: [7])], now: t.now), 35)
            let items = try t.storage.items(Filter(authors: [alice], limit: 3), now: t.now)
            XCTAssertEqual(items.count, 30, "sync items ignore the limit")
            XCTAssertEqual(
                items,
                events.prefix(30).map { SyncItem(createdAt: $0.createdAt, id: $0.id) }.sorted(),
                "oldest first, ties by lowest id")
            XCTAssertThrowsError(try t.storage.items(Filter(authors: [alice]), now: t.now, scope: .everything, max: 29))
            {
                XCTAssertEqual($0 as? SyncItemsRefused, .tooMany(max: 29))
            }
            XCTAssertEqual(
                try t.storage.items(Filter(authors: [alice]), now: t.now, scope: .everything, max: 30).count, 30)
            // NIP-45's registers over the counted events' pubkeys.
            let counted = try t.storage.count([Filter(kinds: [7])], now: t.now, scope: .everything, hllOffset: 8)
            var expected = HyperLogLog(offset: 8)
            expected.add(bob)
            XCTAssertEqual(counted, CountResult(count: 5, approximate: false, hll: expected))
        }
    }

    func testPrivateKindsStayOutOfSyncItemsAndCounts() throws {
        try forEachBackend { t in
            let dm = event(bob, 100, kind: 4, tags: [["p", alice.hex]])
            let note = event(bob, 101, kind: 1)
            XCTAssertTrue(t.write([dm, note]).allSatisfy { $0 == .saved })
            let stranger = ReadScope(hiddenKinds: [], partyKinds: [4, 1059], parties: [])
            XCTAssertEqual(try t.storage.items(Filter(), now: t.now, scope: stranger, max: 10).map(\.id), [note.id])
            XCTAssertEqual(try t.storage.count([Filter()], now: t.now, scope: stranger), 1)
            let asAlice = ReadScope(hiddenKinds: [], partyKinds: [4, 1059], parties: [alice])
            XCTAssertEqual(try t.storage.items(Filter(), now: t.now, scope: asAlice, max: 10).count, 2)
        }
    }

    func testACountPastTheScanBudgetIsApproximate() throws {
        try forEachBackend(maxScanPerFilter: 50) { t in
            XCTAssertTrue(t.write((0..<80).map { event(alice, Int64(1000 + $0), kind: 1) }).allSatisfy { $0 == .saved })
            let result = try t.storage.count([Filter(kinds: [1])], now: t.now, scope: .everything, hllOffset: nil)
            XCTAssertEqual(result.count, 50)
            XCTAssertTrue(result.approximate)
            XCTAssertFalse(
                try t.storage.count([Filter(kinds: [1], since: 1040)], now: t.now, scope: .everything, hllOffset: nil)
                    .approximate)
            XCTAssertThrowsError(try t.storage.items(Filter(kinds: [1]), now: t.now, scope: .everything, max: 1000)) {
                XCTAssertEqual($0 as? SyncItemsRefused, .scanBudget)
            }
        }
    }

    func testAQueryReadsOneSnapshotAndKnowsItsCommitSequence() throws {
        try forEachBackend { t in
            let first = event(alice, 100, kind: 1)
            XCTAssertEqual(t.write(first), .saved)
            let query = try t.storage.query([Filter(authors: [alice])], defaultLimit: 100, now: t.now)
            let second = event(alice, 200, kind: 1)
            let requester = SequenceRequester(expectation(description: "committed"))
            XCTAssertTrue(t.writer.submit(Write.byKind(second), requester: requester))
            wait(for: [requester.done], timeout: 30)
            XCTAssertEqual(try query.run().map(\.id), [first.id], "the write after the snapshot is not seen")
            let committedAt = try XCTUnwrap(requester.values.first)
            XCTAssertGreaterThan(committedAt, query.sequence, "so its sequence is past the snapshot's")
            let later = try t.storage.query([Filter(authors: [alice])], defaultLimit: 100, now: t.now)
            XCTAssertEqual(try later.run().map(\.id), [second.id, first.id])
            XCTAssertGreaterThanOrEqual(later.sequence, committedAt)
        }
    }

    func testAQueryRunsInStepsAndCanBeCancelled() throws {
        try forEachBackend { t in
            let events = (0..<500).map { event(alice, Int64(1000 + $0), kind: $0 % 2 == 0 ? 1 : 7) }
            XCTAssertTrue(t.write(events).allSatisfy { $0 == .saved })
            let query = try t.storage.query([Filter(kinds: [1], limit: 200)], defaultLimit: 100, now: t.now)
            var slices = 0
            while try !query.advance(steps: 10) { slices += 1 }
            XCTAssertGreaterThan(slices, 10, "small steps take many slices")
            let expected = events.filter { $0.kind == 1 }.reversed().prefix(200).map(\.id)
            XCTAssertTrue(query.results.map(\.id) == expected, "stepping loses or repeats nothing")
            let cancelled = try t.storage.query([Filter(kinds: [1])], defaultLimit: 100, now: t.now)
            _ = try cancelled.advance(steps: 5)
            cancelled.cancel()
            XCTAssertTrue(try cancelled.advance(steps: 5), "a cancelled query is over")
        }
    }

    func testAFeedOfManyAuthorsGetsTheNewestAcrossThemAll() throws {
        // Many prefixes, each with more events than the limit, and many equal timestamps: the
        // answer is the newest `limit` over all authors, ties by lowest id.
        try forEachBackend { t in
            let authors = (0..<40).map { _ in Bytes32.random(using: &rng) }
            var events: [Event] = []
            for (i, author) in authors.enumerated() {
                for j in 0..<30 { events.append(event(author, Int64(1000 + (i * 7 + j * 13) % 50), kind: 1)) }
            }
            XCTAssertTrue(t.write(events).allSatisfy { $0 == .saved })
            for limit in [1, 7, 45, 500] {
                let expected = events.sorted {
                    $0.createdAt != $1.createdAt ? $0.createdAt > $1.createdAt : $0.id < $1.id
                }.prefix(limit).map(\.id)
                XCTAssertTrue(
                    try t.query([Filter(authors: authors, kinds: [1], limit: limit)]).map(\.id) == Array(expected),
                    "limit \(limit)")
            }
        }
    }

    func testTheScanBudgetCutsAnAnswerShort() throws {
        try forEachBackend(maxScanPerFilter: 50) { t in
            let events = (0..<200).map { event(alice, Int64(1000 + $0), kind: 1) }
            XCTAssertTrue(t.write(events).allSatisfy { $0 == .saved })
            XCTAssertLessThanOrEqual(try t.query([Filter(kinds: [1], limit: 500)]).count, 50)
        }
    }

    func testQueriesAgreeWithTheNaiveReference() throws {
        var corpus = RandomCorpus(seed: 42, events: 3000)
        try forEachBackend { t in
            XCTAssertTrue(t.write(corpus.events).allSatisfy { $0 == .saved })
            XCTAssertEqual(t.storage.count, corpus.events.count)
            for round in 0..<400 {
                let filters = (0..<(round % 5 == 0 ? 3 : 1)).map { _ in corpus.randomFilter() }
                let got = try t.storage.fetch(filters, defaultLimit: 50, now: 1_700_000_000).map(\.id)
                let expected = corpus.reference(filters, defaultLimit: 50)
                XCTAssertEqual(got, expected, "\(t.backend.name) round \(round): \(filters)")
                if got != expected { break }
            }
        }
    }

    /// NIP-50: every query word in the content, ranked by match quality then recency, the limit
    /// after ranking; unicode words; kinds and other conditions still apply; DMs are not searched.
    func testSearchRanksByMatchQualityThenRecency() throws {
        func note(_ content: String, _ at: Int64, kind: UInt16 = 1, tags: Tags = []) -> Event {
            makeEvent(id: .random(using: &rng), pubkey: alice, createdAt: at, kind: kind, tags: tags, content: content)
        }
        try forEachBackend { t in
            let dense = note("Nostr relay", 100)
            let older = note("a nostr relay written in swift, with many other words around it", 110)
            let newer = note("another nostr relay written in swift, with many other words around it", 120)
            let oneWord = note("nostr only", 130)
            let cafe = note("Un café à Paris", 140)
            let russian = note("Привет мир", 150)
            let chinese = note("你好世界", 160)
            let emoji = note("gm 🤙 nostr", 170)
            let reaction = note("nostr relay", 180, kind: 7)
            let dm = note("nostr relay", 190, kind: 4, tags: [["p", bob.hex]])
            XCTAssertTrue(
                t.write([dense, older, newer, oneWord, cafe, russian, chinese, emoji, reaction, dm]).allSatisfy {
                    $0 == .saved
                })
            func search(_ query: String, kinds: [UInt16]? = nil, limit: Int = 10) throws -> [Bytes32] {
                try t.query([Filter(kinds: kinds, limit: limit, search: query)]).map(\.id)
            }
            XCTAssertEqual(try search("NOSTR relay", kinds: [1]), [dense.id, newer.id, older.id])
            XCTAssertEqual(
                try search("nostr relay", kinds: [1], limit: 2), [dense.id, newer.id], "limit after ranking")
            XCTAssertEqual(try search("relay nostr"), [reaction.id, dense.id, newer.id, older.id], "no DMs")
            XCTAssertEqual(try search("CAFÉ"), [cafe.id])
            XCTAssertEqual(try search("привет"), [russian.id])
            XCTAssertEqual(try search("世"), [chinese.id])
            XCTAssertEqual(try search("🤙"), [emoji.id])
            XCTAssertEqual(try search("relay language:en", kinds: [7]), [reaction.id], "extensions are ignored")
            XCTAssertEqual(try search("absent"), [])
        }
    }
}

/// Records the commit sequences of its writes.
final class SequenceRequester: WriteRequester, @unchecked Sendable {
    let done: XCTestExpectation
    private let lock = NSLock()
    private var recorded: [UInt64] = []
    init(_ done: XCTestExpectation) { self.done = done }
    var values: [UInt64] { lock.withLock { recorded } }
    func written(_ committed: Committed) {
        lock.withLock { recorded.append(committed.sequence) }
        done.fulfill()
    }
}
