import EventStorage
import NostrCore
import NostrTools
import XCTest

/// NIP-01, NIP-09 and NIP-40 storage semantics, for every backend.
final class StoreSemanticsTests: XCTestCase {
    let alice = Bytes32(w0: 1, w1: 1, w2: 1, w3: 1)
    let bob = Bytes32(w0: 2, w1: 2, w2: 2, w3: 2)
    var rng = SplitMix64(seed: 7)

    func event(_ pubkey: Bytes32, _ createdAt: Int64, kind: UInt16, tags: Tags = [], id: Bytes32? = nil) -> Event {
        makeEvent(id: id ?? .random(using: &rng), pubkey: pubkey, createdAt: createdAt, kind: kind, tags: tags)
    }

    func testDuplicateIsReported() throws {
        try forEachBackend { t in
            let e = event(alice, 100, kind: 1)
            XCTAssertEqual(t.write([e, e]), [.saved, .duplicate])
            XCTAssertEqual(t.write(e), .duplicate)
            XCTAssertEqual(t.storage.count, 1)
        }
    }

    func testReplaceableKeepsOnlyTheNewest() throws {
        try forEachBackend { t in
            let v1 = event(alice, 100, kind: 0)
            let v2 = event(alice, 200, kind: 0)
            let old = event(alice, 150, kind: 0)
            let other = event(bob, 50, kind: 0)
            XCTAssertEqual(t.write([v1, v2, old, other]), [.saved, .replaced, .obsolete, .saved])
            XCTAssertEqual(try t.query([Filter(authors: [alice], kinds: [0])]).map(\.id), [v2.id])
            XCTAssertEqual(try t.query([Filter(kinds: [0])]).count, 2)
            XCTAssertNil(try t.storage.event(id: v1.id), "the replaced version is gone")
        }
    }

    func testReplaceableTieKeepsTheLowestID() throws {
        try forEachBackend { t in
            let low = event(alice, 100, kind: 10002, id: Bytes32(w0: 5, w1: 0, w2: 0, w3: 0))
            let high = event(alice, 100, kind: 10002, id: Bytes32(w0: 9, w1: 0, w2: 0, w3: 0))
            XCTAssertEqual(t.write([high, low]), [.saved, .replaced], "the lower id replaces the higher")
            XCTAssertEqual(t.write(high), .obsolete)
            XCTAssertEqual(try t.query([Filter(authors: [alice])]).map(\.id), [low.id])
        }
    }

    func testAddressableIsKeyedByDTag() throws {
        try forEachBackend { t in
            let a1 = event(alice, 100, kind: 30023, tags: [["d", "post-a"]])
            let b1 = event(alice, 100, kind: 30023, tags: [["d", "post-b"]])
            let a2 = event(alice, 300, kind: 30023, tags: [["d", "post-a"]])
            let none = event(alice, 100, kind: 30023)
            let emptyD = event(alice, 200, kind: 30023, tags: [["d", ""]])
            XCTAssertEqual(t.write([a1, b1, a2, none, emptyD]), [.saved, .saved, .replaced, .saved, .replaced])
            let stored = Set(try t.query([Filter(kinds: [30023])]).map(\.id))
            XCTAssertEqual(stored, [a2.id, b1.id, emptyD.id], "no d tag and an empty d tag are the same address")
        }
    }

