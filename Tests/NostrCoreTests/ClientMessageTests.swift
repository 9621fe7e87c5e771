import NostrCore
import NostrTools
import XCTest

final class ClientMessageTests: XCTestCase {
    let signer = Signer(seed: 1)

    func parse(_ text: String, limits: ParseLimits = ParseLimits()) -> Result<ClientMessage, ClientMessageError> {
        Result { () throws(ClientMessageError) in try ClientMessage.parse(Array(text.utf8), limits: limits) }
    }

    func error(_ text: String, limits: ParseLimits = ParseLimits()) -> ClientMessageError? {
        if case .failure(let e) = parse(text, limits: limits) { return e }
        return nil
    }

    func testEventMessage() throws {
        let event = signer.event(kind: 1, content: "hi", tags: [["t", "x"]], createdAt: 1_700_000_000)
        guard case .success(.event(let parsed)) = parse(#"["EVENT",\#(event.json)]"#) else {
            return XCTFail("not parsed")
        }
        XCTAssertEqual(parsed, event)
        // Whitespace between tokens is allowed.
        guard case .success(.event) = parse(" [ \"EVENT\" ,\n \(event.json) ] ") else { return XCTFail("whitespace") }
    }

    func testReqAndClose() {
        let pk = signer.publicKey.hex
        guard
            case .success(.req(let id, let filters)) = parse(
                ##"["REQ","sub1",{"authors":["\##(pk)"],"kinds":[1,0,1],"#t":["a","b"],"since":10,"until":20,"limit":5},{}]"##
            )
        else { return XCTFail("REQ not parsed") }
        XCTAssertEqual(id, "sub1")
        XCTAssertEqual(filters.count, 2)
        XCTAssertEqual(filters[0].authors, [signer.publicKey])
        XCTAssertEqual(filters[0].kinds, [0, 1])
        XCTAssertEqual(filters[0].tags, [Filter.TagCondition(name: UInt8(ascii: "t"), values: ["a", "b"])])
        XCTAssertEqual(filters[0].since, 10)
        XCTAssertEqual(filters[0].until, 20)
        XCTAssertEqual(filters[0].limit, 5)
        XCTAssertEqual(filters[1], Filter())
        guard case .success(.close("sub1")) = parse(#"["CLOSE","sub1"]"#) else { return XCTFail("CLOSE") }
    }

    func testLimitIsClampedToMax() {
        guard case .success(.req(_, let f)) = parse(#"["REQ","s",{"limit":999999999999999999999}]"#) else {
            return XCTFail()
        }
        XCTAssertEqual(f[0].limit, ParseLimits().maxLimit)
        guard case .success(.req(_, let g)) = parse(#"["REQ","s",{"limit":100000}]"#) else { return XCTFail() }
        XCTAssertEqual(g[0].limit, ParseLimits().maxLimit)
    }

    func testMalformedMessagesAreNotices() {
        for text in [
            "", "{}", "[]", "[1]", "not json", #"["EVENT""#, #"["UNKNOWN","x"]"#, #"["CLOSE"]"#, #"["CLOSE",1]"#,
            #"["REQ"]"#, #"["EVENT"]"#,
        ] {
            guard case .malformed = error(text) else { return XCTFail("\(text) should be malformed") }
        }
        // An EVENT whose payload is not an object has no id to answer OK with.
        guard case .invalidEvent(nil, _) = error(#"["EVENT",5]"#) else { return XCTFail("EVENT 5") }
    }

    func testDeepNestingIsRefusedWithoutCrashing() {
        let deep = "[\"EVENT\"," + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "]"
        XCTAssertNotNil(error(deep))
        let deepTags =
            #"["EVENT",{"id":"00","tags":"# + String(repeating: "[", count: 10_000)
            + String(repeating: "]", count: 10_000)
            + "}]"
        XCTAssertNotNil(error(deepTags))
        let deepUnknown =
            #"["EVENT",{"x":"# + String(repeating: "{\"a\":", count: 5000) + "1" + String(repeating: "}", count: 5000)
            + "}]"
        XCTAssertNotNil(error(deepUnknown))
    }

    func testInvalidEventFieldsKeepTheID() {
        let event = signer.event(kind: 1, content: "x", createdAt: 1_700_000_000)
        let json = event.json
        let cases: [(String, String)] = [
            (json.replacingOccurrences(of: #""kind":1"#, with: #""kind":70000"#), "kind"),
            (json.replacingOccurrences(of: #""kind":1"#, with: #""kind":"1""#), "kind"),
            (json.replacingOccurrences(of: #""kind":1"#, with: #""kind":1.5"#), "kind"),
            (json.replacingOccurrences(of: #""created_at":1700000000"#, with: #""created_at":-5"#), "created_at"),
            (json.replacingOccurrences(of: #""created_at":1700000000"#, with: #""created_at":1e99"#), "created_at"),
            (json.replacingOccurrences(of: #""content":"x""#, with: #""content":5"#), "content"),
            (json.replacingOccurrences(of: #""tags":[]"#, with: #""tags":[[]]"#), "tags"),
            (json.replacingOccurrences(of: #""tags":[]"#, with: #""tags":[[1]]"#), "tags"),
            (json.replacingOccurrences(of: #""tags":[]"#, with: #""tags":{}"#), "tags"),
            (json.replacingOccurrences(of: event.pubkey.hex, with: event.pubkey.hex.uppercased()), "pubkey"),
            (json.replacingOccurrences(of: event.sig.hex, with: String(event.sig.hex.dropLast())), "sig"),
            (json.replacingOccurrences(of: #","content":"x""#, with: ""), "missing field: content"),
        ]
        for (text, word) in cases {
            guard case .invalidEvent(let id, let reason)? = error(#"["EVENT",\#(text)]"#) else {
                XCTFail("\(word): not an invalid event")
                continue
            }
            XCTAssertEqual(id, event.id, word)
            XCTAssertTrue(reason.contains(word), "\(word): \(reason)")
        }
    }

    func testUppercaseIDIsRejectedWithoutAnID() {
        let event = signer.event(kind: 1, content: "x", createdAt: 1_700_000_000)
        let text = event.json.replacingOccurrences(of: event.id.hex, with: event.id.hex.uppercased())
        guard case .invalidEvent(nil, let reason)? = error(#"["EVENT",\#(text)]"#) else { return XCTFail() }
        XCTAssertTrue(reason.contains("id must be 64 lowercase hex"), reason)
    }

    func testInvalidUTF8AndBadEscapes() {
        var bytes = Array(#"["REQ","#.utf8)
        bytes += [0x22, 0xFF, 0xFE, 0x22]
        bytes += Array(#",{}]"#.utf8)
        XCTAssertThrowsError(try ClientMessage.parse(bytes))
        // The same inside strings that also hold escapes (decoded on another path): a stray
        // byte, an overlong "/", an encoded surrogate, a truncated sequence.
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82]] {
            var escaped = Array(#"["CLOSE","a\n"#.utf8)
            escaped += bad
            escaped += Array(#"b"]"#.utf8)
            XCTAssertThrowsError(try ClientMessage.parse(escaped), "\(bad)")
            var plain = Array(#"["CLOSE","a"#.utf8)
            plain += bad
            plain += Array(#"b"]"#.utf8)
            XCTAssertThrowsError(try ClientMessage.parse(plain), "\(bad)")
        }
        guard case .success(.close("a\n€\"/b")) = parse(#"["CLOSE","a\n\u20ac\"\/b"]"#) else { return XCTFail() }
        guard case .success(.close("x")) = parse(#"["CLOSE","\u0078"]"#) else { return XCTFail() }
        XCTAssertNotNil(error(#"["CLOSE","\x"]"#))
        XCTAssertNotNil(error(#"["CLOSE","\ud800"]"#), "lone surrogate")
        guard case .success(.close("é😀")) = parse(#"["CLOSE","\u00e9\ud83d\ude00"]"#) else { return XCTFail() }
    }

    func testFilterRejections() {
        func closedReason(_ text: String, limits: ParseLimits = ParseLimits()) -> String? {
            if case .invalidFilter(_, let r)? = error(text, limits: limits) { return r.message }
            return nil
        }
        XCTAssertEqual(
            closedReason(#"["REQ","s",{"ids":["ABC"]}]"#), "invalid: ids must be 64 lowercase hex characters")
        XCTAssertEqual(
            closedReason(##"["REQ","s",{"#e":["xyz"]}]"##), "invalid: #e values must be 64 lowercase hex characters")
        XCTAssertEqual(
            closedReason(#"["REQ","s",{"kinds":[70000]}]"#), "invalid: kinds must be integers between 0 and 65535")
        XCTAssertEqual(closedReason(#"["REQ","s",{"limit":-1}]"#), "invalid: limit must be a non-negative integer")
        XCTAssertEqual(closedReason(#"["REQ","s",{"since":"x"}]"#), "invalid: since must be a non-negative integer")
        XCTAssertEqual(closedReason(#"["REQ","s",{"colour":"x"}]"#), "unsupported: filter contains unknown elements")
        XCTAssertEqual(closedReason(#"["REQ","s",{"search":5}]"#), "invalid: search must be a string")
        XCTAssertNil(closedReason(#"["REQ","s",{"search":"nostr apps"}]"#), "NIP-50")
        XCTAssertEqual(closedReason(#"["REQ","s"]"#), "invalid: REQ needs at least one filter")
        XCTAssertEqual(closedReason(#"["REQ","s",5]"#), "invalid: filter must be a JSON object")
        XCTAssertEqual(closedReason(#"["REQ","",{}]"#), "invalid: subscription id must not be empty")
        let long = String(repeating: "x", count: 65)
        XCTAssertEqual(closedReason(#"["REQ","\#(long)",{}]"#), "invalid: subscription id longer than 64 characters")
        let many = Array(repeating: "{}", count: 3).joined(separator: ",")
        XCTAssertEqual(
            closedReason(#"["REQ","s",\#(many)]"#, limits: ParseLimits(maxFilters: 2)),
            "invalid: too many filters (max 2)")
    }

    func testEmptyListsMatchNothing() {
        guard case .success(.req(_, let f)) = parse(#"["REQ","s",{"authors":[]}]"#) else { return XCTFail() }
        XCTAssertTrue(f[0].matchesNothing)
    }

    func testAuthMessage() {
        let event = signer.event(
            kind: 22242, content: "", tags: [["relay", "ws://x"], ["challenge", "c"]], createdAt: 1_700_000_000)
        guard case .success(.auth(let parsed)) = parse(#"["AUTH",\#(event.json)]"#) else { return XCTFail() }
        XCTAssertEqual(parsed, event)
        guard case .malformed = error(#"["AUTH","challenge"]"#) else { return XCTFail() }
    }
}
