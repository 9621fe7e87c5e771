import Foundation
import NIOCore
import NIOWebSocket
import NostrCore
import NostrTools
import RelayCore
import XCTest

/// Hostile input against the real relay: each message gets its precise NIP-01 answer, and a
/// second, well-behaved client on the same relay is served after every one of them.
final class HostileClientTests: XCTestCase {
    let alice = Signer(seed: 401)
    let bob = Signer(seed: 402)

    /// One round trip for the well-behaved client: a publish answered OK true and a query that
    /// finds it, so both the writer and the reader paths are checked.
    func assertServed(_ good: TestClient, _ round: Int, file: StaticString = #filePath, line: UInt = #line)
        async throws
    {
        let event = bob.event(kind: 1, content: "still here \(round)", createdAt: now)
        good.send(event.message)
        let ok = try await good.nextMessage(file: file, line: line)
        XCTAssertEqual(ok.count, 4, file: file, line: line)
        XCTAssertEqual(ok.first as? String, "OK", file: file, line: line)
        XCTAssertEqual(ok[2] as? Bool, true, "the well-behaved client's event was accepted", file: file, line: line)
        good.send(#"["REQ","good\#(round)",{"ids":["\#(event.id.hex)"]}]"#)
        let answers = try await good.messages(until: "EOSE")
        XCTAssertEqual(answers.count, 2, "the well-behaved client's query found its event", file: file, line: line)
        good.send(#"["CLOSE","good\#(round)"]"#)
    }

    /// A relay message as strings (booleans as "true"/"false"), for exact comparison.
    func strings(_ message: [Any]) -> [String] {
        message.map { ($0 as? String) ?? (($0 as? Bool).map { "\($0)" } ?? "\($0)") }
    }

    /// An event as JSON with one field replaced by raw JSON text (ids and signatures are then
    /// wrong, which is fine: the field check comes first).
    func eventJSON(_ event: Event, replacing field: String, with raw: String) -> String {
        var object = JSON.parse(event.json) as! [String: Any]
        object[field] = "@@"
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: #""@@""#, with: raw)
    }

    func testEveryMalformedMessageGetsItsAnswerAndOthersAreServed() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (hostile, _) = try await relay.connectReady()
        let (good, _) = try await relay.connectReady()
        let base = alice.event(kind: 1, content: "base", createdAt: now)
        let id = base.id.hex
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let deepInEvent = #"["EVENT",{"tags":"# + String(repeating: "[", count: 10_000) + "]"
        let deepInFilter = ##"["REQ","d",{"#t":"## + String(repeating: "[", count: 10_000) + "]"

        // (message, expected answer): NOTICE for what is not a message, OK false for an event
        // whose id could be read, CLOSED for a refused REQ.
        let cases: [(String, [String])] = [
            ("this is not json", ["NOTICE", "invalid: message is not a JSON array: expected '[' at byte 0"]),
            ("", ["NOTICE", "invalid: message is not a JSON array: expected '[' at byte 0"]),
            ("[]", ["NOTICE", "invalid: message must start with a verb string"]),
            ("[5]", ["NOTICE", "invalid: message must start with a verb string"]),
            (#"{"kind":1}"#, ["NOTICE", "invalid: message is not a JSON array: expected '[' at byte 0"]),
            (#"["EVENT"]"#, ["NOTICE", "invalid: EVENT needs an event"]),
            (#"["EVENT",5]"#, ["NOTICE", "invalid: event must be a JSON object"]),
            (#"["EVENT",{}]"#, ["NOTICE", "invalid: missing field: id, pubkey, created_at, kind, tags, content, sig"]),
            (#"["REQ"]"#, ["NOTICE", "invalid: REQ needs a subscription id string"]),
            (#"["REQ",5,{}]"#, ["NOTICE", "invalid: REQ needs a subscription id string"]),
            (#"["CLOSE"]"#, ["NOTICE", "invalid: CLOSE needs a subscription id string"]),
            (#"["HELLO"]"#, ["NOTICE", "invalid: unknown message type \"HELLO\""]),
            (deep, ["NOTICE", "invalid: message must start with a verb string"]),
            (#"["EVENT",\#(deep)]"#, ["NOTICE", "invalid: event must be a JSON object"]),
            (deepInEvent, ["NOTICE", "invalid: malformed event: nesting too deep"]),
            (deepInFilter, ["CLOSED", "d", "invalid: tag values must be strings"]),
            // Wrong types and numbers out of range, with a readable id: OK false.
            (
                "[\"EVENT\",\(eventJSON(base, replacing: "kind", with: #""1""#))]",
                ["OK", id, "false", "invalid: kind must be an integer between 0 and 65535"]
            ),
            (
                "[\"EVENT\",\(eventJSON(base, replacing: "kind", with: "70000"))]",
                ["OK", id, "false", "invalid: kind must be an integer between 0 and 65535"]
            ),
            (
                "[\"EVENT\",\(eventJSON(base, replacing: "kind", with: "-1"))]",
                ["OK", id, "false", "invalid: kind must be an integer between 0 and 65535"]
            ),
            (
                "[\"EVENT\",\(eventJSON(base, replacing: "created_at", with: "-5"))]",
                ["OK", id, "false", "invalid: created_at must be a non-negative integer timestamp"]
            ),
            (
                "[\"EVENT\",\(eventJSON(base, replacing: "created_at", with: "1e300"))]",
                ["OK", id, "false", "invalid: created_at must be a non-negative integer timestamp"]
            ),
            (
                "[\"EVENT\",\(eventJSON(base, replacing: "created_at", with: "99999999999999999999999"))]",
                ["OK", id, "false", "invalid: created_at must be a non-negative integer timestamp"]
            ),
            (
                "[\"EVENT\",\(eventJSON(base, replacing: "tags", with: #"[["e",5]]"#))]",
                ["OK", id, "false", "invalid: tags must be an array of non-empty arrays of strings"]
            ),
            (
                "[\"EVENT\",\(eventJSON(base, replacing: "content", with: "null"))]",
                ["OK", id, "false", "invalid: content must be a string"]
            ),
            (#"["EVENT",\#(base.json),{}]"#, ["OK", id, "false", "invalid: EVENT takes exactly one event"]),
            // REQs the relay refuses: CLOSED with the reason.
            (
                #"["REQ","k",{"kinds":[70000]}]"#,
                ["CLOSED", "k", "invalid: kinds must be integers between 0 and 65535"]
            ),
            (#"["REQ","l",{"limit":-1}]"#, ["CLOSED", "l", "invalid: limit must be a non-negative integer"]),
            (#"["REQ","s",{"since":"yesterday"}]"#, ["CLOSED", "s", "invalid: since must be a non-negative integer"]),
            (#"["REQ","e"]"#, ["CLOSED", "e", "invalid: REQ needs at least one filter"]),
            (#"["REQ","",{}]"#, ["CLOSED", "", "invalid: subscription id must not be empty"]),
            (#"["REQ","f",5]"#, ["CLOSED", "f", "invalid: filter must be a JSON object"]),
            (
                #"["REQ","many",\#(Array(repeating: "{}", count: 5000).joined(separator: ","))]"#,
                ["CLOSED", "many", "invalid: too many filters (max 16)"]
            ),
            (
                #"["REQ","values",{"authors":[\#(Array(repeating: "\"\(id)\"", count: 1001).joined(separator: ","))]}]"#,
                ["CLOSED", "values", "invalid: authors has more than 1000 values"]
            ),
        ]
        for (round, (message, expected)) in cases.enumerated() {
            hostile.send(message)
            let answer = try await hostile.nextMessage()
            XCTAssertEqual(strings(answer), expected, "answer to \(message.prefix(80))")
            try await assertServed(good, round)
        }

        // Invalid UTF-8 inside a text frame.
        hostile.sendFrame(.text, Array(##"["REQ","u",{"#t":[""##.utf8) + [0xFF, 0xFE] + Array(#""]}]"#.utf8))
        let utf8 = try await hostile.nextMessage()
        XCTAssertEqual(strings(utf8), ["CLOSED", "u", "invalid: bad #t value: invalid UTF-8 in string"])
        try await assertServed(good, 1000)

        // Too many tags: OK false after parsing, before any signature work.
        let tagged = alice.event(
            kind: 1, content: "tags", tags: Tags(Array(repeating: ["t", "x"], count: 2001)), createdAt: now)
        hostile.send(tagged.message)
        let tooMany = try await hostile.nextMessage()
        XCTAssertEqual(strings(tooMany), ["OK", tagged.id.hex, "false", "invalid: too many tags (max 2000)"])

        // A huge limit is clamped, not refused.
        hostile.send(#"["REQ","huge",{"limit":99999999999}]"#)
        let huge = try await hostile.messages(until: "EOSE")
        XCTAssertEqual(huge.last.map(strings), ["EOSE", "huge"])
        XCTAssertLessThanOrEqual(huge.count - 1, relay.server.relay.limits.maxLimit)
        try await assertServed(good, 1001)
    }

    func testBinaryAndControlFramesDoNotDisturbTheConnection() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (hostile, _) = try await relay.connectReady()
        let (good, _) = try await relay.connectReady()
        hostile.sendFrame(.binary, Array(repeating: 0, count: 1000))
        let binary = try await hostile.nextMessage()
        XCTAssertEqual(binary as? [String], ["NOTICE", "invalid: binary messages are not supported; send JSON text"])
        hostile.sendFrame(.ping, [1, 2, 3])
        let pong = try await hostile.next()
        XCTAssertEqual(pong, .pong)
        // A continuation frame with nothing to continue is a protocol error: close 1002.
        hostile.sendFrame(.continuation, Array("x".utf8))
        let closed = try await hostile.next()
        XCTAssertEqual(closed, .close(1002))
        try await assertServed(good, 0)
    }

    func testREQFloodIsAnsweredInOrderAndBounded() async throws {
        var limits = Limits()
        limits.maxSubscriptions = 32
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (hostile, _) = try await relay.connectReady()
        let (good, _) = try await relay.connectReady()
        let stored = alice.event(kind: 1, content: "one", createdAt: now)
        hostile.send(stored.message)
        _ = try await hostile.nextMessage()

        // 3,000 REQ + CLOSE pairs, pipelined, then one REQ left open. A REQ closed before its
        // query ran is not answered (its scan stops); those answered come whole (the event,
        // then EOSE) and in the order asked, and the last is always answered.
        let pairs = 3000
        for i in 0..<pairs {
            hostile.send(#"["REQ","q\#(i)",{"authors":["\#(alice.publicKey.hex)"]}]"#)
            hostile.send(#"["CLOSE","q\#(i)"]"#)
        }
        hostile.send(#"["REQ","q\#(pairs)",{"authors":["\#(alice.publicKey.hex)"]}]"#)
        var lastAnswered = -1
        var events = 0
        var answered = 0
        while lastAnswered < pairs {
            let m = try await hostile.nextMessage()
            switch m.first as? String {
            case "EOSE":
                let n = Int((m[1] as? String ?? "").dropFirst()) ?? -1
                XCTAssertGreaterThan(n, lastAnswered, "answers come in order")
                lastAnswered = n
                answered += 1
            case "EVENT": events += 1
            default: XCTFail("unexpected \(m)")
            }
        }
        XCTAssertEqual(events, answered, "each answered REQ got its one event")
        hostile.send(#"["CLOSE","q\#(pairs)"]"#)
        try await assertServed(good, 0)

        // 100 distinct REQs without CLOSE: 32 are opened, the others are refused.
        for i in 0..<100 { hostile.send(#"["REQ","open\#(i)",{"limit":0}]"#) }
        var opened = 0
        var refused = 0
        for _ in 0..<100 {
            let m = try await hostile.nextMessage()
            if m.first as? String == "EOSE" { opened += 1 }
            if m.first as? String == "CLOSED" {
                XCTAssertEqual(m[2] as? String, "rate-limited: too many open subscriptions (max 32)")
                refused += 1
            }
        }
        XCTAssertEqual(opened, 32)
        XCTAssertEqual(refused, 68)
        try await assertServed(good, 1)
    }

    func testDuplicateSubscriptionIDReplacesAndDeliversOnce() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (hostile, _) = try await relay.connectReady()
        let (good, _) = try await relay.connectReady()
        for _ in 0..<50 {
            hostile.send(#"["REQ","dup",{"kinds":[1]},{"authors":["\#(bob.publicKey.hex)"]}]"#)
        }
        // A replaced REQ's query stops (unanswered if it had not finished); the last is answered.
        hostile.send(#"["REQ","marker",{"kinds":[9999],"limit":0}]"#)
        var awaited: [[Any]] = []
        while awaited.last?[1] as? String != "marker" {
            awaited.append(try await hostile.messages(until: "EOSE").last!)
        }
        XCTAssertGreaterThan(awaited.count, 1)
        XCTAssertEqual(awaited.dropLast().map { $0[1] as? String }, Array(repeating: "dup", count: awaited.count - 1))
        XCTAssertEqual(awaited.last?[1] as? String, "marker")
        let event = bob.event(kind: 1, content: "once", createdAt: now)
        good.send(event.message)
        let ok = try await good.nextMessage()
        XCTAssertEqual(ok[2] as? Bool, true)
        let delivered = try await hostile.nextMessage()
        XCTAssertEqual(delivered[0] as? String, "EVENT")
        XCTAssertEqual(delivered[1] as? String, "dup")
        let nothingMore = try await hostile.receivesNothing(seconds: 1)
        XCTAssertTrue(nothingMore, "one subscription id, matched by two filters, delivers once")
    }
}