    func testTagValuesThatShareAnIndexKeyAreToldApart() throws {
        // Index keys hold 16 bytes per tag value: two ids that agree in their first 32 hex
        // characters share a key, and a short value is held as it is. Each query must still get
        // exactly its own events.
        try forEachBackend { t in
            let x = String(repeating: "ab", count: 16) + String(repeating: "0", count: 32)
            let y = String(repeating: "ab", count: 16) + String(repeating: "1", count: 32)
            let long = String(repeating: "a long hashtag ", count: 4)
            let ex = event(alice, 100, kind: 1, tags: [["e", x]])
            let ey = event(alice, 200, kind: 1, tags: [["e", y], ["t", "nostr"]])
            let et = event(alice, 300, kind: 1, tags: [["t", "nost"], ["t", long], ["E", x]])
            XCTAssertEqual(t.write([ex, ey, et]), [.saved, .saved, .saved])
            func ids(_ name: Character, _ values: Set<String>) throws -> [Bytes32] {
                try t.query([Filter(tags: [.init(name: name.asciiValue!, values: values)])]).map(\.id)
            }
            XCTAssertEqual(try ids("e", [x]), [ex.id])
            XCTAssertEqual(try ids("e", [y]), [ey.id])
            XCTAssertEqual(try ids("e", [x, y]), [ey.id, ex.id])
            XCTAssertEqual(try ids("E", [x]), [et.id])
            XCTAssertEqual(try ids("t", ["nostr"]), [ey.id])
            XCTAssertEqual(try ids("t", ["nost"]), [et.id])
            XCTAssertEqual(try ids("t", [long]), [et.id])
            XCTAssertEqual(try ids("t", ["nos"]), [])
            XCTAssertEqual(try ids("e", [String(repeating: "ab", count: 16) + String(repeating: "2", count: 32)]), [])
        }
    }

    func testDeletionByEventID() throws {
        try forEachBackend { t in
            let mine = event(alice, 100, kind: 1)
            let theirs = event(bob, 100, kind: 1)
            XCTAssertEqual(t.write([mine, theirs]), [.saved, .saved])
            let deletion = event(alice, 200, kind: 5, tags: [["e", mine.id.hex], ["e", theirs.id.hex], ["k", "1"]])
            XCTAssertEqual(t.write(deletion), .saved)
            XCTAssertNil(try t.storage.event(id: mine.id))
            XCTAssertNotNil(try t.storage.event(id: theirs.id), "only the deleter's own events are deleted")
            XCTAssertEqual(try t.query([Filter(kinds: [5])]).map(\.id), [deletion.id], "the deletion itself is stored")
            XCTAssertEqual(t.write(mine), .deleted, "a deleted event cannot be published again")
            XCTAssertEqual(t.write(theirs), .duplicate)
        }
    }

    func testDeletionBeforeTheEventArrives() throws {
        try forEachBackend { t in
            let later = event(alice, 100, kind: 1)
            XCTAssertEqual(t.write(event(alice, 200, kind: 5, tags: [["e", later.id.hex]])), .saved)
            XCTAssertEqual(t.write(later), .deleted)
            let bobsSameID = makeEvent(id: later.id, pubkey: bob, createdAt: 100, kind: 1)
            XCTAssertEqual(t.write(bobsSameID), .saved, "another author's deletion request does not bind")
        }
    }

    func testDeletionOfADeletionHasNoEffect() throws {
        try forEachBackend { t in
            let d1 = event(alice, 100, kind: 5, tags: [["e", Bytes32.random(using: &rng).hex]])
            XCTAssertEqual(t.write(d1), .saved)
            XCTAssertEqual(t.write(event(alice, 200, kind: 5, tags: [["e", d1.id.hex]])), .saved)
            XCTAssertNotNil(try t.storage.event(id: d1.id))
        }
    }

    func testDeletionByAddressUpToItsCreatedAt() throws {
        try forEachBackend { t in
            let v1 = event(alice, 100, kind: 30023, tags: [["d", "x"]])
            let other = event(alice, 100, kind: 30023, tags: [["d", "y"]])
            XCTAssertEqual(t.write([v1, other]), [.saved, .saved])
            let address = "30023:\(alice.hex):x"
            XCTAssertEqual(t.write(event(bob, 500, kind: 5, tags: [["a", address]])), .saved)
            XCTAssertNotNil(try t.storage.event(id: v1.id), "bob cannot delete alice's address")
            XCTAssertEqual(t.write(event(alice, 200, kind: 5, tags: [["a", address]])), .saved)
            XCTAssertNil(try t.storage.event(id: v1.id))
            XCTAssertNotNil(try t.storage.event(id: other.id))
            XCTAssertEqual(
                t.write(event(alice, 150, kind: 30023, tags: [["d", "x"]])), .deleted, "older than the deletion")
            XCTAssertEqual(
                t.write(event(alice, 200, kind: 30023, tags: [["d", "x"]])), .deleted, "as old as the deletion")
            XCTAssertEqual(
                t.write(event(alice, 250, kind: 30023, tags: [["d", "x"]])), .saved, "newer versions are welcome")
            // A replaceable (non-addressable) address has an empty d part.
            let profile = event(alice, 100, kind: 0)
            XCTAssertEqual(t.write(profile), .saved)
            XCTAssertEqual(t.write(event(alice, 300, kind: 5, tags: [["a", "0:\(alice.hex):"]])), .saved)
            XCTAssertNil(try t.storage.event(id: profile.id))
        }
    }

