import Foundation
import NIOCore
import NostrCore
import NostrStore
import RelayCore
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
