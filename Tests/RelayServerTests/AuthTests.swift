import NostrCore
import NostrTools
import RelayCore
import XCTest

/// NIP-42 AUTH and NIP-70 protected events, end to end.
final class AuthTests: XCTestCase {
    let alice = Signer(seed: 201)
    let bob = Signer(seed: 202)

    func relay(_ policy: Policy = Policy()) throws -> TestRelay {
        var info = RelayInfo()
        info.url = "ws://127.0.0.1/"
        return try TestRelay(policy: policy, info: info)
    }

    func answer(_ client: TestClient, _ text: String) async throws -> (String, Bool, String) {
        client.send(text)
        let m = try await client.nextMessage()
        XCTAssertEqual(m.first as? String, "OK", "\(m)")
        return (m[1] as? String ?? "", m[2] as? Bool ?? false, m[3] as? String ?? "")
    }

    func authMessage(_ signer: Signer, challenge: String, relay: String = "ws://127.0.0.1/") -> String {
        let event = signer.event(
            kind: 22242, content: "", tags: [["relay", relay], ["challenge", challenge]], createdAt: now)
        return #"["AUTH",\#(event.json)]"#
    }

    func testProtectedEventFlowWithSeveralPubkeys() async throws {
        let relay = try relay()
        defer { relay.stop() }
        let (client, challenge) = try await relay.connectReady()
        XCTAssertEqual(challenge.count, 32, "a fresh random challenge")
        let protected = alice.event(kind: 1, content: "members only", tags: [["-"]], createdAt: now)

        let before = try await answer(client, protected.message)
        XCTAssertEqual(before.1, false)
        XCTAssertEqual(before.2, "auth-required: this event may only be published by its author")

        let asBob = try await answer(client, authMessage(bob, challenge: challenge))
        XCTAssertEqual(asBob.1, true, asBob.2)
        let wrongAuthor = try await answer(client, protected.message)
        XCTAssertEqual(wrongAuthor.2, "restricted: this event may only be published by its author")

        let asAlice = try await answer(client, authMessage(alice, challenge: challenge))
        XCTAssertEqual(asAlice.1, true)
        let accepted = try await answer(client, protected.message)
        XCTAssertEqual(accepted.1, true, accepted.2)
    }

    func testBadAuthEventsAreRefused() async throws {
        let relay = try relay()
        defer { relay.stop() }
        let (client, challenge) = try await relay.connectReady()
        let wrongChallenge = try await answer(client, authMessage(alice, challenge: "not-it"))
        XCTAssertEqual(wrongChallenge.2, "invalid: AUTH challenge does not match")
        let wrongRelay = try await answer(
            client, authMessage(alice, challenge: challenge, relay: "wss://elsewhere.example"))
        XCTAssertEqual(wrongRelay.2, "invalid: AUTH relay tag is for another relay")
        var forged = alice.event(
            kind: 22242, content: "", tags: [["relay", "ws://127.0.0.1/"], ["challenge", challenge]], createdAt: now)
        forged.sig = bob.sign(forged.id)
        let badSig = try await answer(client, #"["AUTH",\#(forged.json)]"#)
        XCTAssertEqual(badSig.2, "invalid: signature verification failed")

        // A challenge belongs to its connection only.
        let (other, _) = try await relay.connectReady()
        let stolen = try await answer(other, authMessage(alice, challenge: challenge))
        XCTAssertEqual(stolen.2, "invalid: AUTH challenge does not match")

        // Still unauthenticated: protected events are refused.
        let protected = alice.event(kind: 1, content: "x", tags: [["-"]], createdAt: now)
        let refused = try await answer(client, protected.message)
        XCTAssertTrue(refused.2.hasPrefix("auth-required:"))
    }

    func testAuthRequiredForReadsClosesTheREQ() async throws {
        var policy = Policy()
        policy.authRequiredForReads = true
        let relay = try relay(policy)
        defer { relay.stop() }
        let (client, challenge) = try await relay.connectReady()
        client.send(#"["REQ","s",{}]"#)
        let closed = try await client.nextMessage()
        XCTAssertEqual(
            closed as? [String], ["CLOSED", "s", "auth-required: this relay only serves authenticated users"])
        _ = try await answer(client, authMessage(alice, challenge: challenge))
        client.send(#"["REQ","s",{}]"#)
        let eose = try await client.nextMessage()
        XCTAssertEqual(eose as? [String], ["EOSE", "s"])
    }
}
