import NostrCore
import NostrTools
import XCTest

/// NIP-50 end to end: stored events ranked by match quality, live events matched by their words.
final class SearchTests: XCTestCase {
    let alice = Signer(seed: 371)

    func testSearchOverWebSocketStoredAndLive() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let t = now
        let events = [
            alice.event(kind: 1, content: "Nostr relays in Swift", createdAt: t - 50),
            alice.event(
                kind: 1, content: "a long note about relays and Nostr and many other things besides", createdAt: t - 40),
            alice.event(kind: 1, content: "Привет, nostr", createdAt: t - 30),
            alice.event(kind: 1, content: "東京の nostr リレー", createdAt: t - 20),
            alice.event(kind: 1, content: "unrelated", createdAt: t - 10),
        ]
        for event in events {
            let (accepted, message) = try await client.publish(event)
            XCTAssertTrue(accepted, message)
        }
        func ids(_ messages: [[Any]]) -> [String] {
            messages.filter { $0.first as? String == "EVENT" }.map { ($0[2] as! [String: Any])["id"] as! String }
        }
        client.send(#"["REQ","s",{"search":"nostr RELAYS","limit":10}]"#)
        let got1 = ids(try await client.messages(until: "EOSE"))
        XCTAssertEqual(got1, [events[0].id.hex, events[1].id.hex])
        client.send(#"["REQ","ru",{"search":"ПРИВЕТ include:spam"}]"#)
        let got2 = ids(try await client.messages(until: "EOSE"))
        XCTAssertEqual(got2, [events[2].id.hex])
        client.send(#"["REQ","ja",{"search":"東京"}]"#)
        let got3 = ids(try await client.messages(until: "EOSE"))
        XCTAssertEqual(got3, [events[3].id.hex])

        // Live: only new events holding every word reach the subscription.
        client.send(#"["REQ","live",{"search":"swift relay","since":\#(t)}]"#)
        _ = try await client.messages(until: "EOSE")
        let miss = alice.event(kind: 1, content: "swift only", createdAt: t)
        let hit = alice.event(kind: 1, content: "a Swift relay", createdAt: t)
        let (accepted1, _) = try await client.publish(miss)
        XCTAssertTrue(accepted1)
        client.send(hit.message)
        let live = try await client.messages(until: "EVENT")
        XCTAssertEqual(ids(live), [hit.id.hex], "\(live)")

        client.send(#"["REQ","bad",{"search":7}]"#)
        let bad = try await client.nextMessage()
        XCTAssertEqual(bad[0] as? String, "OK", "the OK of the live hit comes first")
        let refused = try await client.nextMessage()
        XCTAssertEqual(refused[0] as? String, "CLOSED")
        XCTAssertTrue((refused[2] as? String)?.hasPrefix("invalid:") == true, "\(refused)")
    }
}
