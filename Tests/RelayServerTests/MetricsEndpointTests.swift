import Foundation
import NostrCore
import NostrTools
import XCTest

/// `/metrics` of the real binary, in Prometheus' text format, after real traffic.
final class MetricsEndpointTests: XCTestCase {
    /// The value of the sample `name{labels}` (or `name` without labels) in a scrape.
    func value(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1))
        }
        return nil
    }

    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tern-metrics-\(UUID().uuidString)").path
    }

    func testMetricsCountTheTraffic() async throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let relay = try RelayProcess(data: data)
        defer { relay.kill(SIGTERM) }
        let group = TestRelayGroup.shared
        let client = try await TestClient.connect(port: relay.port, group: group)
        defer { client.close() }
        _ = try await client.nextMessage()  // AUTH challenge
        let alice = Signer(seed: 1301)
        let t = now
        for i in 0..<3 {
            let (ok, message) = try await client.publish(
                alice.event(kind: 1, content: "m \(i)", createdAt: t - Int64(i)))
            XCTAssertTrue(ok, message)
        }
        let (again, _) = try await client.publish(alice.event(kind: 1, content: "m 0", createdAt: t))
        XCTAssertTrue(again, "a duplicate is OK true")
        let stale = alice.event(kind: 1, content: "old", createdAt: t + 3600)
        let (refused, reason) = try await client.publish(stale)
        XCTAssertFalse(refused)
        XCTAssertTrue(reason.hasPrefix("invalid:"), reason)
        client.send(#"["REQ","q",{"kinds":[1]}]"#)
        let answer = try await client.messages(until: "EOSE")
        XCTAssertEqual(answer.count, 4)
        client.send("not json")
        _ = try await client.nextMessage()  // NOTICE

        let scrape = try await httpGet(port: relay.port, path: "/metrics", group: group)
        XCTAssertEqual(scrape.status, 200)
        XCTAssertTrue(scrape.headers.contains("text/plain; version=0.0.4"), scrape.headers)
        let text = scrape.body
        let expected: [(String, Double)] = [
            (#"tern_messages_in_total{verb="EVENT"}"#, 5), (#"tern_messages_in_total{verb="REQ"}"#, 1),
            (#"tern_messages_in_total{verb="invalid"}"#, 1), (#"tern_messages_out_total{verb="OK"}"#, 5),
            (#"tern_messages_out_total{verb="EOSE"}"#, 1), (#"tern_messages_out_total{verb="EVENT"}"#, 3),
            (#"tern_messages_out_total{verb="NOTICE"}"#, 1), (#"tern_messages_out_total{verb="AUTH"}"#, 1),
            (#"tern_events_accepted_total{as="stored"}"#, 3), (#"tern_events_accepted_total{as="duplicate"}"#, 1),
            (#"tern_events_rejected_total{reason="invalid"}"#, 1), ("tern_ok_latency_seconds_count", 5),
            ("tern_query_seconds_count", 1), ("tern_connections", 1), ("tern_events_stored", 3),
            ("tern_slow_clients_dropped_total", 0),
        ]
        for (name, number) in expected {
            XCTAssertEqual(value(name, in: text), number, name)
        }
        XCTAssertGreaterThanOrEqual(value("tern_writer_batch_events_count", in: text) ?? 0, 1)
        XCTAssertEqual(
            value("tern_writer_batch_events_sum", in: text), 4, "three new events and the duplicate reach the writer")
        XCTAssertGreaterThanOrEqual(value("tern_writer_commit_seconds_count", in: text) ?? 0, 1)
        XCTAssertGreaterThan(value("tern_store_bytes", in: text) ?? 0, 0)
        XCTAssertNotNil(value(#"tern_queue_depth{queue="writer"}"#, in: text))
        XCTAssertNotNil(value(#"tern_queue_depth{queue="readers"}"#, in: text))
        XCTAssertNotNil(value("tern_outbound_queued_bytes", in: text))
    }

    func testMetricsOnTheirOwnPortOrOff() async throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let group = TestRelayGroup.shared
        let relay = try RelayProcess(data: data, environment: ["TERN_METRICS_LISTEN": "127.0.0.1:0"])
        XCTAssertTrue(relay.waitForLog("metrics listening"))
        let line = try XCTUnwrap(relay.log.split(separator: "\n").first { $0.contains("metrics listening") })
        let port = try XCTUnwrap(Int(line.split(separator: ":").last!.prefix { $0.isNumber }))
        let own = try await httpGet(port: port, path: "/metrics", group: group)
        XCTAssertEqual(own.status, 200)
        XCTAssertTrue(own.body.contains("tern_connections"))
        let elsewhere = try await httpGet(port: port, path: "/", group: group)
        XCTAssertEqual(elsewhere.status, 404, "the metrics port serves nothing else")
        let onRelay = try await httpGet(port: relay.port, path: "/metrics", group: group)
        XCTAssertEqual(onRelay.status, 404, "not on the public port once it has its own")
        relay.kill(SIGTERM)

        let off = try RelayProcess(data: data, environment: ["TERN_METRICS_ENABLED": "false"])
        defer { off.kill(SIGTERM) }
        let none = try await httpGet(port: off.port, path: "/metrics", group: group)
        XCTAssertEqual(none.status, 404)
    }
}
