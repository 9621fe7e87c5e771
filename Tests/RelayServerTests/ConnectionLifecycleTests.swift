import Foundation
import NIOCore
import NIOPosix
import NostrCore
import NostrStore
import NostrTools
import RelayCore
import RelayServer
import XCTest

final class ConnectionLifecycleTests: XCTestCase {
    let alice = Signer(seed: 301)

    func testSilentClientIsPingedThenDisconnected() async throws {
        var limits = Limits()
        limits.pingInterval = 1
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        let awaited1 = try await client.next(seconds: 5)
        XCTAssertEqual(awaited1, .ping)
        // The test client does not answer pings: the relay gives up on it.
        let awaited2 = try await client.next(seconds: 5)
        XCTAssertEqual(awaited2, .close(1001))
    }

    func testClientThatAnswersPingsStays() async throws {
        var limits = Limits()
        limits.pingInterval = 1
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        for _ in 0..<3 {
            let awaited3 = try await client.next(seconds: 5)
            XCTAssertEqual(awaited3, .ping)
            client.sendFrame(.pong, [])
        }
        client.send(#"["REQ","s",{"limit":0}]"#)
        let eose = try await client.nextMessage()
        XCTAssertEqual(eose as? [String], ["EOSE", "s"])
    }

    func testClientThatDoesNotReadIsDisconnectedOthersAreServed() async throws {
        var limits = Limits()
        limits.outboundBudget = 64 * 1024
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (reader, _) = try await relay.connectReady()
        let (stuck, _) = try await relay.connectReady(receiveBuffer: 16 * 1024)
        stuck.send(#"["REQ","all",{}]"#)
        let awaited4 = try await stuck.nextMessage()
        XCTAssertEqual(awaited4 as? [String], ["EOSE", "all"])
        // Stop reading: the kernel buffers fill, then the relay's queue for this client grows.
        try await stuck.channel.setOption(ChannelOptions.autoRead, value: false).get()
        let content = String(repeating: "x", count: 60_000)
        var closedAt: Int?
        for i in 0..<400 {
            let e = alice.event(kind: 1, content: "\(i) \(content)", createdAt: now)
            reader.send(e.message)
            let ok = try await reader.nextMessage()
            XCTAssertEqual(ok[2] as? Bool, true)
            if relay.server.connectionCount == 1 {
                closedAt = i
                break
            }
        }
        XCTAssertNotNil(closedAt, "the relay dropped the client that does not read")
        reader.send(#"["REQ","x",{"limit":1}]"#)
        let served = try await reader.messages(until: "EOSE")
        XCTAssertEqual(served.count, 2, "the well-behaved client is still served")
    }

    func testManyClientsThatDoNotReadAreHeldToTheTotalOutboundBudget() async throws {
        var limits = Limits()
        limits.outboundBudget = 16 << 20  // per client: far more than the total below
        limits.outboundBudgetTotal = 512 << 10
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (reader, _) = try await relay.connectReady()
        var stuck: [TestClient] = []
        for _ in 0..<8 {
            let (client, _) = try await relay.connectReady(receiveBuffer: 16 * 1024)
            client.send(#"["REQ","all",{}]"#)
            let eose = try await client.nextMessage()
            XCTAssertEqual(eose as? [String], ["EOSE", "all"])
            try await client.channel.setOption(ChannelOptions.autoRead, value: false).get()
            stuck.append(client)
        }
        let content = String(repeating: "y", count: 60_000)
        var peak = 0
        for i in 0..<300 where relay.server.connectionCount > 1 {
            let e = alice.event(kind: 1, content: "\(i) \(content)", createdAt: now)
            reader.send(e.message)
            let ok = try await reader.nextMessage()
            XCTAssertEqual(ok[2] as? Bool, true, "the well-behaved client is served throughout")
            peak = max(peak, relay.server.queuedOutboundBytes)
        }
        XCTAssertEqual(relay.server.connectionCount, 1, "every client that does not read was dropped")
        // Each stuck client is dropped once it holds more than its share; the total overshoots
        // by at most one fan-out (8 events of 60 KB) per client before that.
        XCTAssertLessThan(peak, (512 << 10) + 8 * 8 * 61_000, "the total stayed near its budget")
        reader.send(#"["REQ","x",{"limit":1}]"#)
        let served = try await reader.messages(until: "EOSE")
        XCTAssertEqual(served.count, 2)
        for client in stuck { client.close() }
    }

    func testGracefulShutdownCommitsAndClosesWithCloseFrame() async throws {
        let relay = try TestRelay()
        let (client, _) = try await relay.connectReady()
        let events = (0..<20).map { alice.event(kind: 1, content: "n\($0)", createdAt: now) }
        for e in events { client.send(e.message) }
        var acknowledged = 0
        while acknowledged < events.count {
            let m = try await client.nextMessage()
            if m.first as? String == "OK", m[2] as? Bool == true { acknowledged += 1 }
        }
        relay.stop(removeData: false)
        let awaited5 = try await client.next()
        XCTAssertEqual(awaited5, .close(1001))
        // Everything acknowledged is on disk.
        let store = try EventStore(path: relay.path, logger: .init(label: "check"))
        defer {
            store.close()
            try? FileManager.default.removeItem(atPath: relay.path)
        }
        for e in events { XCTAssertNotNil(try store.event(id: e.id)) }
    }
}

/// Opens a WebSocket handshake on a raw socket and returns every byte the relay sends until it
/// closes the connection (a refused connection is answered and closed at once).
func rawHandshake(port: Int, group: EventLoopGroup) async throws -> [UInt8] {
    let request =
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    return try await rawExchange(port: port, request: request, group: group)
}

extension Array where Element == UInt8 {
    func contains(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}

final class ConnectionLimitTests: XCTestCase {
    /// 101, then NOTICE with the reason, then a close frame with code 1013 (try again later).
    func assertRefused(_ bytes: [UInt8], _ notice: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(bytes.contains("HTTP/1.1 101"), file: file, line: line)
        XCTAssertTrue(
            bytes.contains(#"["NOTICE","\#(notice)"]"#), "\(String(decoding: bytes, as: UTF8.self))", file: file,
            line: line)
        let closeFrame: [UInt8] = [0x88, UInt8(2 + "too many connections".utf8.count), 0x03, 0xF5]
        XCTAssertTrue(
            (0...(bytes.count - 4)).contains { Array(bytes[$0..<($0 + 4)]) == closeFrame }, "close 1013", file: file,
            line: line)
    }

    func testPerAddressLimitRefusesClearlyAndFreesOnClose() async throws {
        var limits = Limits()
        limits.maxConnectionsPerIP = 2
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (first, _) = try await relay.connectReady()
        let (second, _) = try await relay.connectReady()
        assertRefused(
            try await rawHandshake(port: relay.port, group: relay.clientGroup),
            "rate-limited: too many connections from your address (max 2)")
        // The admitted ones are served throughout.
        second.send(#"["REQ","s",{"limit":0}]"#)
        let eose = try await second.nextMessage()
        XCTAssertEqual(eose as? [String], ["EOSE", "s"])
        // Closing one frees its place.
        first.close()
        let awaited1 = try await first.next()
        XCTAssertEqual(awaited1, .disconnected)
        var admitted = false
        for _ in 0..<50 where !admitted {
            let next = try await relay.connect()
            if case .text(let text) = try await next.next(), text.hasPrefix(#"["AUTH""#) { admitted = true }
            next.close()
        }
        XCTAssertTrue(admitted)
    }

    func testGlobalLimit() async throws {
        var limits = Limits()
        limits.maxConnections = 1
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (_, _) = try await relay.connectReady()
        assertRefused(
            try await rawHandshake(port: relay.port, group: relay.clientGroup),
            "rate-limited: the relay is at its connection limit (1), try again later")
        XCTAssertEqual(relay.server.connectionCount, 1)
    }

}

/// Slow and stuck peers cost nothing: each is timed out and its place freed.
final class SlowPeerTests: XCTestCase {
    func testClientThatAnswersPingsButSaysNothingIsClosedAtTheIdleTimeout() async throws {
        var limits = Limits()
        limits.pingInterval = 1
        limits.idleTimeout = 3
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (client, _) = try await relay.connectReady()
        do {
            try await relay.server.whenNoConnections(within: .milliseconds(50)).get()
            XCTFail("a connection is open")
        } catch is ConnectionsStillOpen {}
        var pings = 0
        while true {
            let frame = try await client.next(seconds: 10)
            if frame == .ping {
                pings += 1
                client.sendFrame(.pong, [])
                continue
            }
            XCTAssertEqual(frame, .close(1001))
            break
        }
        XCTAssertGreaterThanOrEqual(pings, 1, "it answered pings, so only the idle timeout can close it")
        let reason = try await client.closeReason()
        XCTAssertEqual(reason, "idle timeout")
        // The relay unregisters the connection just after it closes the socket, which the
        // client may see first: wait for it (the future fails if it does not happen).
        try await relay.server.whenNoConnections(within: .seconds(10)).get()
        XCTAssertEqual(relay.server.connectionCount, 0)
    }

    func testStalledUpgradeAndSilentTCPAreClosedAndFreed() async throws {
        var limits = Limits()
        limits.pingInterval = 1
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let (good, _) = try await relay.connectReady()
        // Half of an upgrade request, then nothing; and a TCP connection that never says anything
        // (what a half-open peer looks like from the relay's side).
        async let stalled = rawConnection(
            port: relay.port, request: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n",
            group: relay.clientGroup, seconds: 20)
        async let silent = rawConnection(port: relay.port, request: "", group: relay.clientGroup, seconds: 20)
        let (stalledReply, silentReply) = try await (stalled, silent)
        XCTAssertTrue(stalledReply.closedByRelay, "the relay closed the stalled upgrade")
        XCTAssertEqual(stalledReply.bytes, [], "without an answer")
        XCTAssertTrue(silentReply.closedByRelay, "the relay closed the silent connection")
        // The WebSocket client that answers pings is still there and served.
        for _ in 0..<2 {
            good.send(#"["REQ","s",{"limit":0}]"#)
            while true {
                let frame = try await good.next()
                if frame == .ping {
                    good.sendFrame(.pong, [])
                    continue
                }
                XCTAssertEqual(frame, .text(#"["EOSE","s"]"#))
                break
            }
        }
        XCTAssertEqual(relay.server.connectionCount, 1)
    }
}
