import NIOWebSocket
import NostrCore
import NostrTools
import RelayCore
import XCTest

/// NIP-01 end to end: a real relay on loopback and WebSocket clients.
final class ProtocolTests: XCTestCase {
    let alice = Signer(seed: 101)
    let bob = Signer(seed: 102)

    func ok(_ client: TestClient, _ event: Event, file: StaticString = #filePath, line: UInt = #line) async throws -> (
        Bool, String
    ) {
        try await client.publish(event, file: file, line: line)
    }

    func eventIDs(_ messages: [[Any]]) -> [String] {
        messages.filter { $0.first as? String == "EVENT" }.map { ($0[2] as! [String: Any])["id"] as! String }
    }

    func testPublishThenQueryNewestFirstWithLimit() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let t = now
        let events = (0..<5).map { alice.event(kind: 1, content: "note \($0)", createdAt: t - 10 + Int64($0)) }
        for e in events {
            let (accepted, message) = try await ok(client, e)
            XCTAssertTrue(accepted, message)
            XCTAssertEqual(message, "")
        }
        client.send(#"["REQ","q",{"authors":["\#(alice.publicKey.hex)"],"limit":3}]"#)
        let got = try await client.messages(until: "EOSE")
        XCTAssertEqual(eventIDs(got), events.reversed().prefix(3).map(\.id.hex))
        XCTAssertEqual(got.last?[1] as? String, "q")
        let first = got[0]
        XCTAssertEqual(first[1] as? String, "q")
        XCTAssertEqual((first[2] as! [String: Any])["content"] as? String, "note 4")

        client.send(#"["REQ","zero",{"kinds":[1],"limit":0}]"#)
        let none = try await client.messages(until: "EOSE")
        XCTAssertEqual(none.count, 1, "limit 0 returns no stored events")

        client.send(#"["REQ","two",{"ids":["\#(events[0].id.hex)"]},{"ids":["\#(events[1].id.hex)"]}]"#)
        let awaited1 = try await client.messages(until: "EOSE")
        XCTAssertEqual(eventIDs(awaited1), [events[1].id.hex, events[0].id.hex])
    }

    func testDuplicateIsOKTrueWithPrefix() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let e = alice.event(kind: 1, content: "once", createdAt: now)
        let first = try await ok(client, e)
        XCTAssertTrue(first.0)
        let second = try await ok(client, e)
        XCTAssertTrue(second.0)
        XCTAssertTrue(second.1.hasPrefix("duplicate:"), second.1)
    }

    func testLiveDeliveryAfterEOSEAndEphemeralNotStored() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (subscriber, _) = try await relay.connectReady()
        let (publisher, _) = try await relay.connectReady()
        subscriber.send(#"["REQ","live",{"authors":["\#(alice.publicKey.hex)"]}]"#)
        let awaited2 = try await subscriber.messages(until: "EOSE")
        XCTAssertEqual(awaited2.count, 1)

        let note = alice.event(kind: 1, content: "live!", createdAt: now)
        let published = try await ok(publisher, note)
        XCTAssertTrue(published.0)
        let live = try await subscriber.nextMessage()
        XCTAssertEqual(live[0] as? String, "EVENT")
        XCTAssertEqual(live[1] as? String, "live")
        XCTAssertEqual((live[2] as! [String: Any])["id"] as? String, note.id.hex)

        let ephemeral = alice.event(kind: 20001, content: "typing", createdAt: now)
        let eph = try await ok(publisher, ephemeral)
        XCTAssertTrue(eph.0)
        let delivered = try await subscriber.nextMessage()
        XCTAssertEqual((delivered[2] as! [String: Any])["id"] as? String, ephemeral.id.hex)
        publisher.send(#"["REQ","check",{"ids":["\#(ephemeral.id.hex)"]}]"#)
        let awaited3 = try await publisher.messages(until: "EOSE")
        XCTAssertEqual(awaited3.count, 1, "ephemeral events are not stored")

        // Events that do not match are not delivered.
        _ = try await ok(publisher, bob.event(kind: 1, content: "not for you", createdAt: now))
        let awaited4 = try await subscriber.receivesNothing(seconds: 1)
        XCTAssertTrue(awaited4)
    }

    func testReqReplacementAndClose() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (subscriber, _) = try await relay.connectReady()
        let (publisher, _) = try await relay.connectReady()
        subscriber.send(#"["REQ","s",{"kinds":[1]}]"#)
        _ = try await subscriber.messages(until: "EOSE")
        subscriber.send(#"["REQ","s",{"kinds":[7]}]"#)
        _ = try await subscriber.messages(until: "EOSE")
        _ = try await ok(publisher, alice.event(kind: 1, content: "kind 1", createdAt: now))
        let reaction = alice.event(kind: 7, content: "+", createdAt: now)
        _ = try await ok(publisher, reaction)
        let got = try await subscriber.nextMessage()
        XCTAssertEqual(
            (got[2] as! [String: Any])["id"] as? String, reaction.id.hex, "only the replacing filter applies")

        subscriber.send(#"["CLOSE","s"]"#)
        // A REQ answered after the CLOSE proves the CLOSE was handled (messages are handled in order).
        subscriber.send(#"["REQ","probe",{"ids":["\#(String(repeating: "0", count: 64))"]}]"#)
        _ = try await subscriber.messages(until: "EOSE")
        _ = try await ok(publisher, alice.event(kind: 7, content: "-", createdAt: now))
        let awaited5 = try await subscriber.receivesNothing(seconds: 1)
        XCTAssertTrue(awaited5)
    }

    func testLimitsAnswerWithClosedAndNotice() async throws {
        var limits = Limits()
        limits.maxSubscriptions = 2
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        client.send(#"["REQ","a",{"limit":0}]"#)
        _ = try await client.messages(until: "EOSE")
        client.send(#"["REQ","b",{"limit":0}]"#)
        _ = try await client.messages(until: "EOSE")
        client.send(#"["REQ","c",{"limit":0}]"#)
        let closed = try await client.nextMessage()
        XCTAssertEqual(closed[0] as? String, "CLOSED")
        XCTAssertEqual(closed[1] as? String, "c")
        XCTAssertEqual(closed[2] as? String, "rate-limited: too many open subscriptions (max 2)")
        client.send(#"["REQ","a",{"limit":0}]"#)
        let awaited6 = try await client.messages(until: "EOSE")
        XCTAssertEqual(awaited6.count, 1, "replacing an open id is allowed at the limit")

        client.send(#"["REQ","bad",{"ids":["XYZ"]}]"#)
        let bad = try await client.nextMessage()
        XCTAssertEqual(bad as? [String], ["CLOSED", "bad", "invalid: ids must be 64 lowercase hex characters"])

        client.send(#"["REQ","\#(String(repeating: "x", count: 65))",{}]"#)
        let long = try await client.nextMessage()
        XCTAssertEqual(long[0] as? String, "CLOSED")
        XCTAssertEqual(long[2] as? String, "invalid: subscription id longer than 64 characters")

        client.send("this is not json")
        let notice = try await client.nextMessage()
        XCTAssertEqual(notice[0] as? String, "NOTICE")
        XCTAssertTrue((notice[1] as! String).hasPrefix("invalid:"))

        client.send(#"["HELLO","x"]"#)
        let unknown = try await client.nextMessage()
        XCTAssertEqual(unknown as? [String], ["NOTICE", "invalid: unknown message type \"HELLO\""])

        client.sendFrame(.binary, [1, 2, 3])
        let binary = try await client.nextMessage()
        XCTAssertEqual(binary[0] as? String, "NOTICE")
    }

    func testBadEventsGetPreciseOKFalse() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        var forged = alice.event(kind: 1, content: "x", createdAt: now)
        forged.sig = bob.sign(forged.id)
        let sig = try await ok(client, forged)
        XCTAssertEqual(sig.0, false)
        XCTAssertEqual(sig.1, "invalid: signature verification failed")

        var tampered = alice.event(kind: 1, content: "x", createdAt: now)
        tampered.content = "changed"
        let id = try await ok(client, tampered)
        XCTAssertEqual(id.1, "invalid: event id does not match the hash of the event")

        let future = alice.event(kind: 1, content: "x", createdAt: now + 3600)
        let f = try await ok(client, future)
        XCTAssertEqual(f.1, "invalid: event creation date is too far in the future")

        let expired = alice.event(kind: 1, content: "x", tags: [["expiration", "\(now - 1)"]], createdAt: now - 100)
        let ex = try await ok(client, expired)
        XCTAssertEqual(ex.1, "invalid: event has expired")

        let upper = alice.event(kind: 1, content: "x", createdAt: now)
        client.send(upper.message.replacingOccurrences(of: upper.pubkey.hex, with: upper.pubkey.hex.uppercased()))
        let u = try await client.nextMessage()
        XCTAssertEqual(u[0] as? String, "OK")
        XCTAssertEqual(u[1] as? String, upper.id.hex)
        XCTAssertEqual(u[2] as? Bool, false)
        XCTAssertEqual(u[3] as? String, "invalid: pubkey must be 64 lowercase hex characters")

        client.send(upper.message.replacingOccurrences(of: upper.id.hex, with: upper.id.hex.uppercased()))
        let noID = try await client.nextMessage()
        XCTAssertEqual(noID as? [String], ["NOTICE", "invalid: id must be 64 lowercase hex characters"])

        let authKind = alice.event(kind: 22242, content: "", createdAt: now)
        let a = try await ok(client, authKind)
        XCTAssertEqual(a.1, "invalid: kind 22242 events are only accepted in AUTH messages")
    }

    func testReplaceableDeletionAndExpirationThroughTheRelay() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let t = now
        let newer = alice.event(kind: 0, content: #"{"name":"new"}"#, createdAt: t)
        let older = alice.event(kind: 0, content: #"{"name":"old"}"#, createdAt: t - 60)
        let awaited7 = try await ok(client, newer)
        XCTAssertTrue(awaited7.0)
        let o = try await ok(client, older)
        XCTAssertEqual(o.0, false)
        XCTAssertEqual(o.1, "duplicate: a newer version of this event is already stored")

        let note = alice.event(kind: 1, content: "regret", createdAt: t - 5)
        let awaited8 = try await ok(client, note)
        XCTAssertTrue(awaited8.0)
        let deletion = alice.event(kind: 5, content: "", tags: [["e", note.id.hex], ["k", "1"]], createdAt: t)
        let awaited9 = try await ok(client, deletion)
        XCTAssertTrue(awaited9.0)
        client.send(#"["REQ","d",{"authors":["\#(alice.publicKey.hex)"]}]"#)
        let awaited10 = try await client.messages(until: "EOSE")
        XCTAssertEqual(Set(eventIDs(awaited10)), [newer.id.hex, deletion.id.hex])
        client.send(#"["CLOSE","d"]"#)
        let again = try await ok(client, note)
        XCTAssertEqual(again.0, false)
        XCTAssertEqual(again.1, "blocked: this event was deleted by its author")

        let shortLived = alice.event(kind: 1, content: "soon gone", tags: [["expiration", "\(t + 2)"]], createdAt: t)
        let awaited11 = try await ok(client, shortLived)
        XCTAssertTrue(awaited11.0)
        client.send(#"["REQ","e",{"ids":["\#(shortLived.id.hex)"]}]"#)
        let awaited12 = try await client.messages(until: "EOSE")
        XCTAssertEqual(eventIDs(awaited12), [shortLived.id.hex])
    }

    func testRequestToVanishThroughTheRelay() async throws {
        var info = RelayInfo()
        info.url = "wss://relay.example.com"
        var policy = Policy()
        policy.protectDirectMessages = false  // so that the gift wraps can be asked for without AUTH
        let relay = try TestRelay(policy: policy, info: info)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let t = now
        let note = alice.event(kind: 1, content: "soon gone", createdAt: t - 20)
        let wrapToAlice = bob.event(
            kind: 1059, content: "sealed", tags: [["p", alice.publicKey.hex]], createdAt: t - 20)
        let bobs = bob.event(kind: 1, content: "stays", createdAt: t - 20)
        for e in [note, wrapToAlice, bobs] {
            let (accepted, message) = try await ok(client, e)
            XCTAssertTrue(accepted, message)
        }
        let elsewhere = alice.event(
            kind: 62, content: "", tags: [["relay", "wss://other.example.com"]], createdAt: t - 15)
        let (storedElsewhere, _) = try await ok(client, elsewhere)
        XCTAssertTrue(storedElsewhere, "a request for another relay is just stored")
        client.send(#"["REQ","a",{"ids":["\#(note.id.hex)"]}]"#)
        let kept = try await client.messages(until: "EOSE")
        XCTAssertEqual(eventIDs(kept), [note.id.hex], "and deletes nothing")

        let vanish = alice.event(
            kind: 62, content: "legal notice", tags: [["relay", "wss://relay.example.com/"]], createdAt: t - 10)
        let (accepted, message) = try await ok(client, vanish)
        XCTAssertTrue(accepted, message)
        client.send(#"["REQ","b",{"authors":["\#(alice.publicKey.hex)"]},{"kinds":[1059]}]"#)
        let left = try await client.messages(until: "EOSE")
        XCTAssertEqual(
            eventIDs(left), [vanish.id.hex], "her events and the gift wraps to her are gone; the request stays")
        let (again, why) = try await ok(client, note)
        XCTAssertFalse(again)
        XCTAssertEqual(why, "blocked: this event was deleted by its author")
        client.send(#"["REQ","c",{"ids":["\#(bobs.id.hex)"]}]"#)
        let others = try await client.messages(until: "EOSE")
        XCTAssertEqual(eventIDs(others), [bobs.id.hex])
    }

    func testAnIDsREQWithoutALimitGetsEveryID() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let t = now
        let events = (0..<150).map { alice.event(kind: 1, content: "reply \($0)", createdAt: t - 200 + Int64($0)) }
        for e in events { client.send(e.message) }
        for _ in events { _ = try await client.nextMessage() }
        let ids = events.map { "\"\($0.id.hex)\"" }.joined(separator: ",")
        client.send(#"["REQ","thread",{"ids":[\#(ids)]}]"#)
        let got = try await client.messages(until: "EOSE")
        XCTAssertEqual(Set(eventIDs(got)), Set(events.map(\.id.hex)), "all 150, though default_limit is 100")
    }

    func testFragmentedMessageIsReassembled() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let e = alice.event(kind: 1, content: "in pieces", createdAt: now)
        let bytes = Array(e.message.utf8)
        let third = bytes.count / 3
        client.sendFrame(.text, Array(bytes[..<third]), fin: false)
        client.sendFrame(.continuation, Array(bytes[third..<(2 * third)]), fin: false)
        client.sendFrame(.continuation, Array(bytes[(2 * third)...]), fin: true)
        let m = try await client.nextMessage()
        XCTAssertEqual(m[0] as? String, "OK")
        XCTAssertEqual(m[1] as? String, e.id.hex)
        XCTAssertEqual(m[2] as? Bool, true)
    }

    func testOversizedMessageIsRefusedAndOthersAreServed() async throws {
        var limits = Limits()
        limits.maxMessageLength = 4096
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (big, _) = try await relay.connectReady()
        let (other, _) = try await relay.connectReady()
        big.send(alice.event(kind: 1, content: String(repeating: "x", count: 5000), createdAt: now).message)
        let notice = try await big.nextMessage()
        XCTAssertEqual(notice as? [String], ["NOTICE", "invalid: message larger than 4096 bytes"])
        let awaited13 = try await big.next()
        XCTAssertEqual(awaited13, .close(1009))
        let e = alice.event(kind: 1, content: "small", createdAt: now)
        let awaited14 = try await ok(other, e)
        XCTAssertTrue(awaited14.0, "other connections keep being served")
    }

    /// The relay writes text frame headers itself (into room before each payload); frames of
    /// each header size (7-bit, 16-bit and 64-bit lengths) must reach a strict client intact.
    func testFramesOfEveryLengthEncodingArriveIntact() async throws {
        var limits = Limits()
        limits.maxEventSize = 200_000
        limits.maxContentLength = 200_000
        limits.maxMessageLength = 400_000
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (live, _) = try await relay.connectReady()
        live.send(#"["REQ","live",{"kinds":[1]}]"#)
        let eose = try await live.nextMessage()
        XCTAssertEqual(eose as? [String], ["EOSE", "live"])
        let (publisher, _) = try await relay.connectReady()
        let events = [10, 1_000, 70_000].map { n in
            alice.event(kind: 1, content: String(repeating: "é", count: n / 2), createdAt: now - Int64(n))
        }
        for event in events {
            let (accepted, message) = try await ok(publisher, event)
            XCTAssertTrue(accepted, message)
            let delivered = try await live.nextMessage()
            XCTAssertEqual(delivered.count, 3)
            XCTAssertEqual((delivered[2] as? [String: Any])?["content"] as? String, event.content)
        }
        // And stored, newest first, as one REQ's answers.
        let (reader, _) = try await relay.connectReady()
        reader.send(#"["REQ","stored",{"kinds":[1]}]"#)
        let answers = try await reader.messages(until: "EOSE")
        XCTAssertEqual(
            answers.dropLast().map { ($0[2] as? [String: Any])?["content"] as? String },
            events.map(\.content), "all three, whole")
    }

    /// A connection's messages of one burst go out as frames packed into shared buffers, handed
    /// on at 64 KB: a burst of live events (two subscriptions each) and a stored answer of many
    /// times that size arrive whole and in order.
    func testBurstsOfManyFramesArriveWholeAndInOrder() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (live, _) = try await relay.connectReady()
        live.send(#"["REQ","notes",{"kinds":[1]}]"#)
        live.send(#"["REQ","alice",{"authors":["\#(alice.publicKey.hex)"]}]"#)
        _ = try await live.messages(until: "EOSE")
        _ = try await live.messages(until: "EOSE")
        let (publisher, _) = try await relay.connectReady()
        let events = (0..<150).map { i in
            alice.event(
                kind: 1, content: "\(i) " + String(repeating: "x", count: 40 + (i * 37) % 1_900),
                createdAt: now - 1_000 + Int64(i))
        }
        for event in events { publisher.send(event.message) }  // all at once: one burst
        var accepted = 0
        for _ in events {
            let ok = try await publisher.nextMessage()
            XCTAssertEqual(ok[0] as? String, "OK")
            if ok[2] as? Bool == true { accepted += 1 }
        }
        XCTAssertEqual(accepted, events.count)
        let contents = Dictionary(uniqueKeysWithValues: events.map { ($0.id.hex, $0.content) })
        var delivered: [String: [String]] = [:]
        for _ in 0..<(2 * events.count) {
            let message = try await live.nextMessage()
            XCTAssertEqual(message[0] as? String, "EVENT")
            let event = try XCTUnwrap(message[2] as? [String: Any])
            let whole = event["content"] as? String == contents[event["id"] as? String ?? ""]
            delivered[message[1] as! String, default: []].append(whole ? event["id"] as! String : "torn")
        }
        XCTAssertEqual(delivered["notes"], events.map(\.id.hex), "every event, whole, in commit order")
        XCTAssertEqual(delivered["alice"], events.map(\.id.hex))

        let (reader, _) = try await relay.connectReady()
        reader.send(#"["REQ","stored",{"kinds":[1],"limit":150}]"#)
        let answers = try await reader.messages(until: "EOSE")
        XCTAssertEqual(answers.count, events.count + 1)
        let stored = answers.dropLast().map { answer -> String in
            let event = answer[2] as? [String: Any]
            let id = event?["id"] as? String ?? ""
            return event?["content"] as? String == contents[id] ? id : "torn"
        }
        XCTAssertEqual(stored, events.reversed().map(\.id.hex), "newest first, whole")
    }
}