    func testQueriesWithoutTagConditionsStillLeaveOutExpiredEvents() throws {
        // Such queries check events by their head and decode only those whose tags mention
        // "expiration"; the word elsewhere must not hide an event, and an expired one must not show.
        try forEachBackend { t in
            t.now = 1_700_000_200
            let expired = event(alice, 100, kind: 1, tags: [["p", bob.hex], ["expiration", "1700000100"]])
            let later = event(alice, 101, kind: 1, tags: [["expiration", "1700000300"]])
            let inContent = makeEvent(
                id: .random(using: &rng), pubkey: alice, createdAt: 102, kind: 1, content: #"the "expiration" tag"#)
            let asValue = event(alice, 103, kind: 1, tags: [["t", "expiration"]])
            XCTAssertEqual(t.write([expired, later, inContent, asValue]), [.saved, .saved, .saved, .saved])
            let live = [asValue.id, inContent.id, later.id]
            XCTAssertEqual(try t.query([Filter(kinds: [1])]).map(\.id), live)
            XCTAssertEqual(try t.query([Filter(authors: [alice])]).map(\.id), live)
            XCTAssertEqual(try t.query([Filter(since: 100, until: 101)]).map(\.id), [later.id])
            XCTAssertEqual(try t.query([Filter(ids: [expired.id, later.id])]).map(\.id), [later.id])
            XCTAssertEqual(
                try t.query([Filter(kinds: [1], tags: [.init(name: UInt8(ascii: "p"), values: [bob.hex])])]), [])
            XCTAssertEqual(try t.query([Filter(kinds: [7])]), [])
        }
    }

    func testExpiredEventsAreNotServedAndAreSwept() throws {
        try forEachBackend { t in
            let expiring = event(alice, 100, kind: 1, tags: [["expiration", "1700000100"]])
            let lasting = event(alice, 100, kind: 1)
            XCTAssertEqual(t.write([expiring, lasting]), [.saved, .saved])
            XCTAssertEqual(try t.query([Filter(authors: [alice])]).count, 2)
            t.now = 1_700_000_100
            XCTAssertEqual(try t.query([Filter(authors: [alice])]).map(\.id), [lasting.id])
            XCTAssertEqual(try t.query([Filter(ids: [expiring.id])]).count, 0)
            XCTAssertNotNil(try t.storage.event(id: expiring.id), "still stored until the sweep")
            // The sweep runs on the writer's thread, as the writer's own timer runs it.
            let swept = XCTestExpectation(description: "swept")
            XCTAssertTrue(
                t.writer.perform { storage in
                    XCTAssertEqual(try? storage.sweepExpired(now: 1_700_000_100, max: 1000), 1)
                    swept.fulfill()
                })
            XCTAssertEqual(XCTWaiter().wait(for: [swept], timeout: 30), .completed)
            XCTAssertNil(try t.storage.event(id: expiring.id), "swept")
            XCTAssertNotNil(try t.storage.event(id: lasting.id))
        }
    }

    func testDataSurvivesCloseAndReopen() throws {
        try forEachBackend { t in
            let events = (0..<50).map { event(alice, Int64(100 + $0), kind: 1, tags: [["t", "x"]]) }
            XCTAssertTrue(t.write(events).allSatisfy { $0 == .saved })
            try t.reopen()
            XCTAssertEqual(t.storage.count, 50)
            XCTAssertEqual(
                try t.query([Filter(tags: [.init(name: UInt8(ascii: "t"), values: ["x"])], limit: 5)]).map(\.createdAt),
                [149, 148, 147, 146, 145])
            XCTAssertEqual(t.write(events[0]), .duplicate)
        }
    }

}
