import Foundation
import NostrCore
import NostrTools
import XCTest

/// Kills the real relay with SIGKILL in the middle of a sustained ingest (three times, on one
/// store, so that kills land during commits), restarts it on the same data, and checks that the
/// store opens, holds every event that got OK true, and keeps accepting events.
/// That OK waits for the commit at all is pinned down deterministically by
/// `ProcessingServiceTests.testSavedEventsAreStoredThenDelivered`: from outside, a client reads
/// its answers later than the writer commits, so a kill cannot reliably land in between (tried:
/// a relay that answered before committing still passed here).
final class CrashRecoveryTests: XCTestCase {
    /// Starts `tern serve` on an ephemeral port and returns the process and the port it bound.
    func startRelay(data: String, environment: [String: String] = [:]) throws -> (Process, Int) {
        let relay = try RelayProcess(data: data, environment: environment)
        return (relay.process, relay.port)
    }

    /// Publishes with 64 in flight and SIGKILLs the relay once 1,000 are acknowledged.
    func ingestAndKill(data: String, events: ArraySlice<Event>) async throws -> Set<String> {
        let (relay, port) = try startRelay(data: data)
        let client = try await TestClient.connect(port: port, group: TestRelayGroup.shared)
        defer { client.close() }
        _ = try await client.nextMessage()  // AUTH challenge
        var acknowledged = Set<String>()
        var next = events.startIndex
        while next < events.startIndex + 64 {
            client.send(events[next].message)
            next += 1
        }
        while true {
            guard case .text(let text) = try await client.next(), let m = JSON.parse(text) as? [Any],
                m.first as? String == "OK"
            else { continue }
            if m[2] as? Bool == true { acknowledged.insert(m[1] as! String) }
            if acknowledged.count >= 1000 { break }
            if next < events.endIndex {
                client.send(events[next].message)
                next += 1
            }
        }
        kill(relay.processIdentifier, SIGKILL)
        relay.waitUntilExit()
        XCTAssertEqual(relay.terminationReason, .uncaughtSignal)
        return acknowledged
    }

    func testEveryAcknowledgedEventSurvivesSIGKILL() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("tern-crash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let signer = Signer(seed: 501)
        let t = now
        let events = (0..<4500).map {
            signer.event(kind: 1, content: "crash test \($0)", createdAt: t - 4500 + Int64($0))
        }

        var acknowledged = Set<String>()
        for round in 0..<3 {
            acknowledged.formUnion(
                try await ingestAndKill(data: data, events: events[(round * 1500)..<((round + 1) * 1500)]))
        }
        XCTAssertEqual(acknowledged.count, 3000)

        // Restart on the same data: it opens cleanly and has every acknowledged event.
        try await assertRestartServes(acknowledged, data: data, signer: signer)
    }

    /// A relay killed with events in its log, restarted with the log turned off
    /// (`store.log = false`): what the log held is put into LMDB first, so nothing is left out.
    func testTurningTheLogOffAfterACrashKeepsWhatItHeld() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("tern-crash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let signer = Signer(seed: 502)
        let t = now
        let events = (0..<1500).map { signer.event(kind: 1, content: "log off \($0)", createdAt: t - 1500 + Int64($0)) }
        let acknowledged = try await ingestAndKill(data: data, events: events[...])
        try await assertRestartServes(
            acknowledged, data: data, signer: signer, environment: ["TERN_STORE_LOG": "false"])
    }

    /// Restarts the relay on `data` and checks that it serves every acknowledged event and takes
    /// a new one.
    func assertRestartServes(
        _ acknowledged: Set<String>, data: String, signer: Signer, environment: [String: String] = [:]
    ) async throws {
        let (again, port) = try startRelay(data: data, environment: environment)
        defer {
            again.terminate()
            again.waitUntilExit()
        }
        let reader = try await TestClient.connect(port: port, group: TestRelayGroup.shared)
        _ = try await reader.nextMessage()
        var found = Set<String>()
        let ids = Array(acknowledged)
        for (n, start) in stride(from: 0, to: ids.count, by: 400).enumerated() {
            let chunk = ids[start..<min(ids.count, start + 400)].map { "\"\($0)\"" }.joined(separator: ",")
            reader.send(#"["REQ","c\#(n)",{"ids":[\#(chunk)],"limit":500}]"#)
            for m in try await reader.messages(until: "EOSE") where m.first as? String == "EVENT" {
                found.insert((m[2] as! [String: Any])["id"] as! String)
            }
            reader.send(#"["CLOSE","c\#(n)"]"#)
        }
        XCTAssertEqual(found.count, acknowledged.count, "every OK true event is stored after SIGKILL")
        XCTAssertTrue(acknowledged.isSubset(of: found))

        // And it keeps working: a new event is accepted.
        let after = signer.event(kind: 1, content: "after the crash", createdAt: now)
        reader.send(after.message)
        let ok = try await reader.nextMessage()
        XCTAssertEqual(ok[2] as? Bool, true)
    }
}
