import NIOHTTP1
import RelayCore
import XCTest

@testable import RelayServer

/// Behind a trusted proxy, the client's address comes from `X-Forwarded-For`; from anyone else,
/// the header is ignored.
final class TrustedProxyTests: XCTestCase {
    func head(_ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: HTTPHeaders(headers))
    }

    func testClientAddressIsTakenFromTrustedProxiesOnly() {
        let forwarded = head([("X-Forwarded-For", "198.51.100.7, 203.0.113.9")])
        XCTAssertEqual(
            RelayServer.clientAddress(peer: "127.0.0.1", head: forwarded, trusted: ["127.0.0.1"]), "203.0.113.9",
            "the address the proxy saw is the last one it added")
        XCTAssertEqual(
            RelayServer.clientAddress(peer: "192.0.2.1", head: forwarded, trusted: ["127.0.0.1"]), "192.0.2.1",
            "an untrusted peer cannot choose its address")
        XCTAssertEqual(
            RelayServer.clientAddress(
                peer: "127.0.0.1", head: head([("X-Real-IP", "203.0.113.5")]), trusted: ["127.0.0.1"]),
            "203.0.113.5")
        XCTAssertEqual(
            RelayServer.clientAddress(peer: "127.0.0.1", head: head([]), trusted: ["127.0.0.1"]), "127.0.0.1")
    }

    func testBansApplyToTheForwardedClient() async throws {
        var limits = Limits()
        limits.trustedProxies = ["127.0.0.1"]
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        relay.server.relay.authorization.updateLists { $0.blockedIPs["203.0.113.9"] = "testing" }
        let request =
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + "X-Forwarded-For: 203.0.113.9\r\n\r\n"
        let refused = try await rawExchange(port: relay.port, request: request, group: relay.clientGroup)
        XCTAssertTrue(refused.contains(#"["NOTICE","blocked: your address is blocked by this relay"]"#))
        // The proxy itself is not blocked: a client it forwards from elsewhere gets in.
        let other = try await TestClient.connect(port: relay.port, group: relay.clientGroup)
        defer { other.close() }
        let challenge = try await other.nextMessage()
        XCTAssertEqual(challenge.first as? String, "AUTH")
    }
}
