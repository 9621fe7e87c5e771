import Foundation
import NostrTools
import XCTest

@testable import NostrCore

final class CanonicalSerializationTests: XCTestCase {
    /// Ids computed by an independent implementation (Python's json.dumps with
    /// ensure_ascii=False and compact separators, then hashlib.sha256) for the same fields.
    func testIDsMatchAnIndependentImplementation() {
        let pk = Bytes32(hex: "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")!
        let cases: [(Int64, UInt16, [[String]], String, String)] = [
            (
                1_707_409_439, 1, [["-"]], "hello members of the secret group",
                "f017727ad7c6b4c872639506b75ad7c8f85e0896f71610fb491625e1c0b8b2e6"
            ),
            (
                1_700_000_000, 1,
                [
                    ["t", "ñandú"],
                    ["e", "5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36", "wss://r.example.com"],
                ],
                "line\nquote\"back\\slash\rcr\ttab\u{08}bs\u{0C}ff é ✓ 🐦 </script> /",
                "81bf1def06377a9165779c432e88bd7028f2b078bad51bdfdf0ce7e714f5a80c"
            ),
            (
                0, 30023, [["d", "a:b"], ["title", "日本語"]], "",
                "ff25dc91f6b2226e8da492eb69660365baa756bfdb147f31a316f29d2009b3a5"
            ),
            (1, 0, [], "{\"name\":\"x\"}", "765bd0ca0eda715fed805a011e07927462cc1d242a5c49b411a3a47bbe8e4705"),
        ]
        for (createdAt, kind, tags, content, expected) in cases {
            let event = Event(
                id: .zero, pubkey: pk, createdAt: createdAt, kind: kind, tags: Tags(tags), content: content,
                sig: Signature64(r: .zero, s: .zero))
            XCTAssertEqual(EventID.compute(event).hex, expected)
        }
    }

    func testStoredFormRoundTripsByteForByte() throws {
        let event = Signer(seed: 3).event(kind: 1, content: "x\ny", tags: [["-"]], createdAt: 1_707_409_439)
        let parsed = try XCTUnwrap(Event.decode(json: event.jsonBytes))
        XCTAssertEqual(parsed, event)
        XCTAssertTrue(parsed.isProtected)
        XCTAssertEqual(parsed.jsonBytes, event.jsonBytes)
    }

