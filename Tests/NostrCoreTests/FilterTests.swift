import NostrCore
import NostrTools
import XCTest

final class FilterTests: XCTestCase {
    let alice = Signer(seed: 1)
    let bob = Signer(seed: 2)

    func testEachConditionAndTheirConjunction() {
        let e = alice.event(
            kind: 1, content: "x", tags: [["t", "nostr"], ["e", String(repeating: "a", count: 64)], ["tt", "zz"]],
            createdAt: 100)
        XCTAssertTrue(Filter().matches(e))
        XCTAssertTrue(Filter(ids: [e.id]).matches(e))
        XCTAssertFalse(Filter(ids: [.zero]).matches(e))
        XCTAssertTrue(Filter(authors: [bob.publicKey, alice.publicKey]).matches(e))
        XCTAssertFalse(Filter(authors: [bob.publicKey]).matches(e))
        XCTAssertTrue(Filter(kinds: [0, 1]).matches(e))
        XCTAssertFalse(Filter(kinds: [0]).matches(e))
        XCTAssertTrue(Filter(since: 100, until: 100).matches(e), "since and until are inclusive")
        XCTAssertFalse(Filter(since: 101).matches(e))
        XCTAssertFalse(Filter(until: 99).matches(e))
        let t = UInt8(ascii: "t")
        XCTAssertTrue(Filter(tags: [.init(name: t, values: ["nostr", "other"])]).matches(e))
        XCTAssertFalse(Filter(tags: [.init(name: t, values: ["other"])]).matches(e))
        XCTAssertFalse(
            Filter(tags: [.init(name: UInt8(ascii: "z"), values: ["zz"])]).matches(e),
            "multi-letter tags are not indexed")
        XCTAssertFalse(Filter(kinds: [1], tags: [.init(name: t, values: ["nostr"])], since: 200).matches(e), "AND")
        XCTAssertTrue([Filter(kinds: [7]), Filter(authors: [alice.publicKey])].anyMatches(e), "filters are OR-ed")
    }

    func testLargeListsUseSortedSearch() {
        let many = (0..<100).map { Signer(seed: UInt64(1000 + $0)).publicKey } + [alice.publicKey]
        let e = alice.event(kind: 1, content: "", createdAt: 1)
        XCTAssertTrue(Filter(authors: many).matches(e))
        XCTAssertFalse(Filter(authors: Array(many.dropLast())).matches(e))
    }
}
