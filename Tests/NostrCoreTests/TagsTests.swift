import NostrCore
import NostrTools
import XCTest

final class TagsTests: XCTestCase {
    let hex = "5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36"

    func testHoldsTagsAndFieldsInOrder() {
        let tags: Tags = [["e", hex, "wss://relay.example.com", "reply"], ["p", "ü"], ["-"], ["t", ""]]
        XCTAssertEqual(tags.count, 4)
        XCTAssertEqual(
            tags.arrays, [["e", hex, "wss://relay.example.com", "reply"], ["p", "ü"], ["-"], ["t", ""]])
        XCTAssertEqual(tags.map(\.count), [4, 2, 1, 2])
        XCTAssertEqual(
            tags.map(\.singleLetterName), [UInt8(ascii: "e"), UInt8(ascii: "p"), UInt8(ascii: "-"), UInt8(ascii: "t")])
        let e = tags.first!
        XCTAssertTrue(e.field(1, equals: hex))
        XCTAssertFalse(e.field(1, equals: String(hex.dropLast())))
        XCTAssertFalse(e.field(2, equals: "wss://relay.example.co"))
        XCTAssertEqual(e.withField(2) { $0.count }, 23)
        XCTAssertEqual(Array(e), ["e", hex, "wss://relay.example.com", "reply"])
        XCTAssertTrue(Array(tags)[3].field(1, equals: ""))
        XCTAssertFalse(Array(tags)[0].field(1, equals: Array(tags)[1], field: 1))
        XCTAssertNil(Tags([["tt", "x"]]).first!.singleLetterName)
        XCTAssertTrue(Tags().isEmpty)
        XCTAssertEqual(Tags().arrays, [])
    }

    func testEqualTagsAreEqualHoweverBuilt() {
        var built = Tags()
        built.append(["t", "a"])
        built.append(["p", hex])
        XCTAssertEqual(built, [["t", "a"], ["p", hex]])
        XCTAssertNotEqual(built, [["t", "a"], ["p", hex], ["x"]])
        XCTAssertNotEqual(Tags([["ta"]]), Tags([["t", "a"]]), "field boundaries count, not only bytes")
        XCTAssertEqual("\(Tags([["t", "a"]]))", #"[["t", "a"]]"#)
    }

    func testParsedTagsDecodeEscapesAndKeepTheirBytes() throws {
        let message =
            #"["EVENT",{"id":"\#(hex)","pubkey":"\#(hex)","created_at":1,"kind":1,"tags":[["t","a\"b\\c\u00e9\ud83d\udc26"],["e","\#(hex)","",""]],"content":"","sig":"\#(hex)\#(hex)"}]"#
        guard case .event(let event) = try ClientMessage.parse(Array(message.utf8)) else {
            return XCTFail("not an EVENT")
        }
        XCTAssertEqual(event.tags.arrays, [["t", "a\"b\\cé🐦"], ["e", hex, "", ""]])
        // Written back with the relay's escaping, then read again: the same tags.
        XCTAssertEqual(Event.decode(json: event.jsonBytes)?.tags, event.tags)
    }

    func testParserRefusesTagsThatAreNotArraysOfStrings() {
        for tags in [#"[[]]"#, #"[["t",1]]"#, #"["t"]"#, #"{}"#, #"[["t","\ud800"]]"#, #"[["t"],[]]"#] {
            let message =
                #"["EVENT",{"id":"\#(hex)","pubkey":"\#(hex)","created_at":1,"kind":1,"tags":\#(tags),"content":"","sig":"\#(hex)\#(hex)"}]"#
            XCTAssertThrowsError(try ClientMessage.parse(Array(message.utf8)), tags)
        }
    }

    func testEventHelpersReadTheFlatTags() {
        let signer = Signer(seed: 5)
        let event = signer.event(
            kind: 30023, content: "",
            tags: [["d", "slug"], ["expiration", "1700000100"], ["challenge", "c1"], ["relay", "wss://r/"], ["-"]],
            createdAt: 1_700_000_000)
        XCTAssertEqual(event.dTag, "slug")
        XCTAssertEqual(event.expiration, 1_700_000_100)
        XCTAssertTrue(event.isProtected)
        XCTAssertEqual(event.firstValue(ofTag: "challenge"), "c1")
        XCTAssertEqual(event.firstValue(ofTag: "relay"), "wss://r/")
        XCTAssertNil(event.firstValue(ofTag: "missing"))
        var indexed: [String] = []
        event.forEachIndexedTag { name, value in
            indexed.append("\(Character(Unicode.Scalar(name))):\(String(decoding: value, as: UTF8.self))")
        }
        XCTAssertEqual(indexed, ["d:slug"])
        let plain = signer.event(kind: 1, content: "", tags: [["d"]], createdAt: 1)
        XCTAssertEqual(plain.dTag, "")
        XCTAssertNil(plain.expiration)
        XCTAssertFalse(plain.isProtected)
    }
}
