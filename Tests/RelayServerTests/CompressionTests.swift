import NIOHTTP1
import NostrCore
import NostrTools
import RelayCore
import XCTest

@testable import RelayServer

/// permessage-deflate (RFC 7692) end to end: negotiation, compressed answers a client inflates,
/// compressed client messages, and the limits (inflated size, corrupt data, compressed
/// connections).
final class CompressionTests: XCTestCase {
    let alice = Signer(seed: 1401)

    func publishNotes(_ client: TestClient, count: Int) async throws {
        let t = now
        for i in 0..<count {
            let event = alice.event(
                kind: 1, content: "compressible note \(i): " + String(repeating: "gm nostr ", count: 10),
                createdAt: t - Int64(count - i))
            let (ok, message) = try await client.publish(event)
            XCTAssertTrue(ok, message)
        }
    }

    func testNegotiatedConnectionsGetCompressedAnswers() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let client = try await TestClient.connect(
            port: relay.port, group: relay.clientGroup, extensions: "permessage-deflate; client_max_window_bits")
        defer { client.close() }
        let agreed = try XCTUnwrap(client.agreedExtensions, "the relay agrees")
        XCTAssertTrue(agreed.hasPrefix("permessage-deflate"), agreed)
        XCTAssertTrue(agreed.contains("client_no_context_takeover"), agreed)
        XCTAssertTrue(agreed.contains("server_no_context_takeover"), agreed)
        _ = try await client.nextMessage()  // AUTH challenge
        try await publishNotes(client, count: 30)
        client.send(#"["REQ","all",{"kinds":[1]}]"#)
        let answer = try await client.messages(until: "EOSE")
        XCTAssertEqual(answer.count, 31)
        XCTAssertTrue(answer.dropLast().allSatisfy { $0.first as? String == "EVENT" && $0.count == 3 })
        let counts = try await client.received
        XCTAssertGreaterThanOrEqual(counts.compressedFrames, 30, "every event went out compressed")
        XCTAssertLessThan(counts.payloadBytes, counts.inflatedBytes, "fewer bytes on the wire")
        client.send(#"["CLOSE","all"]"#)

        // Messages the client compresses, in one frame or several, are read as any other.
        let event = alice.event(kind: 1, content: "sent compressed", createdAt: now)
        try client.sendCompressed(event.message)
        let ok = try await client.nextMessage()
        XCTAssertEqual(ok[0] as? String, "OK")
        XCTAssertEqual(ok[2] as? Bool, true)
        let fragmented = alice.event(kind: 1, content: String(repeating: "fragmented ", count: 50), createdAt: now)
        try client.sendCompressed(fragmented.message, fragments: 3)
        let ok2 = try await client.nextMessage()
        XCTAssertEqual(ok2[1] as? String, fragmented.id.hex)
        XCTAssertEqual(ok2[2] as? Bool, true)
        try client.sendCompressed(#"["REQ","mine",{"ids":["\#(event.id.hex)"]}]"#)
        let mine = try await client.messages(until: "EOSE")
        XCTAssertEqual(mine.count, 2)
    }

    func testWithoutAnOfferOrPastTheLimitConnectionsRunUncompressed() async throws {
        var settings = CompressionSettings()
        settings.maxConnections = 1
        let relay = try TestRelay(compression: settings)
        defer { relay.stop() }
        let plain = try await TestClient.connect(port: relay.port, group: relay.clientGroup)
        defer { plain.close() }
        XCTAssertNil(plain.agreedExtensions)
        _ = try await plain.nextMessage()
        try await publishNotes(plain, count: 3)
        let plainCounts = try await plain.received
        XCTAssertEqual(plainCounts.compressedFrames, 0)

        let first = try await TestClient.connect(
            port: relay.port, group: relay.clientGroup, extensions: "permessage-deflate")
        defer { first.close() }
        XCTAssertNotNil(first.agreedExtensions)
        let second = try await TestClient.connect(
            port: relay.port, group: relay.clientGroup, extensions: "permessage-deflate")
        defer { second.close() }
        XCTAssertNil(second.agreedExtensions, "past compression.max_connections")
        XCTAssertEqual(relay.server.compressedConnectionCount, 1)
        _ = try await second.nextMessage()
        second.send(#"["REQ","all",{"kinds":[1]}]"#)
        let answer = try await second.messages(until: "EOSE")
        XCTAssertEqual(answer.count, 4)
        let secondCounts = try await second.received
        XCTAssertEqual(secondCounts.compressedFrames, 0)
    }

    func testContextTakeoverAndASmallerWindow() async throws {
        var settings = CompressionSettings()
        settings.contextTakeover = true
        settings.windowBits = 10
        let relay = try TestRelay(compression: settings)
        defer { relay.stop() }
        let client = try await TestClient.connect(
            port: relay.port, group: relay.clientGroup, extensions: "permessage-deflate")
        defer { client.close() }
        let agreed = try XCTUnwrap(client.agreedExtensions)
        XCTAssertFalse(agreed.contains("server_no_context_takeover"), agreed)
        XCTAssertTrue(agreed.contains("server_max_window_bits=10"), agreed)
        _ = try await client.nextMessage()
        try await publishNotes(client, count: 20)
        client.send(#"["REQ","all",{"kinds":[1]}]"#)
        let answer = try await client.messages(until: "EOSE")
        XCTAssertEqual(answer.count, 21, "each message inflates with the window the ones before left")
    }

    func testOversizedOrCorruptCompressedMessagesCloseTheConnection() async throws {
        var limits = Limits()
        limits.maxMessageLength = 65536
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        // A "zip bomb": 1 MiB of spaces in about a kilobyte.
        let bomb = try await TestClient.connect(
            port: relay.port, group: relay.clientGroup, extensions: "permessage-deflate")
        defer { bomb.close() }
        _ = try await bomb.nextMessage()
        try bomb.sendCompressed("[\"REQ\",\"x\",{" + String(repeating: " ", count: 1 << 20) + "}]")
        let bombed = try await bomb.next()
        XCTAssertEqual(bombed, .close(1009))

        let garbage = try await TestClient.connect(
            port: relay.port, group: relay.clientGroup, extensions: "permessage-deflate")
        defer { garbage.close() }
        _ = try await garbage.nextMessage()
        garbage.sendFrame(.text, [0xFF, 0xFE, 0xFD, 0x00, 0x13, 0x37], rsv1: true)
        let corrupt = try await garbage.next()
        XCTAssertEqual(corrupt, .close(1007))

        // The relay goes on serving.
        let after = try await TestClient.connect(
            port: relay.port, group: relay.clientGroup, extensions: "permessage-deflate")
        defer { after.close() }
        let challenge = try await after.nextMessage()
        XCTAssertEqual(challenge.first as? String, "AUTH")
    }

    func testNegotiationFollowsRFC7692() {
        let settings = CompressionSettings()
        func offer(_ value: String) -> DeflateParameters? {
            DeflateParameters.negotiate(HTTPHeaders([("Sec-WebSocket-Extensions", value)]), settings: settings)
        }
        XCTAssertEqual(
            offer("permessage-deflate")?.responseHeader,
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
        XCTAssertEqual(offer("permessage-deflate; server_max_window_bits=12")?.serverWindowBits, 12)
        XCTAssertNil(offer("permessage-deflate; server_max_window_bits=8"), "zlib has no 256-byte window")
        XCTAssertEqual(
            offer("permessage-deflate; server_max_window_bits=8, permessage-deflate")?.serverWindowBits, 15,
            "the next offer is taken")
        XCTAssertNil(offer("permessage-deflate; unknown_parameter"))
        XCTAssertNil(offer("permessage-deflate; server_no_context_takeover; server_no_context_takeover"))
        XCTAssertNil(offer("permessage-deflate; server_no_context_takeover=1"))
        XCTAssertNil(offer("x-webkit-deflate-frame"))
        // Found by the fuzzer: a parameter without a name once crashed the negotiation.
        XCTAssertNil(offer("permessage-deflate; ="))
        XCTAssertNil(offer("permessage-deflate;;"))
        XCTAssertNil(offer("permessage-deflate; =15"))
        XCTAssertNil(offer("permessage-deflate; server_max_window_bits="))
        XCTAssertNotNil(offer("permessage-deflate; client_max_window_bits=10; client_no_context_takeover"))
        var off = CompressionSettings()
        off.contextTakeover = true
        XCTAssertEqual(
            DeflateParameters.negotiate(
                HTTPHeaders([("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover")]),
                settings: off)?.serverContextTakeover, false, "the client may ask the relay to reset")
    }
}
