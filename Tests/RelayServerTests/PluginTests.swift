import Foundation
import NostrCore
import NostrTools
import RelayCore
import XCTest

/// Write-policy plugins as strfry runs them, end to end: the fixtures under Fixtures/plugins are
/// real programs started by the relay.
final class PluginTests: XCTestCase {
    let alice = Signer(seed: 601)
    let bob = Signer(seed: 602)

    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/plugins/\(name)")
            .path
    }

    func relay(_ command: String, timeoutMilliseconds: Int = 2000, failOpen: Bool = false) throws -> TestRelay {
        var policy = Policy()
        policy.plugin.command = command
        policy.plugin.timeoutMilliseconds = timeoutMilliseconds
        policy.plugin.failOpen = failOpen
        return try TestRelay(policy: policy)
    }

    func stored(_ client: TestClient, _ event: Event) async throws -> Bool {
        client.send(#"["REQ","q",{"ids":["\#(event.id.hex)"]}]"#)
        let answer = try await client.messages(until: "EOSE")
        client.send(#"["CLOSE","q"]"#)
        return answer.contains { $0.first as? String == "EVENT" }
    }

    /// The whitelist plugin as a shell command (it has spaces, so it runs through /bin/sh -c).
    var whitelist: String { "WHITELIST=\(alice.publicKey.hex) python3 \(Self.fixture("whitelist.py"))" }

    func testAStrfryPluginAcceptsRejectsAndShadowRejects() async throws {
        let relay = try relay(whitelist)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let accepted = alice.event(kind: 1, content: "on the list", createdAt: now)
        let (ok, why) = try await client.publish(accepted)
        XCTAssertTrue(ok, why)
        let isStored = try await stored(client, accepted)
        XCTAssertTrue(isStored)

        let outsider = bob.event(kind: 1, content: "not on the list", createdAt: now)
        let (refused, refusal) = try await client.publish(outsider)
        XCTAssertFalse(refused)
        XCTAssertEqual(refusal, "blocked: not on white-list", "the plugin's message, as strfry sends it")
        let outsiderStored = try await stored(client, outsider)
        XCTAssertFalse(outsiderStored)

        let shadow = alice.event(kind: 1, content: "shadow", createdAt: now)
        let (seemsOK, shadowWhy) = try await client.publish(shadow)
        XCTAssertTrue(seemsOK, "shadowReject looks like success to the client: \(shadowWhy)")
        let shadowStored = try await stored(client, shadow)
        XCTAssertFalse(shadowStored, "but the event is not stored")

        // Pipelined: many events in flight at once, each answered for its own id.
        let many = (0..<50).map { alice.event(kind: 1, content: "many \($0)", createdAt: now) }
        for e in many { client.send(e.message) }
        var answered = Set<String>()
        for _ in many {
            let m = try await client.nextMessage()
            XCTAssertEqual(m.first as? String, "OK")
            XCTAssertEqual(m[2] as? Bool, true)
            answered.insert(m[1] as? String ?? "")
        }
        XCTAssertEqual(answered, Set(many.map(\.id.hex)))
    }

    func testAPluginThatHangsTimesOutFailClosedAndTheRelayKeepsServing() async throws {
        let relay = try relay(Self.fixture("hang.sh"), timeoutMilliseconds: 300)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let event = alice.event(kind: 1, content: "waits", createdAt: now)
        let (ok, why) = try await client.publish(event)
        XCTAssertFalse(ok)
        XCTAssertEqual(why, "error: the relay's write policy could not decide; try again")
        let isStored = try await stored(client, event)
        XCTAssertFalse(isStored)
    }

    func testFailOpenAcceptsWhileThePluginCannotAnswer() async throws {
        let relay = try relay(Self.fixture("hang.sh"), timeoutMilliseconds: 300, failOpen: true)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let event = alice.event(kind: 1, content: "through anyway", createdAt: now)
        let (ok, why) = try await client.publish(event)
        XCTAssertTrue(ok, why)
        let isStored = try await stored(client, event)
        XCTAssertTrue(isStored)
    }

    func testAPluginThatCrashesIsRestarted() async throws {
        let relay = try relay(whitelist)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let (crashed, why) = try await client.publish(alice.event(kind: 1, content: "crash", createdAt: now))
        XCTAssertFalse(crashed)
        XCTAssertEqual(why, "error: the relay's write policy could not decide; try again")
        // Restarted after a back-off of 0.1 s: until then events are refused the same way.
        var accepted = false
        for attempt in 0..<400 where !accepted {
            let (ok, message) = try await client.publish(
                alice.event(kind: 1, content: "after \(attempt)", createdAt: now))
            if ok { accepted = true } else { XCTAssertEqual(message, why) }
        }
        XCTAssertTrue(accepted, "the restarted plugin answers again")
    }

    func testAPluginThatWritesGarbageFailsTheEventNotTheRelay() async throws {
        let relay = try relay(Self.fixture("garbage.sh"))
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        for i in 0..<3 {
            let (ok, why) = try await client.publish(alice.event(kind: 1, content: "garbage \(i)", createdAt: now))
            XCTAssertFalse(ok)
            XCTAssertEqual(why, "error: the relay's write policy could not decide; try again")
        }
        client.send(#"["REQ","still",{"limit":1}]"#)
        let eose = try await client.messages(until: "EOSE")
        XCTAssertEqual(eose.count, 1, "reads are unaffected")
    }

    func testAPluginIsReloadedWhenItsFileChanges() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-plugin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("policy.sh").path
        try FileManager.default.copyItem(atPath: Self.fixture("reject-all.sh"), toPath: path)
        let relay = try relay(path)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let (ok, why) = try await client.publish(alice.event(kind: 1, content: "first", createdAt: now))
        XCTAssertFalse(ok)
        XCTAssertEqual(why, "blocked: closed for writing")

        // Replace the file (a new inode and modification time), as an editor or deploy does.
        let next = dir.appendingPathComponent("policy.next").path
        try FileManager.default.copyItem(atPath: Self.fixture("whitelist.py"), toPath: next)
        _ = rename(next, path)
        // The relay looks at the file about once a second; until then the old plugin answers.
        var newAnswer = false
        for attempt in 0..<400 where !newAnswer {
            let (ok, message) = try await client.publish(
                alice.event(kind: 1, content: "try \(attempt)", createdAt: now))
            XCTAssertFalse(ok)
            if message == "blocked: not on white-list" {
                newAnswer = true
            } else {
                XCTAssertTrue(message == why || message.hasPrefix("error:"), message)
            }
        }
        XCTAssertTrue(newAnswer, "the new plugin (the whitelist, without WHITELIST set) answers")
    }
}
