import Foundation
import NIOCore
import NostrCore
import NostrTools
import XCTest

/// The real `tern` binary under one flood after another: senders faster than verification,
/// clients that subscribe to everything and never read, a connection storm and a REQ flood.
/// After each, the relay's peak resident memory (VmHWM) is under 150 MB and a well-behaved
/// client is still answered. Under the sanitizers (whose shadow memory inflates every process)
/// the floods run for their behaviour only.
final class FloodMemoryTests: XCTestCase {
    static let bound = 150 << 20
    let writer = Signer(seed: 601)
    let sanitized = ProcessInfo.processInfo.environment["SANITIZER_UNDER_TEST"] != nil

    func assertBounded(_ relay: RelayProcess, _ phase: String, file: StaticString = #filePath, line: UInt = #line) {
        let sample = relay.sample
        XCTAssertNotNil(sample, "read /proc", file: file, line: line)
        let peak = (sample?.peakRSSKB ?? 0) * 1024
        print("flood \(phase): peak RSS \(peak >> 20) MB, RSS now \((sample?.rssKB ?? 0) >> 10) MB")
        if !sanitized {
            XCTAssertLessThan(peak, Self.bound, "peak RSS after \(phase)", file: file, line: line)
        }
    }

    func assertServed(_ good: TestClient, _ round: String, file: StaticString = #filePath, line: UInt = #line)
        async throws
    {
        good.send(#"["REQ","good-\#(round)",{"kinds":[9999],"limit":1}]"#)
        let answers = try await good.messages(until: "EOSE", seconds: 60)
        XCTAssertEqual(answers.last?.first as? String, "EOSE", file: file, line: line)
        good.send(#"["CLOSE","good-\#(round)"]"#)
    }

    func connect(_ relay: RelayProcess, receiveBuffer: Int? = nil) async throws -> TestClient {
        let client = try await TestClient.connect(
            port: relay.port, group: TestRelayGroup.shared, receiveBuffer: receiveBuffer)
        let challenge = try await client.nextMessage(seconds: 60)
        XCTAssertEqual(challenge.first as? String, "AUTH")
        return client
    }

    func testMemoryStaysBoundedUnderEachFlood() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("tern-flood-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        // Pings are not what this test is about: under the sanitizers a phase can leave a client
        // silent for longer than the default 30 s, and the test clients do not answer pings.
        let relay = try RelayProcess(data: data, environment: ["TERN_LIMITS_PING_INTERVAL": "600"])
        defer { relay.kill(SIGTERM) }
        let good = try await connect(relay)
        defer { good.close() }

        // 1. Four clients send 4,000 events each without waiting for answers: the relay stops
        // reading them (back-pressure) instead of queueing, and answers every event.
        let t = now
        let batches = (0..<4).map { c in
            (0..<4000).map { i in
                writer.event(kind: 1, content: "flood \(c) \(i) with some text", createdAt: t - 5000 + Int64(i))
            }
        }
        var senders: [TestClient] = []
        for batch in batches {
            let sender = try await connect(relay)
            for event in batch { sender.send(event.message) }
            senders.append(sender)
        }
        try await assertServed(good, "during-ingest")
        for sender in senders {
            var accepted = 0
            for _ in 0..<4000 {
                let ok = try await sender.nextMessage(seconds: 60)
                if ok.first as? String == "OK", ok[2] as? Bool == true { accepted += 1 }
            }
            XCTAssertEqual(accepted, 4000, "every event of the flood was answered OK true")
            sender.close()
        }
        assertBounded(relay, "fast senders")

        // 2. Forty clients subscribe to everything and stop reading while 200 events of 30 KB
        // are published: each is dropped at its share of the total outbound budget.
        var stuck: [TestClient] = []
        for _ in 0..<40 {
            let client = try await connect(relay, receiveBuffer: 16 * 1024)
            client.send(#"["REQ","all",{"limit":0}]"#)
            _ = try await client.messages(until: "EOSE", seconds: 60)
            try await client.channel.setOption(ChannelOptions.autoRead, value: false).get()
            stuck.append(client)
        }
        let big = String(repeating: "z", count: 30_000)
        for i in 0..<200 {
            good.send(writer.event(kind: 1, content: "\(i) \(big)", createdAt: now).message)
            let ok = try await good.nextMessage(seconds: 60)
            XCTAssertEqual(ok.count > 2 ? ok[2] as? Bool : nil, true, "\(ok.prefix(2))")
        }
        try await assertServed(good, "stuck-readers")
        assertBounded(relay, "clients that do not read")
        for client in stuck { client.close() }

        // 3. A connection storm: 300 connections at once from one address. Past the per-address
        // limit (256) they are refused; the admitted ones cost little.
        var storm: [TestClient] = []
        for _ in 0..<300 {
            if let client = try? await TestClient.connect(port: relay.port, group: TestRelayGroup.shared) {
                storm.append(client)
            }
        }
        try await assertServed(good, "storm")
        assertBounded(relay, "connection storm")
        for client in storm { client.close() }

        // 4. A REQ flood: four clients send 300 REQs each without closing any, every REQ
        // answered with 100 stored events, or refused with CLOSED rate-limited: (too many open
        // subscriptions, or while the client has not read what it asked for before). A REQ
        // closed at once would be cancelled before it is read, so these stay open.
        var flooders: [TestClient] = []
        for _ in 0..<4 {
            let client = try await connect(relay)
            for i in 0..<300 {
                client.send(#"["REQ","q\#(i)",{"kinds":[1],"until":\#(t - 1),"limit":100}]"#)
            }
            flooders.append(client)
        }
        try await assertServed(good, "req-flood")
        for client in flooders {
            var answered = 0
            var events = 0
            while answered < 300 {
                let m = try await client.nextMessage(seconds: 60)
                switch m.first as? String {
                case "EOSE": answered += 1
                case "EVENT": events += 1
                case "CLOSED":
                    XCTAssertTrue((m[2] as? String ?? "").hasPrefix("rate-limited: "), "\(m)")
                    answered += 1
                default: XCTFail("unexpected \(m)")
                }
            }
            XCTAssertGreaterThan(events, 0)
            client.close()
        }
        assertBounded(relay, "REQ flood")
        try await assertServed(good, "after")
    }
}
