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

    /// `Filter.json` (what `tern stream` sends) reads back as the same filter.
    func testAFilterWrittenAsJSONReadsBackTheSame() throws {
        func parse(_ json: String) throws -> Filter {
            guard case .req(_, let filters) = try ClientMessage.parse(Array(#"["REQ","x",\#(json)]"#.utf8)) else {
                throw ClientMessageError.malformed("not a REQ")
            }
            return filters[0]
        }
        let hex = String(repeating: "ab", count: 32)
        for json in [
            "{}", #"{"kinds":[1,7],"limit":5}"#,
            ##"{"authors":["\##(hex)"],"#t":["nostr","zap \"quoted\""],"since":10,"until":20}"##,
            ##"{"ids":["\##(hex)"],"#e":["\##(hex)"],"#p":["\##(hex)"]}"##,
        ] {
            let filter = try parse(json)
            XCTAssertEqual(try parse(filter.json), filter, json)
        }
        XCTAssertEqual(try parse(#"{"kinds":[7,1],"limit":5}"#).json, #"{"kinds":[1,7],"limit":5}"#)
    }
}
