import NostrCore
import NostrTools
import RelayCore
import XCTest

/// NIP-45 COUNT and NIP-77 negentropy end to end: a real relay on loopback, WebSocket clients.
final class SyncAndCountTests: XCTestCase {
    let alice = Signer(seed: 301)

    func publish(_ client: TestClient, _ events: [Event]) async throws {
        for event in events {
            let (accepted, message) = try await client.publish(event)
            XCTAssertTrue(accepted, message)
        }
    }

    /// NIP-45's registers, written here from the NIP's text and independently of the relay's.
    func expectedHLL(target: String, pubkeys: [Bytes32]) -> String {
        let offset = Int(String(Array(target)[32]), radix: 16)! + 8
        var registers = [UInt8](repeating: 0, count: 256)
        for pubkey in pubkeys {
            let bytes = pubkey.bytes
            var zeros = 0
            for byte in bytes[(offset + 1)...] {
                if byte == 0 {
                    zeros += 8
                } else {
                    zeros += byte.leadingZeroBitCount
                    break
                }
            }
            registers[Int(bytes[offset])] = max(registers[Int(bytes[offset])], UInt8(zeros + 1))
        }
        return registers.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined()
    }

    func testCountAnswersWithHyperLogLogForTheCommonQueries() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let t = now
        let note = alice.event(kind: 1, content: "react to me", createdAt: t - 100)
        let reactors = (0..<40).map { Signer(seed: 1000 + UInt64($0)) }
        let reactions = reactors.map { $0.event(kind: 7, content: "+", tags: [["e", note.id.hex]], createdAt: t - 50) }
        let replies = reactors.prefix(5).map {
            $0.event(kind: 1, content: "reply", tags: [["e", note.id.hex]], createdAt: t - 40)
        }
        try await publish(client, [note] + reactions + replies)

