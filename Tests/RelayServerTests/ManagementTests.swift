import Foundation
import NIOCore
import NostrCore
import NostrTools
import RelayCore
import XCTest

/// A raw HTTP/1.1 POST (Connection: close) of `body` with `headers`.
func httpPost(port: Int, body: [UInt8], headers: [String: String], group: EventLoopGroup) async throws -> (
    status: Int, body: String
) {
    var request = "POST / HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
    for (k, v) in headers.sorted(by: { $0.key < $1.key }) { request += "\(k): \(v)\r\n" }
    request += "\r\n" + String(decoding: body, as: UTF8.self)
    let text = String(decoding: try await rawExchange(port: port, request: request, group: group), as: UTF8.self)
    let parts = text.components(separatedBy: "\r\n\r\n")
    let status = Int(parts[0].split(separator: " ").dropFirst().first ?? "") ?? 0
    return (status, parts.dropFirst().joined(separator: "\r\n\r\n"))
}

/// NIP-86 over HTTP with NIP-98 tokens: good and bad tokens, every method, persistence.
final class ManagementTests: XCTestCase {
    let admin = Signer(seed: 501)
    let bob = Signer(seed: 502)
    let carol = Signer(seed: 503)

    func relay(path: String? = nil) throws -> TestRelay {
        var policy = Policy()
        policy.admins = [admin.publicKey]
        return try TestRelay(policy: policy, path: path)
    }

    /// The NIP-98 header for `body`, with fields a test may spoil.
    func token(
        _ body: [UInt8], signer: Signer? = nil, kind: UInt16 = 27235, u: String? = nil, method: String = "POST",
        payload: String? = nil, createdAt: Int64? = nil, port: Int
    ) -> String {
        let event = (signer ?? admin).event(
            kind: kind, content: "",
            tags: [
                ["u", u ?? "http://127.0.0.1:\(port)/"], ["method", method],
                ["payload", payload ?? EventID.sha256(body).hex],
            ], createdAt: createdAt ?? now)
        return "Nostr " + Base64.encode(event.jsonBytes)
    }

    func rpc(_ relay: TestRelay, _ method: String, _ params: [JSONValue] = [], signer: Signer? = nil) async throws
        -> (status: Int, answer: JSONValue?)
    {
        let body = JSONValue.object([("method", .string(method)), ("params", .array(params))]).bytes
        let r = try await httpPost(
            port: relay.port, body: body,
            headers: [
                "Content-Type": "application/nostr+json+rpc",
                "Authorization": token(body, signer: signer, port: relay.port),
            ], group: relay.clientGroup)
        return (r.status, try? JSONValue.parse(r.body))
    }

    func testMethodsChangeThePolicyAtOnceAndPersist() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-nip86-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let relay = try relay(path: path)
        let supported = try await rpc(relay, "supportedmethods")
        XCTAssertEqual(supported.status, 200)
        XCTAssertEqual(supported.answer?["result"]?.array?.count, ManagementService.methods.count)

        let (client, _) = try await relay.connectReady()
        let stays = bob.event(kind: 1, content: "before the ban", createdAt: now)
        let (accepted, _) = try await client.publish(stays)
        XCTAssertTrue(accepted)
        let ban = try await rpc(relay, "banpubkey", [.string(bob.publicKey.hex), .string("spam")])
        XCTAssertEqual(ban.answer?["result"], .bool(true))
        let (afterBan, why) = try await client.publish(bob.event(kind: 1, content: "after", createdAt: now))
        XCTAssertFalse(afterBan)
        XCTAssertEqual(why, "blocked: this pubkey is banned from this relay")
        let banned = try await rpc(relay, "listbannedpubkeys")
        XCTAssertEqual(
            banned.answer?["result"],
            .array([.object([("pubkey", .string(bob.publicKey.hex)), ("reason", .string("spam"))])]))

