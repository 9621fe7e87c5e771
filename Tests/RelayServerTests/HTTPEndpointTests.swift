import NIOCore
import NIOPosix
import RelayCore
import XCTest

/// A minimal HTTP/1.1 GET over a raw socket (Connection: close), for the relay's HTTP routes.
func httpGet(port: Int, path: String, headers: [String: String] = [:], group: EventLoopGroup) async throws -> (
    status: Int, headers: String, body: String
) {
    var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for (k, v) in headers { request += "\(k): \(v)\r\n" }
    request += "\r\n"
    let text = String(decoding: try await rawExchange(port: port, request: request, group: group), as: UTF8.self)
    let parts = text.components(separatedBy: "\r\n\r\n")
    let status = Int(parts[0].split(separator: " ")[1]) ?? 0
    return (status, parts[0], parts.dropFirst().joined(separator: "\r\n\r\n"))
}

final class HTTPEndpointTests: XCTestCase {
    func testNIP11DocumentAdvertisesRealLimits() async throws {
        var limits = RelayCoreLimits()
        limits.maxSubscriptions = 7
        limits.maxLimit = 321
        let relay = try TestRelay(limits: limits)
        defer { relay.stop() }
        let r = try await httpGet(
            port: relay.port, path: "/", headers: ["Accept": "application/nostr+json"], group: relay.clientGroup)
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.headers.lowercased().contains("content-type: application/nostr+json"))
        XCTAssertTrue(r.headers.contains("Access-Control-Allow-Origin: *"))
        let doc = try XCTUnwrap(JSON.parse(r.body) as? [String: Any])
        XCTAssertEqual(doc["supported_nips"] as? [Int], [1, 9, 11, 13, 40, 42, 45, 50, 62, 70, 77, 86])
        let limitation = try XCTUnwrap(doc["limitation"] as? [String: Any])
        XCTAssertEqual(limitation["max_subscriptions"] as? Int, 7)
        XCTAssertEqual(limitation["max_limit"] as? Int, 321)
        XCTAssertEqual(limitation["max_message_length"] as? Int, limits.maxMessageLength)
        XCTAssertEqual(limitation["auth_required"] as? Bool, false)
    }

    func testHTMLPageAndHealth() async throws {
        var info = RelayCoreInfo()
        info.name = "Test <Relay>"
        info.url = "wss://relay.example.com"
        let relay = try TestRelay(info: info)
        defer { relay.stop() }
        let page = try await httpGet(port: relay.port, path: "/", group: relay.clientGroup)
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.headers.contains("text/html"))
        XCTAssertTrue(page.body.contains("Test &lt;Relay&gt;"))
        XCTAssertTrue(page.body.contains("wss://relay.example.com"))
        XCTAssertTrue(page.body.contains("01, 09, 11, 13, 40, 42, 45, 50, 62, 70, 77, 86"))
        let health = try await httpGet(port: relay.port, path: "/health", group: relay.clientGroup)
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.body, "ok\n")
        let missing = try await httpGet(port: relay.port, path: "/nope", group: relay.clientGroup)
        XCTAssertEqual(missing.status, 404)
    }

    func testSoftwareIsASettingAndThePageShowsTheAddressAsked() async throws {
        let plain = try TestRelay()
        defer { plain.stop() }
        let doc = try await httpGet(
            port: plain.port, path: "/", headers: ["Accept": "application/nostr+json"], group: plain.clientGroup)
        XCTAssertNil(try XCTUnwrap(JSON.parse(doc.body) as? [String: Any])["software"], "left out when unset")
        let page = try await httpGet(port: plain.port, path: "/", group: plain.clientGroup)
        XCTAssertTrue(page.body.contains("<code>ws://127.0.0.1</code>"), "the Host it was asked at: \(page.body)")
        let proxied = try await httpGet(
            port: plain.port, path: "/", headers: ["X-Forwarded-Proto": "https"], group: plain.clientGroup)
        XCTAssertTrue(proxied.body.contains("<code>wss://127.0.0.1</code>"), "behind a TLS proxy")

        var info = RelayCoreInfo()
        info.software = "https://example.com/tern"
        let named = try TestRelay(info: info)
        defer { named.stop() }
        let namedDoc = try await httpGet(
            port: named.port, path: "/", headers: ["Accept": "application/nostr+json"], group: named.clientGroup)
        XCTAssertEqual(
            try XCTUnwrap(JSON.parse(namedDoc.body) as? [String: Any])["software"] as? String,
            "https://example.com/tern")
    }

    func testWebSocketOnlyAtRoot() async throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        do {
            _ = try await relay.connect(path: "/other")
            XCTFail("upgrade on another path should be refused")
        } catch let refused as TestClient.UpgradeRefused {
            XCTAssertEqual(refused.status, 404)
        }
    }
}

typealias RelayCoreLimits = Limits
typealias RelayCoreInfo = RelayInfo
