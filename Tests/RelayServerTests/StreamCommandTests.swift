import Foundation
import NostrCore
import NostrTools
import XCTest

/// `tern stream` between two real relays (`serve` processes on loopback): live both ways, each
/// event forwarded once, resuming from the newest event after the other relay restarts.
final class StreamCommandTests: XCTestCase {
    let alice = Signer(seed: 961)
    let bob = Signer(seed: 962)

    func temporaryDirectory() -> String { RelayProcess.temporaryDirectory("tern-stream") }

    func publish(_ port: Int, _ event: Event) async throws {
        let client = try await TestClient.connect(port: port, group: TestRelayGroup.shared)
        defer { client.close() }
        _ = try await client.nextMessage()  // the AUTH challenge
        let (accepted, message) = try await client.publish(event)
        XCTAssertTrue(accepted, message)
    }

    /// Waits (on a live subscription) until the relay on `port` holds `event`.
    func arrives(_ event: Event, at port: Int) async throws -> Bool {
        let client = try await TestClient.connect(port: port, group: TestRelayGroup.shared)
        defer { client.close() }
        client.send(#"["REQ","w",{"ids":["\#(event.id.hex)"]}]"#)
        let messages = try await client.messages(until: "EVENT", seconds: 30)
        return (messages.last?[2] as? [String: Any])?["id"] as? String == event.id.hex
    }

    func stored(_ event: Event, at port: Int) async throws -> Bool {
        let client = try await TestClient.connect(port: port, group: TestRelayGroup.shared)
        defer { client.close() }
        client.send(#"["REQ","s",{"ids":["\#(event.id.hex)"]}]"#)
        return try await client.messages(until: "EOSE").contains { $0.first as? String == "EVENT" }
    }

    func testStreamKeepsBothRelaysInStepAndResumesAfterARestart() async throws {
        let dataA = temporaryDirectory()
        let dataB = temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: dataA)
            try? FileManager.default.removeItem(atPath: dataB)
        }
        let t = now
        let a = try RelayProcess(data: dataA)
        defer { a.kill(SIGTERM) }
        var b = try RelayProcess(data: dataB)
        let portB = b.port
        let ancient = alice.event(kind: 1, content: "before B's newest", createdAt: t - 300)
        let recent = alice.event(kind: 1, content: "after B's newest", createdAt: t - 50)
        let bobsOld = bob.event(kind: 1, content: "B's newest", createdAt: t - 100)
        try await publish(a.port, ancient)
        try await publish(a.port, recent)
        try await publish(portB, bobsOld)

        let stream = try RelayProcess(
            arguments: [
                "stream", "--url", "ws://127.0.0.1:\(portB)", "--local", "ws://127.0.0.1:\(a.port)", "--dir", "both",
            ],
            waitForPort: false)
        XCTAssertTrue(stream.waitForLog("connected", count: 2), stream.log)
        // Up resumes from B's newest: the recent note goes, the ancient one does not; down
        // resumes from A's newest, after B's old note.
        let recentArrived = try await arrives(recent, at: portB)
        XCTAssertTrue(recentArrived)
        let ancientThere = try await stored(ancient, at: portB)
        XCTAssertFalse(ancientThere)

        // Live, both ways.
        let fromA = alice.event(kind: 1, content: "live from A", createdAt: t - 40)
        try await publish(a.port, fromA)
        let fromAArrived = try await arrives(fromA, at: portB)
        XCTAssertTrue(fromAArrived)
        let fromB = bob.event(kind: 1, content: "live from B", createdAt: t - 30)
        try await publish(portB, fromB)
        let fromBArrived = try await arrives(fromB, at: a.port)
        XCTAssertTrue(fromBArrived)

        // B goes away; A gets a note meanwhile; B comes back on its port and gets it.
        b.kill(SIGTERM)
        XCTAssertTrue(stream.waitForLog("reconnecting", count: 1), stream.log)
        let missed = alice.event(kind: 1, content: "while B was down", createdAt: t - 20)
        try await publish(a.port, missed)
        b = try RelayProcess(data: dataB, arguments: ["--listen", "127.0.0.1:\(portB)"])
        defer { b.kill(SIGTERM) }
        let missedArrived = try await arrives(missed, at: portB)
        XCTAssertTrue(missedArrived, stream.log)

        stream.kill(SIGTERM)
        let report = stream.output()
        // Up forwarded recent, fromA and missed; down forwarded fromB. Nothing echoed back, and
        // what up sent before the restart was not sent again after it.
        XCTAssertTrue(report.contains("up: forwarded 3 "), report)
        XCTAssertTrue(report.contains("down: forwarded 1 "), report)
        XCTAssertTrue(report.contains("rejected 0"), report)
    }

    /// `[stream] peers` in the configuration: `serve` keeps the copy itself.
    func testServeStreamsWithTheConfiguredPeers() async throws {
        let dataA = temporaryDirectory()
        let dataB = temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: dataA)
            try? FileManager.default.removeItem(atPath: dataB)
        }
        let b = try RelayProcess(data: dataB)
        defer { b.kill(SIGTERM) }
        let a = try RelayProcess(
            data: dataA,
            environment: ["TERN_STREAM_PEERS": "ws://127.0.0.1:\(b.port)", "TERN_STREAM_FILTER": #"{"kinds":[1]}"#])
        defer { a.kill(SIGTERM) }
        XCTAssertTrue(a.waitForLog("connected", count: 2), a.log)
        let t = now
        let fromB = bob.event(kind: 1, content: "to A", createdAt: t - 10)
        try await publish(b.port, fromB)
        let fromBArrived = try await arrives(fromB, at: a.port)
        XCTAssertTrue(fromBArrived)
        // A reaction (outside the filter), then a note: once the note is at B, the reaction
        // would have been too (A sends them in order).
        let reaction = alice.event(kind: 7, content: "+", createdAt: t - 6)
        try await publish(a.port, reaction)
        let fromA = alice.event(kind: 1, content: "to B", createdAt: t - 5)
        try await publish(a.port, fromA)
        let fromAArrived = try await arrives(fromA, at: b.port)
        XCTAssertTrue(fromAArrived)
        let reactionThere = try await stored(reaction, at: b.port)
        XCTAssertFalse(reactionThere, "outside the filter")
    }
}