        let note = carol.event(kind: 1, content: "to be banned", createdAt: now)
        _ = try await client.publish(note)
        _ = try await rpc(relay, "banevent", [.string(note.id.hex), .string("illegal")])
        client.send(#"["REQ","n",{"ids":["\#(note.id.hex)"]}]"#)
        let found = try await client.messages(until: "EOSE")
        XCTAssertEqual(found.count, 1, "the banned event is deleted: only EOSE")
        let (again, againWhy) = try await client.publish(note)
        XCTAssertFalse(again)
        XCTAssertEqual(againWhy, "blocked: this event is banned from this relay")
        let events = try await rpc(relay, "listbannedevents")
        XCTAssertEqual(events.answer?["result"]?.array?.first?["id"], .string(note.id.hex))

        _ = try await rpc(relay, "disallowkind", [.integer(7)])
        let (reaction, reactionWhy) = try await client.publish(carol.event(kind: 7, content: "+", createdAt: now))
        XCTAssertFalse(reaction)
        XCTAssertEqual(reactionWhy, "blocked: kind 7 is not accepted by this relay")
        _ = try await rpc(relay, "allowkind", [.integer(1)])
        let kinds = try await rpc(relay, "listallowedkinds")
        XCTAssertEqual(kinds.answer?["result"], .array([.integer(1)]))
        let (article, articleWhy) = try await client.publish(carol.event(kind: 30023, content: "", createdAt: now))
        XCTAssertFalse(article, "with an allow list, other kinds are refused")
        XCTAssertEqual(articleWhy, "blocked: kind 30023 is not accepted by this relay")

        _ = try await rpc(relay, "changerelayname", [.string("Renamed")])
        _ = try await rpc(relay, "changerelaydescription", [.string("Now managed")])
        _ = try await rpc(relay, "changerelayicon", [.string("https://example.com/icon.png")])
        let nip11 = try await httpGet(
            port: relay.port, path: "/", headers: ["Accept": "application/nostr+json"], group: relay.clientGroup)
        let doc = try JSONValue.parse(nip11.body)
        XCTAssertEqual(doc["name"], .string("Renamed"))
        XCTAssertEqual(doc["description"], .string("Now managed"))
        XCTAssertEqual(doc["icon"], .string("https://example.com/icon.png"))

        _ = try await rpc(relay, "blockip", [.string("127.0.0.1"), .string("testing")])
        // On a raw socket: the 101, the NOTICE and the close frame may come in one segment.
        let refused = try await rawHandshake(port: relay.port, group: relay.clientGroup)
        XCTAssertTrue(refused.contains(#"["NOTICE","blocked: your address is blocked by this relay"]"#))
        let closeFrame: [UInt8] = [0x88, UInt8(2 + "blocked".utf8.count), 0x03, 0xF0]  // 1008
        XCTAssertTrue((0...(refused.count - 4)).contains { Array(refused[$0..<($0 + 4)]) == closeFrame }, "close 1008")
        let ips = try await rpc(relay, "listblockedips")
        XCTAssertEqual(ips.answer?["result"]?.array?.first?["ip"], .string("127.0.0.1"))
        _ = try await rpc(relay, "unblockip", [.string("127.0.0.1")])
        _ = try await relay.connectReady()

        // A restart on the same store keeps every change.
        relay.stop(removeData: false)
        let restarted = try self.relay(path: path)
        defer { restarted.stop() }
        let kept = try await rpc(restarted, "listbannedpubkeys")
        XCTAssertEqual(kept.answer?["result"]?.array?.first?["pubkey"], .string(bob.publicKey.hex))
        let keptKinds = try await rpc(restarted, "listallowedkinds")
        XCTAssertEqual(keptKinds.answer?["result"], .array([.integer(1)]))
        let info = try await httpGet(
            port: restarted.port, path: "/", headers: ["Accept": "application/nostr+json"],
            group: restarted.clientGroup)
        XCTAssertEqual(try JSONValue.parse(info.body)["name"], .string("Renamed"))
        let (client2, _) = try await restarted.connectReady()
        let (still, stillWhy) = try await client2.publish(bob.event(kind: 1, content: "later", createdAt: now))
        XCTAssertFalse(still)
        XCTAssertEqual(stillWhy, "blocked: this pubkey is banned from this relay")
        _ = try await rpc(restarted, "unbanpubkey", [.string(bob.publicKey.hex)])
        let (back, backWhy) = try await client2.publish(bob.event(kind: 1, content: "back", createdAt: now))
        XCTAssertTrue(back, backWhy)
    }

    func testBadTokensGet401AndBadRequests400() async throws {
        let relay = try relay()
        defer { relay.stop() }
        let body = JSONValue.object([("method", .string("supportedmethods")), ("params", .array([]))]).bytes
        let port = relay.port
        let rpcBody = body
        func post(_ authorization: String?, body: [UInt8]? = nil) async throws -> (Int, String) {
            var headers = ["Content-Type": "application/nostr+json+rpc"]
            if let authorization { headers["Authorization"] = authorization }
            let r = try await httpPost(port: port, body: body ?? rpcBody, headers: headers, group: relay.clientGroup)
            return (r.status, (try? JSONValue.parse(r.body))?["error"]?.string ?? r.body)
        }
        let cases: [(String?, String)] = [
            (nil, "auth-required: no Authorization header"),
            ("Bearer abc", "auth-required: the Authorization scheme must be Nostr"),
            ("Nostr !!!", "auth-required: the Authorization header does not hold a base64 event"),
            (
                "Nostr " + Base64.encode(Array("{}".utf8)),
                "auth-required: the Authorization header does not hold a base64 event"
            ),
            (token(body, kind: 27236, port: port), "auth-required: the event must be of kind 27235"),
            (
                token(body, createdAt: now - 3600, port: port),
                "auth-required: the event's created_at is more than 60 seconds from now"
            ),
            (
                token(body, u: "http://elsewhere.example/", port: port),
                "auth-required: the u tag does not name this relay"
            ),
            (token(body, method: "GET", port: port), "auth-required: the method tag does not match the request"),
            (
                token(body, payload: String(repeating: "0", count: 64), port: port),
                "auth-required: the payload tag is not the SHA-256 of the body"
            ),
            (token(body, signer: bob, port: port), "restricted: \(bob.publicKey.hex) is not an admin of this relay"),
        ]
        for (authorization, message) in cases {
            let (status, error) = try await post(authorization)
            XCTAssertEqual(status, 401, message)
            XCTAssertEqual(error, message)
        }
        // A token whose signature does not verify.
        var forged = admin.event(
            kind: 27235, content: "",
            tags: [["u", "http://127.0.0.1:\(port)/"], ["method", "POST"], ["payload", EventID.sha256(body).hex]],
            createdAt: now)
        forged.createdAt += 1
        let (forgedStatus, forgedError) = try await post("Nostr " + Base64.encode(forged.jsonBytes))
        XCTAssertEqual(forgedStatus, 401)
        XCTAssertEqual(forgedError, "auth-required: event id does not match the hash of the event")

        let unknown = try await rpc(relay, "dropdatabase")
        XCTAssertEqual(unknown.status, 400)
        XCTAssertEqual(
            unknown.answer?["error"], .string("unsupported: method dropdatabase is not supported; see supportedmethods")
        )
        let badKey = try await rpc(relay, "banpubkey", [.string("npub-not-hex")])
        XCTAssertEqual(badKey.answer?["error"], .string("invalid: banpubkey takes a 64-character hex pubkey"))
        let badKind = try await rpc(relay, "allowkind", [.integer(70000)])
        XCTAssertEqual(badKind.answer?["error"], .string("invalid: allowkind takes a kind number from 0 to 65535"))
        let badIP = try await rpc(relay, "blockip", [.string("<script>")])
        XCTAssertEqual(badIP.answer?["error"], .string("invalid: blockip takes an IPv4 or IPv6 address"))

        // Hostile bodies, each with a valid token for exactly those bytes.
        for hostile in ["not json", String(repeating: "[", count: 10_000), #"{"method":42}"#, #"{"params":[]}"#] {
            let bytes = Array(hostile.utf8)
            let (status, _) = try await post(token(bytes, port: port), body: bytes)
            XCTAssertEqual(status, 400, hostile)
        }
        let huge = [UInt8](repeating: UInt8(ascii: " "), count: ManagementService.maxBody + 1)
        let (hugeStatus, _) = try await post(token(huge, port: port), body: huge)
        XCTAssertEqual(hugeStatus, 413)
        let (client, _) = try await relay.connectReady()
        let (ok, why) = try await client.publish(bob.event(kind: 1, content: "still serving", createdAt: now))
        XCTAssertTrue(ok, why)
    }
}

/// `tern admin` against the real binary: signs NIP-98 with a key from a file or the environment.
final class AdminCommandTests: XCTestCase {
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = RelayProcess.binary
        process.arguments = ["admin"] + arguments
        process.environment = RelayProcess.environment(environment)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self)
        )
    }

    func testAdminBansAndListsWithAKeyFileAndRefusesAnotherKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-admin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let secret = EventID.sha256(Array("tern admin test key".utf8))
        let admin = try XCTUnwrap(Signer(secretKey: secret.bytes))
        let keyFile = dir.appendingPathComponent("admin.key").path
        try (secret.hex + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let relay = try RelayProcess(
            data: dir.appendingPathComponent("data").path,
            environment: ["TERN_POLICY_ADMINS": admin.publicKey.hex])
        defer { relay.kill(SIGTERM) }
        let url = "http://127.0.0.1:\(relay.port)"
        let target = Signer(seed: 510).publicKey.hex

        let (status, out, err) = try run(["--url", url, "--key-file", keyFile, "banpubkey", target, "spam"])
        XCTAssertEqual(status, 0, err)
        XCTAssertEqual(out, "true\n")
        let (_, listed, _) = try run(["--url", url, "--key-file", keyFile, "listbannedpubkeys"])
        XCTAssertEqual(listed, #"[{"pubkey":"\#(target)","reason":"spam"}]"# + "\n")
        let (_, kinds, _) = try run(
            ["--url", url, "allowkind", "1"], environment: ["TERN_ADMIN_KEY": secret.hex])
        XCTAssertEqual(kinds, "true\n", "the key from the environment, a kind as a number")

        let other = EventID.sha256(Array("not an admin".utf8)).hex
        let (refused, _, why) = try run(["--url", url, "listbannedpubkeys"], environment: ["TERN_ADMIN_KEY": other])
        XCTAssertNotEqual(refused, 0)
        XCTAssertTrue(why.contains("HTTP 401") && why.contains("is not an admin of this relay"), why)
        let (noKey, _, noKeyWhy) = try run(["--url", url, "supportedmethods"], environment: ["TERN_ADMIN_KEY": "xyz"])
        XCTAssertNotEqual(noKey, 0)
        XCTAssertTrue(noKeyWhy.contains("64 hex characters or nsec"), noKeyWhy)
    }
}