    func testCanonicalFormLayout() {
        let event = Event(
            id: .zero, pubkey: Bytes32(hex: String(repeating: "ab", count: 32))!, createdAt: 1_700_000_000, kind: 1,
            tags: [["e", "x"], ["t", "nostr", "extra"]], content: "hi", sig: Signature64(r: .zero, s: .zero))
        XCTAssertEqual(
            String(decoding: event.canonicalBytes, as: UTF8.self),
            #"[0,"\#(String(repeating: "ab", count: 32))",1700000000,1,[["e","x"],["t","nostr","extra"]],"hi"]"#)
    }

    func testNIP01EscapesAndVerbatimCharacters() {
        let content = "line\nquote\"back\\slash\rcr\ttab\u{08}bs\u{0C}ff é ✓ 🐦 \u{01} / <>"
        let event = Event(
            id: .zero, pubkey: .zero, createdAt: 0, kind: 1, tags: [], content: content,
            sig: Signature64(r: .zero, s: .zero))
        let canonical = String(decoding: event.canonicalBytes, as: UTF8.self)
        XCTAssertTrue(
            canonical.hasSuffix(#""line\nquote\"back\\slash\rcr\ttab\bbs\fff é ✓ 🐦 "# + "\u{01}" + #" / <>"]"#),
            canonical)
        // The stored JSON stays valid JSON: the remaining control character is \u-escaped there.
        XCTAssertTrue(event.json.contains(#"\u0001"#))
    }

    func testSignedEventWithUnicodeRoundTrips() throws {
        let signer = Signer(seed: 7)
        let event = signer.event(
            kind: 1, content: "héllo \"wörld\"\n日本語 🐦\\", tags: [["t", "ñ"], ["p", signer.publicKey.hex]],
            createdAt: 1_700_000_123)
        XCTAssertTrue(Schnorr.verify(event))
        let parsed = try XCTUnwrap(Event.decode(json: event.jsonBytes))
        XCTAssertEqual(parsed, event)
        XCTAssertEqual(EventID.compute(parsed), event.id)
    }

    func testEscapedInputDecodesToTheSameID() throws {
        // A client may escape characters that the canonical form writes verbatim.
        let signer = Signer(seed: 8)
        let event = signer.event(kind: 1, content: "é/😀", createdAt: 1_700_000_000)
        let escaped = event.json.replacingOccurrences(of: "é/😀", with: #"\u00e9\/\ud83d\ude00"#)
        XCTAssertNotEqual(escaped, event.json)
        let parsed = try XCTUnwrap(Event.decode(json: Array(escaped.utf8)))
        XCTAssertEqual(parsed.content, "é/😀")
        XCTAssertEqual(EventID.compute(parsed), event.id)
    }

    func testKindClasses() {
        XCTAssertEqual(KindClass(kind: 0), .replaceable)
        XCTAssertEqual(KindClass(kind: 1), .regular)
        XCTAssertEqual(KindClass(kind: 3), .replaceable)
        XCTAssertEqual(KindClass(kind: 5), .regular)
        XCTAssertEqual(KindClass(kind: 9999), .regular)
        XCTAssertEqual(KindClass(kind: 10000), .replaceable)
        XCTAssertEqual(KindClass(kind: 19999), .replaceable)
        XCTAssertEqual(KindClass(kind: 20000), .ephemeral)
        XCTAssertEqual(KindClass(kind: 29999), .ephemeral)
        XCTAssertEqual(KindClass(kind: 30000), .addressable)
        XCTAssertEqual(KindClass(kind: 39999), .addressable)
        XCTAssertEqual(KindClass(kind: 40000), .regular)
    }

    func testBytes32HexAndOrdering() {
        let a = Bytes32(hex: "00" + String(repeating: "ff", count: 31))!
        let b = Bytes32(hex: "01" + String(repeating: "00", count: 31))!
        XCTAssertLessThan(a, b)
        XCTAssertEqual(a.hex, "00" + String(repeating: "ff", count: 31))
        XCTAssertNil(Bytes32(hex: String(repeating: "A", count: 64)), "uppercase hex is refused")
        XCTAssertNil(Bytes32(hex: String(repeating: "a", count: 63)))
    }

    func testIntegersAreWrittenInDecimal() {
        for value: Int64 in [0, 7, -7, 10, 1_700_000_000, 65535, Int64.max, Int64.min, -1_000_000] {
            var out: [UInt8] = Array("x".utf8)
            JSONWriter.appendInt(value, to: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), "x\(value)")
        }
    }

    func testJSONSizeEstimateCoversTheFixedPart() {
        let event = Event(
            id: .zero, pubkey: .zero, createdAt: 1_700_000_000, kind: 30023, tags: [], content: "",
            sig: Signature64(r: .zero, s: .zero))
        XCTAssertGreaterThanOrEqual(event.estimatedJSONSize, event.jsonBytes.count)
        XCTAssertGreaterThanOrEqual(event.estimatedJSONSize, event.canonicalBytes.count)
    }

    func testEventHeadReadsTheFixedFieldsAndWhereTheTagsAre() {
        let event = Event(
            id: Bytes32(w0: 1, w1: 2, w2: 3, w3: 4), pubkey: Bytes32(w0: 5, w1: 6, w2: 7, w3: 8),
            createdAt: 1_700_000_000,
            kind: 30023, tags: [["d", "x"], ["t", "a,b]"]], content: "c", sig: Signature64(r: .zero, s: .zero))
        let json = event.jsonBytes
        let head = json.withUnsafeBufferPointer { EventHead.decode(json: $0) }
        XCTAssertEqual(head?.id, event.id)
        XCTAssertEqual(head?.pubkey, event.pubkey)
        XCTAssertEqual(head?.createdAt, 1_700_000_000)
        XCTAssertEqual(head?.kind, 30023)
        XCTAssertEqual(head.map { String(decoding: json[$0.tags], as: UTF8.self) }, #"[["d","x"],["t","a,b]"]]"#)
        XCTAssertTrue(Filter(authors: [event.pubkey], kinds: [30023], since: 1_700_000_000).matches(head!))
        XCTAssertFalse(Filter(kinds: [1]).matches(head!))
        XCTAssertFalse(Filter(until: 1_699_999_999).matches(head!))
        XCTAssertFalse(Filter(ids: [event.pubkey]).matches(head!))
        XCTAssertFalse(
            Filter(tags: [.init(name: UInt8(ascii: "d"), values: ["x"])]).matches(head!), "tags are not in a head")
        for bad in [#"{"id":"zz"}"#, #"{"kind":1}"#, "[]", #"{"id":5,"#, ""] {
            XCTAssertNil(Array(bad.utf8).withUnsafeBufferPointer { EventHead.decode(json: $0) }, bad)
        }
    }

    /// Stored JSON (the relay's own layout) is read at fixed places; any other layout by the
    /// general reader, with the same answer.
    func testEventHeadOfTheRelaysLayoutAgreesWithTheGeneralReader() {
        let signer = Signer(seed: 7)
        let times: [Int64] = [0, 9, 10, 99, 1_700_000_000, 99_999_999_999]
        let tagSets: [[[String]]] = [[], [["e", String(repeating: "ab", count: 32)]], [["t", "a,b]"], ["d", "日本"]]]
        for (i, createdAt) in times.enumerated() {
            for kind in [0, 1, 7, 30023, 65535] as [UInt16] {
                let event = signer.event(
                    kind: kind, content: "c \"\(i)\" ü", tags: Tags(tagSets[i % tagSets.count]), createdAt: createdAt)
                let json = event.jsonBytes
                json.withUnsafeBufferPointer { bytes in
                    let fast = EventHead.decodeAsWritten(bytes)
                    XCTAssertNotNil(fast, "the relay's layout is read at fixed places")
                    XCTAssertEqual(fast, EventHead.decodeAnyOrder(bytes))
                    XCTAssertEqual(fast?.id, event.id)
                    XCTAssertEqual(fast?.createdAt, createdAt)
                    XCTAssertEqual(fast?.kind, kind)
                }
            }
        }
        // Other layouts: spaces, another key order, a negative or fractional created_at.
        let event = signer.event(kind: 1, content: "x", tags: Tags([["t", "y"]]), createdAt: 1_700_000_000)
        let canonical = event.json
        let spaced = canonical.replacingOccurrences(of: #"":"#, with: #"": "#)
        let reordered =
            #"{"kind":1,"id":"\#(event.id.hex)","created_at":1700000000,"pubkey":"\#(event.pubkey.hex)","tags":[["t","y"]],"content":"x","sig":"\#(event.sig.hex)"}"#
        for other in [spaced, reordered] {
            Array(other.utf8).withUnsafeBufferPointer { bytes in
                XCTAssertNil(EventHead.decodeAsWritten(bytes), other)
                let head = EventHead.decode(json: bytes)
                XCTAssertEqual(head?.id, event.id, other)
                XCTAssertEqual(head?.createdAt, 1_700_000_000, other)
                XCTAssertEqual(head.map { String(decoding: bytes[$0.tags], as: UTF8.self) }, #"[["t","y"]]"#, other)
            }
        }
        for odd in [#""created_at":-5,"#, #""created_at":1.5,"#, #""created_at":017,"#] {
            let json = canonical.replacingOccurrences(of: #""created_at":1700000000,"#, with: odd)
            Array(json.utf8).withUnsafeBufferPointer { bytes in
                XCTAssertNil(EventHead.decodeAsWritten(bytes), odd)
                XCTAssertEqual(EventHead.decode(json: bytes), EventHead.decodeAnyOrder(bytes), odd)
            }
        }
    }

    func testTagConditionsCheckedOnTheStoredJSONAgreeWithTheDecodedEvent() {
        let long = String(repeating: "ab", count: 32)
        let event = Event(
            id: Bytes32(w0: 1, w1: 2, w2: 3, w3: 4), pubkey: Bytes32(w0: 5, w1: 6, w2: 7, w3: 8),
            createdAt: 1_700_000_000, kind: 1,
            tags: [
                ["e", long, "wss://relay.example.com", "reply"], ["p", "q\"uote\\back"], ["t", "ünï"], ["t"],
                ["tt", "x"], ["d", "日本"],
            ],
            content: "c", sig: Signature64(r: .zero, s: .zero))
        let json = event.jsonBytes
        let head = json.withUnsafeBufferPointer { EventHead.decode(json: $0) }!
        func condition(_ name: String, _ values: Set<String>) -> Filter.TagCondition {
            .init(name: name.utf8.first!, values: values)
        }
        let many = Set((0..<20).map { "v\($0)" })
        let cases: [(Filter, Bool)] = [
            (Filter(tags: [condition("e", [long])]), true),
            (Filter(tags: [condition("e", ["wss://relay.example.com"])]), false),  // only the first value counts
            (Filter(tags: [condition("p", ["q\"uote\\back"])]), true),  // escaped in the JSON
            (Filter(tags: [condition("p", ["q\"uote"])]), false),
            (Filter(tags: [condition("t", ["ünï", "x"])]), true),
            (Filter(tags: [condition("t", ["ün"])]), false),
            (Filter(tags: [condition("d", ["日本"]), condition("e", [long])]), true),
            (Filter(tags: [condition("d", ["日本"]), condition("e", ["other"])]), false),  // every condition
            (Filter(tags: [condition("x", ["x"])]), false),  // "tt" is not the letter t
            (Filter(tags: [condition("e", many.union([long]))]), true),  // a long set, looked up by String
            (Filter(tags: [condition("e", many)]), false),
            (Filter(tags: [condition("p", many.union(["q\"uote\\back"]))]), true),
            (Filter(kinds: [2], tags: [condition("e", [long])]), false),  // fields still count
        ]
        for (filter, expected) in cases {
            XCTAssertEqual(filter.matches(event), expected, "\(filter)")
            let onJSON = json.withUnsafeBufferPointer {
                filter.matches(head, tags: UnsafeBufferPointer(rebasing: $0[head.tags]))
            }
            XCTAssertEqual(onJSON, expected, "\(filter)")
        }
        // Bytes that are not an array of string arrays: the caller must decode instead.
        let filter = Filter(tags: [condition("t", ["x"])])
        for bad in [#"[["t",1]]"#, #"{"t":"x"}"#, #"[["t","x"]"#, #"[[1]]"#, #"[["\u0074","x"]]"#] {
            XCTAssertNil(Array(bad.utf8).withUnsafeBufferPointer { filter.matchesTags(json: $0) }, bad)
        }
        XCTAssertEqual(Array("[]".utf8).withUnsafeBufferPointer { filter.matchesTags(json: $0) }, false)
        XCTAssertEqual(Array(#"[["t","x"]]"#.utf8).withUnsafeBufferPointer { Filter().matchesTags(json: $0) }, true)
    }
}