        client.send(##"["COUNT","reactions",{"kinds":[7],"#e":["\##(note.id.hex)"]}]"##)
        let answer = try await client.nextMessage()
        XCTAssertEqual(answer[0] as? String, "COUNT")
        XCTAssertEqual(answer[1] as? String, "reactions")
        let body = try XCTUnwrap(answer[2] as? [String: Any])
        XCTAssertEqual(body["count"] as? Int, 40)
        XCTAssertNil(body["approximate"])
        XCTAssertEqual(body["hll"] as? String, expectedHLL(target: note.id.hex, pubkeys: reactors.map(\.publicKey)))

        // Two filters: OR'd and counted once each; no registers (not one of the NIP's shapes).
        client.send(##"["COUNT","both",{"kinds":[7],"#e":["\##(note.id.hex)"]},{"#e":["\##(note.id.hex)"]}]"##)
        let both = try await client.nextMessage()
        XCTAssertEqual((both[2] as? [String: Any])?["count"] as? Int, 45)
        XCTAssertNil((both[2] as? [String: Any])?["hll"])
        client.send(#"["COUNT","mine",{"authors":["\#(alice.publicKey.hex)"]}]"#)
        let mine = try await client.nextMessage()
        XCTAssertEqual((mine[2] as? [String: Any])?["count"] as? Int, 1)

        // Refusals are CLOSED with a prefix: other people's DMs without AUTH.
        client.send(##"["COUNT","dms",{"kinds":[4],"#p":["\##(alice.publicKey.hex)"]}]"##)
        let refused = try await client.nextMessage()
        XCTAssertEqual(refused[0] as? String, "CLOSED")
        XCTAssertTrue((refused[2] as? String)?.hasPrefix("auth-required:") == true, "\(refused)")
        client.send(#"["COUNT","bad",{"kinds":"x"}]"#)
        let bad = try await client.nextMessage()
        XCTAssertEqual(bad[0] as? String, "CLOSED")
        XCTAssertTrue((bad[2] as? String)?.hasPrefix("invalid:") == true, "\(bad)")
    }

    func testACountCutShortByTheScanBudgetIsApproximate() async throws {
        let relay = try TestRelay(maxScanPerFilter: 10)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        try await publish(
            client, (0..<25).map { alice.event(kind: 1, content: "n\($0)", createdAt: now - 100 + Int64($0)) })
        client.send(#"["COUNT","c",{"kinds":[1]}]"#)
        let answer = try await client.nextMessage()
        let body = try XCTUnwrap(answer[2] as? [String: Any])
        XCTAssertEqual(body["count"] as? Int, 10)
        XCTAssertEqual(body["approximate"] as? Bool, true)
    }

    /// Runs a reconciliation as a NIP-77 client over `items`; returns (have, need, rounds).
    func reconcile(
        _ client: TestClient, id: String, filter: String, items: [Negentropy.Item], frameSize: Int = 0
    ) async throws -> (have: Set<Bytes32>, need: Set<Bytes32>, rounds: Int) {
        var session = NegentropySession(items: items, frameSizeLimit: frameSize)
        var outgoing: [UInt8]? = session.initiate()
        client.send(#"["NEG-OPEN","\#(id)",\#(filter),"\#(Hex.encode(outgoing!))"]"#)
        var have: [Bytes32] = []
        var need: [Bytes32] = []
        var rounds = 0
        while outgoing != nil {
            let reply = try await client.nextMessage()
            XCTAssertEqual(reply[0] as? String, "NEG-MSG", "\(reply)")
            XCTAssertEqual(reply[1] as? String, id)
            guard let hex = reply[2] as? String, let bytes = Hex.decode(hex) else { throw TimedOut() }
            outgoing = try session.reconcile(bytes, have: &have, need: &need)
            rounds += 1
            if let next = outgoing { client.send(#"["NEG-MSG","\#(id)","\#(Hex.encode(next))"]"#) }
            if rounds > 200 { break }
        }
        client.send(#"["NEG-CLOSE","\#(id)"]"#)
        return (Set(have), Set(need), rounds)
    }

    func testNegentropyFindsExactlyTheDifferenceWithTheRelay() async throws {
        var limits = Limits()
        limits.negentropyFrameSize = 4096  // many rounds
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let t = now
        let authors = (0..<6).map { Signer(seed: 400 + UInt64($0)) }
        // Many events share a second, so bounds need id prefixes.
        let stored: [Event] = (0..<300).map { (i: Int) -> Event in
            let kind: UInt16 = i % 10 == 0 ? 7 : 1
            return authors[i % 6].event(kind: kind, content: "e\(i)", createdAt: t - 1000 + Int64(i / 7))
        }
        try await publish(client, stored)
        let item = { (e: Event) in Negentropy.Item(timestamp: UInt64(e.createdAt), id: e.id) }
        var rng = SplitMix64(seed: 3)
        let missing = stored.filter { _ in rng.next() % 5 == 0 }
        let missingIDs = Set(missing.map(\.id))
        let extra = (0..<37).map { i in authors[0].event(kind: 1, content: "x\(i)", createdAt: t - 990 + Int64(i)) }
        let mine = stored.filter { !missingIDs.contains($0.id) }.map(item) + extra.map(item)

        let all = try await reconcile(client, id: "all", filter: "{}", items: mine, frameSize: 4096)
        XCTAssertEqual(all.need, missingIDs)
        XCTAssertEqual(all.have, Set(extra.map(\.id)))
        XCTAssertGreaterThan(all.rounds, 1)

        // The filter decides the relay's set: only kind 7 there; our side offers only kind 7.
        let reactions = stored.filter { $0.kind == 7 }
        let partial = try await reconcile(
            client, id: "kind7", filter: #"{"kinds":[7]}"#, items: reactions.dropFirst(3).map(item))
        XCTAssertEqual(partial.need, Set(reactions.prefix(3).map(\.id)))
        XCTAssertEqual(partial.have, [])

        // An empty client learns every id (a full download).
        let everything = try await reconcile(client, id: "empty", filter: "{}", items: [])
        XCTAssertEqual(everything.need, Set(stored.map(\.id)))
    }

    func testNegentropySessionsAreBounded() async throws {
        var limits = Limits()
        limits.maxNegentropySessions = 2
        limits.maxSyncEvents = 20
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        try await publish(
            client, (0..<25).map { alice.event(kind: 1, content: "n\($0)", createdAt: now - 100 + Int64($0)) })
        var empty = NegentropySession(items: [])
        let first = Hex.encode(empty.initiate())

        func expectErr(_ id: String, _ prefix: String, file: StaticString = #filePath, line: UInt = #line) async throws
        {
            let m = try await client.nextMessage()
            XCTAssertEqual(m[0] as? String, "NEG-ERR", "\(m)", file: file, line: line)
            XCTAssertEqual(m[1] as? String, id, file: file, line: line)
            XCTAssertTrue((m[2] as? String)?.hasPrefix(prefix) == true, "\(m)", file: file, line: line)
        }
        // Too many events for one reconciliation.
        client.send(#"["NEG-OPEN","big",{"kinds":[1]},"\#(first)"]"#)
        try await expectErr("big", "blocked:")
        // Two open at once; a third is refused.
        client.send(#"["NEG-OPEN","a",{"kinds":[1],"limit":5,"until":\#(now - 90)},"\#(first)"]"#)
        let openedA = try await client.nextMessage()
        XCTAssertEqual(openedA[0] as? String, "NEG-MSG")
        client.send(#"["NEG-OPEN","b",{"kinds":[1],"until":\#(now - 90)},"\#(first)"]"#)
        let openedB = try await client.nextMessage()
        XCTAssertEqual(openedB[0] as? String, "NEG-MSG")
        client.send(#"["NEG-OPEN","c",{"kinds":[1],"until":\#(now - 90)},"\#(first)"]"#)
        try await expectErr("c", "blocked:")
        // Malformed: not hex; a message for no session; an unreadable payload.
        client.send(#"["NEG-MSG","a","zz"]"#)
        try await expectErr("a", "invalid:")
        client.send(#"["NEG-MSG","nobody","61"]"#)
        try await expectErr("nobody", "closed:")
        client.send(#"["NEG-MSG","b","6100"]"#)
        try await expectErr("b", "invalid:")
        // Another protocol version gets the byte of the one the relay speaks.
        client.send(#"["NEG-OPEN","v2",{"kinds":[1],"until":\#(now - 90)},"62"]"#)
        let version = try await client.nextMessage()
        XCTAssertEqual(version[0] as? String, "NEG-MSG")
        XCTAssertEqual(version[2] as? String, "61")
    }

    /// A reconciliation left alone ends after the idle timeout (on a relay of its own, so that
    /// a slow machine cannot time out the sessions of the test above).
    func testAnIdleNegentropySessionIsClosed() async throws {
        var limits = Limits()
        limits.negentropyIdleTimeout = 1
        limits.pingInterval = 1
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        var empty = NegentropySession(items: [])
        client.send(#"["NEG-OPEN","v2",{"kinds":[1]},"\#(Hex.encode(empty.initiate()))"]"#)
        let opened = try await client.nextMessage()
        XCTAssertEqual(opened[0] as? String, "NEG-MSG")
        // The client answers the relay's pings, and sends nothing else.
        var idle: [Any] = []
        while idle.isEmpty {
            switch try await client.next(seconds: 10) {
            case .text(let text): idle = try XCTUnwrap(JSON.parse(text) as? [Any])
            case .ping: client.sendFrame(.pong, [])
            case let other:
                XCTFail("\(other)")
                throw TimedOut()
            }
        }
        XCTAssertEqual(idle[0] as? String, "NEG-ERR")
        XCTAssertEqual(idle[1] as? String, "v2")
        XCTAssertTrue((idle[2] as? String)?.hasPrefix("closed:") == true, "\(idle)")
    }
}
