import Foundation
import NostrCore
import NostrTools
import RelayCore
import XCTest

/// The policy as clients meet it: direct messages kept to their parties (stored and live), the
/// access modes, buckets and proof of work, and a SIGHUP reload that keeps connections open.
final class PolicyEndToEndTests: XCTestCase {
    let alice = Signer(seed: 401)
    let bob = Signer(seed: 402)
    let carol = Signer(seed: 403)
    let url = "ws://127.0.0.1/"

    func relay(_ configure: (inout Policy) -> Void = { _ in }) throws -> TestRelay {
        var policy = Policy()
        configure(&policy)
        var info = RelayInfo()
        info.url = url
        return try TestRelay(policy: policy, info: info)
    }

    /// A connection authenticated as `signer` (NIP-42).
    func client(_ relay: TestRelay, as signer: Signer?) async throws -> TestClient {
        let (client, challenge) = try await relay.connectReady()
        guard let signer else { return client }
        let auth = signer.event(
            kind: 22242, content: "", tags: [["relay", url], ["challenge", challenge]], createdAt: now)
        client.send(#"["AUTH",\#(auth.json)]"#)
        let answer = try await client.nextMessage()
        XCTAssertEqual(answer.count > 2 ? answer[2] as? Bool : nil, true, "\(answer)")
        return client
    }

    func dm(from: Signer, to: Signer, _ text: String, kind: UInt16 = 4) -> Event {
        from.event(kind: kind, content: text, tags: [["p", to.publicKey.hex]], createdAt: now)
    }

    func ids(_ messages: [[Any]]) -> [String] {
        messages.filter { $0.first as? String == "EVENT" }.compactMap { ($0[2] as? [String: Any])?["id"] as? String }
    }

    func testDirectMessagesReachOnlyTheirPartiesStoredAndLive() async throws {
        let relay = try relay()
        defer { relay.stop() }
        let bobs = try await client(relay, as: bob)
        let first = dm(from: bob, to: alice, "hello alice")
        let wrap = dm(from: carol, to: alice, "sealed", kind: 1059)
        let note = bob.event(kind: 1, content: "public", createdAt: now)
        for event in [first, wrap, note] {
            let (accepted, message) = try await bobs.publish(event)
            XCTAssertTrue(accepted, message)
        }

        let stranger = try await client(relay, as: nil)
        stranger.send(#"["REQ","dms",{"kinds":[4,1059]}]"#)
        let refused = try await stranger.nextMessage()
        XCTAssertEqual(refused.first as? String, "CLOSED")
        XCTAssertEqual(
            refused.last as? String,
            "auth-required: these events are only served to authenticated users they are addressed to")
        stranger.send(#"["REQ","all",{}]"#)
        let open = try await stranger.messages(until: "EOSE")
        XCTAssertEqual(ids(open), [note.id.hex], "the rest of the relay is open")

        let nosy = try await client(relay, as: carol)
        nosy.send(#"["REQ","dms",{"kinds":[4]}]"#)
        let notAParty = try await nosy.messages(until: "EOSE")
        XCTAssertEqual(ids(notAParty), [], "authenticated, but not a party")
        nosy.send(#"["REQ","wraps",{"kinds":[1059]}]"#)
        let author = try await nosy.messages(until: "EOSE")
        XCTAssertEqual(ids(author), [wrap.id.hex], "the gift wrap's author")

        let alices = try await client(relay, as: alice)
        alices.send(##"["REQ","inbox",{"kinds":[4,1059],"#p":["\##(alice.publicKey.hex)"]}]"##)
        let inbox = try await alices.messages(until: "EOSE")
        XCTAssertEqual(Set(ids(inbox)), [first.id.hex, wrap.id.hex])
        bobs.send(#"["REQ","sent",{"authors":["\#(bob.publicKey.hex)"]}]"#)
        let sent = try await bobs.messages(until: "EOSE")
        XCTAssertEqual(Set(ids(sent)), [first.id.hex, note.id.hex])

        // Live: a second message, then a public note. Deliveries keep commit order, so a stranger
        // that got the message would see it before the note.
        let second = dm(from: bob, to: alice, "are you there?")
        let later = bob.event(kind: 1, content: "public again", createdAt: now)
        let publisher = try await client(relay, as: nil)
        for event in [second, later] {
            let (accepted, message) = try await publisher.publish(event)
            XCTAssertTrue(accepted, message)
        }
        let toStranger = try await stranger.nextMessage()
        XCTAssertEqual(ids([toStranger]), [later.id.hex], "the stranger's match-all subscription skips the message")
        let toAlice = try await alices.nextMessage()
        XCTAssertEqual(ids([toAlice]), [second.id.hex])
        let toBob = try await bobs.nextMessage()
        XCTAssertEqual(ids([toBob]), [second.id.hex], "its author, live too")
    }

    func testAllowlistModeAcceptsOnlyItsMembers() async throws {
        let relay = try relay {
            $0.mode = .allowlist
            $0.allowPubkeys = [alice.publicKey]
        }
        defer { relay.stop() }
        let c = try await client(relay, as: nil)
        let (accepted, message) = try await c.publish(alice.event(kind: 1, content: "member", createdAt: now))
        XCTAssertTrue(accepted, message)
        let (refused, why) = try await c.publish(bob.event(kind: 1, content: "outsider", createdAt: now))
        XCTAssertFalse(refused)
        XCTAssertEqual(why, "restricted: this relay only accepts events from pubkeys on its allow list")
        let asAlice = try await client(relay, as: alice)
        let (wrapped, wrapWhy) = try await asAlice.publish(dm(from: carol, to: bob, "via alice", kind: 1059))
        XCTAssertTrue(wrapped, "a member publishing another key's gift wrap: \(wrapWhy)")
    }

    func testFollowsModeChangesWhenTheAdminPublishesANewContactList() async throws {
        let relay = try relay {
            $0.mode = .follows
            $0.admins = [carol.publicKey]
        }
        defer { relay.stop() }
        let c = try await client(relay, as: nil)
        let refusal = "restricted: this relay only accepts events from pubkeys its admins follow"
        let (before, why) = try await c.publish(bob.event(kind: 1, content: "1", createdAt: now))
        XCTAssertFalse(before)
        XCTAssertEqual(why, refusal)
        let follows = carol.event(kind: 3, content: "", tags: [["p", bob.publicKey.hex]], createdAt: now - 10)
        let (listed, listWhy) = try await c.publish(follows)
        XCTAssertTrue(listed, listWhy)
        let (after, afterWhy) = try await c.publish(bob.event(kind: 1, content: "2", createdAt: now))
        XCTAssertTrue(after, "followed once the admin's list is stored: \(afterWhy)")
        let unfollow = carol.event(kind: 3, content: "", tags: [["p", alice.publicKey.hex]], createdAt: now - 5)
        _ = try await c.publish(unfollow)
        let (again, againWhy) = try await c.publish(bob.event(kind: 1, content: "3", createdAt: now))
        XCTAssertFalse(again)
        XCTAssertEqual(againWhy, refusal)
        let (alices, alicesWhy) = try await c.publish(alice.event(kind: 1, content: "4", createdAt: now))
        XCTAssertTrue(alices, alicesWhy)
    }

    func testBucketsAndProofOfWorkAnswerWithTheirPrefixes() async throws {
        let relay = try relay {
            $0.rateLimits.eventsPerIP = RateLimits.Rate(perMinute: 1, burst: 2)
            $0.rateLimits.reqsPerIP = RateLimits.Rate(perMinute: 1, burst: 1)
            $0.minPowDifficulty = 1
        }
        defer { relay.stop() }
        let c = try await client(relay, as: nil)
        // Half of all ids start with a 0 bit: mine the cheap way, by changing the content.
        var mined: [Event] = []
        var unmined: Event?
        var n = 0
        while mined.count < 3 || unmined == nil {
            let e = alice.event(kind: 1, content: "try \(n)", tags: [["nonce", "\(n)", "1"]], createdAt: now)
            if e.id.w0 >> 63 == 0 { mined.append(e) } else if unmined == nil { unmined = e }
            n += 1
        }
        let (weak, weakWhy) = try await c.publish(unmined!)
        XCTAssertFalse(weak)
        XCTAssertEqual(weakWhy, "pow: difficulty 0 is less than 1")
        for e in mined.prefix(2) {
            let (accepted, message) = try await c.publish(e)
            XCTAssertTrue(accepted, message)
        }
        let (limited, limitedWhy) = try await c.publish(mined[2])
        XCTAssertFalse(limited)
        XCTAssertEqual(limitedWhy, "rate-limited: you are publishing too fast from your address, slow down")
        c.send(#"["REQ","a",{"limit":1}]"#)
        _ = try await c.messages(until: "EOSE")
        c.send(#"["REQ","b",{"limit":1}]"#)
        let closed = try await c.nextMessage()
        XCTAssertEqual(closed.first as? String, "CLOSED")
        XCTAssertEqual(closed.last as? String, "rate-limited: you are asking too fast from your address, slow down")
    }
}

/// SIGHUP on the real binary: the new policy applies to the open connection; a bad file keeps
/// the old one and the log says why.
final class PolicyReloadTests: XCTestCase {
    func testSIGHUPReloadsThePolicyWithoutDroppingConnectionsAndKeepsItOnABadFile() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("tern.toml").path
        try "[policy]\ndeny_kinds = [7]\n".write(toFile: config, atomically: true, encoding: .utf8)
        let relay = try RelayProcess(data: dir.appendingPathComponent("data").path, arguments: ["--config", config])
        defer { relay.kill(SIGTERM) }
        let client = try await TestClient.connect(port: relay.port, group: TestRelayGroup.shared)
        _ = try await client.nextMessage()  // the AUTH challenge
        let signer = Signer(seed: 404)
        var n = 0
        func publish(_ kind: UInt16) async throws -> (Bool, String) {
            n += 1
            return try await client.publish(signer.event(kind: kind, content: "\(n)", createdAt: now))
        }
        let first = try await publish(7)
        XCTAssertEqual(first.1, "blocked: kind 7 is not accepted by this relay")
        let firstNote = try await publish(1)
        XCTAssertTrue(firstNote.0)

        let plugin = PluginTests.fixture("reject-all.sh")
        try "[policy]\ndeny_kinds = [1]\n[plugin]\ncommand = \"\(plugin)\"\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        kill(relay.process.processIdentifier, SIGHUP)
        XCTAssertTrue(relay.waitForLog("policy reloaded"), "the relay logs the reload")
        let note = try await publish(1)
        XCTAssertEqual(note.1, "blocked: kind 1 is not accepted by this relay", "the same connection, the new policy")
        let reaction = try await publish(7)
        XCTAssertEqual(reaction.1, "blocked: closed for writing", "the plugin named on reload decides")

        try "[policy]\nmode = \"closed\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(relay.process.processIdentifier, SIGHUP)
        XCTAssertTrue(relay.waitForLog("reload failed"))
        XCTAssertTrue(relay.waitForLog("invalid value for policy.mode"), "the log names the bad setting")
        let still = try await publish(1)
        XCTAssertEqual(still.1, "blocked: kind 1 is not accepted by this relay", "the old policy stays in force")
        XCTAssertTrue(relay.process.isRunning)

        try "[policy]\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(relay.process.processIdentifier, SIGHUP)
        XCTAssertTrue(relay.waitForLog("policy reloaded", count: 2))
        let open = try await publish(7)
        XCTAssertTrue(open.0, "no rule and no plugin any more: \(open.1)")
    }
}
