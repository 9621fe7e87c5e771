import EventStorage
import Foundation
import NostrCore
import NostrTools
import RelayClient
import XCTest

/// `tern sync` as an operator runs it: the real binary against a second tern (`serve`, a real
/// process on loopback), both ways, with a filter; and the intake's checks on what a peer sends.
final class SyncCommandTests: XCTestCase {
    let alice = Signer(seed: 951)
    let bob = Signer(seed: 952)

    func temporaryDirectory() -> String { RelayProcess.temporaryDirectory("tern-sync") }

    func figure(_ name: String, in report: String) -> Int? { RelayProcess.figure(name, in: report) }

    /// The ids a relay serves for `filter`.
    func ids(_ port: Int, _ filter: String) async throws -> Set<String> {
        let client = try await TestClient.connect(port: port, group: TestRelayGroup.shared)
        defer { client.close() }
        client.send(#"["REQ","q",\#(filter)]"#)
        let messages = try await client.messages(until: "EOSE")
        return Set(
            messages.filter { $0.first as? String == "EVENT" }.map { ($0[2] as! [String: Any])["id"] as! String })
    }

    func testSyncMovesOnlyTheDifferencesBothWays() async throws {
        let remoteData = temporaryDirectory()
        let localData = temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: remoteData)
            try? FileManager.default.removeItem(atPath: localData)
        }
        let t = now
        let shared = (0..<150).map { alice.event(kind: 1, content: "shared \($0)", createdAt: t - 500 + Int64($0 / 3)) }
        let remoteOnly = (0..<40).map { bob.event(kind: 1, content: "remote \($0)", createdAt: t - 400 + Int64($0)) }
        let localOnly = (0..<25).map { alice.event(kind: 7, content: "+", createdAt: t - 300 + Int64($0)) }
        let reactionsThere = (0..<5).map { bob.event(kind: 7, content: "+", createdAt: t - 200 + Int64($0)) }

        let remote = try RelayProcess(data: remoteData)
        defer { remote.kill(SIGTERM) }
        let publisher = try await TestClient.connect(port: remote.port, group: TestRelayGroup.shared)
        _ = try await publisher.nextMessage()  // the AUTH challenge
        for event in shared + remoteOnly + reactionsThere {
            let (accepted, message) = try await publisher.publish(event)
            XCTAssertTrue(accepted, message)
        }
        publisher.close()
        let jsonl = (shared + localOnly).map(\.json).joined(separator: "\n") + "\n"
        XCTAssertEqual(try RelayProcess.run(["import", "-", "--data", localData], input: jsonl).status, 0)

        // Only kind 7, down: the five reactions there; the 25 here are reported as "have" only.
        let url = "ws://127.0.0.1:\(remote.port)"
        let reactions = try RelayProcess.run(["sync", "--url", url, "--data", localData, "--filter", #"{"kinds":[7]}"#])
        XCTAssertEqual(reactions.status, 0, reactions.err)
        XCTAssertEqual(figure("need", in: reactions.out), 5, reactions.out)
        XCTAssertEqual(figure("have", in: reactions.out), 25, reactions.out)
        XCTAssertEqual(figure("stored", in: reactions.out), 5, reactions.out)
        let alicesThere = try await ids(remote.port, #"{"kinds":[7],"authors":["\#(alice.publicKey.hex)"]}"#)
        XCTAssertEqual(alicesThere, [], "down only: nothing went up")

        // Everything, both ways: the 40 notes come down, the 25 reactions go up, nothing else moves.
        let both = try RelayProcess.run(["sync", "--url", url, "--data", localData, "--dir", "both"])
        XCTAssertEqual(both.status, 0, both.err)
        XCTAssertEqual(figure("need", in: both.out), 40, both.out)
        XCTAssertEqual(figure("have", in: both.out), 25, both.out)
        XCTAssertEqual(figure("stored", in: both.out), 40, both.out)
        XCTAssertEqual(figure("uploaded", in: both.out), 25, both.out)
        XCTAssertEqual(figure("refused", in: both.out), 0, both.out)
        XCTAssertTrue(both.out.contains("negentropy rounds"), both.out)

        let all = Set((shared + remoteOnly + localOnly + reactionsThere).map(\.id.hex))
        let there = try await ids(remote.port, #"{"limit":1000}"#)
        XCTAssertEqual(there, all, "the relay has everything")
        let export = try RelayProcess.run(["export", "--data", localData])
        let exported = Set(export.out.split(separator: "\n").compactMap { Event.decode(json: Array($0.utf8))?.id.hex })
        XCTAssertEqual(exported, all, "so does the store")

        // Nothing left to move.
        let again = try RelayProcess.run(["sync", "--url", url, "--data", localData, "--dir", "both"])
        XCTAssertEqual(figure("need", in: again.out), 0, again.out)
        XCTAssertEqual(figure("have", in: again.out), 0, again.out)

        let unreachable = try RelayProcess.run(["sync", "--url", "ws://127.0.0.1:1", "--data", localData])
        XCTAssertNotEqual(unreachable.status, 0)
        XCTAssertTrue(unreachable.err.contains("cannot connect"), unreachable.err)
    }

    /// Each event a peer sends is checked before it is stored: only what was asked for, once,
    /// with a good id and signature.
    func testTheIntakeRefusesWhatFailsTheChecks() {
        let t = now
        let good = alice.event(kind: 1, content: "good", createdAt: t)
        let other = alice.event(kind: 1, content: "other", createdAt: t)
        let ephemeral = alice.event(kind: 20001, content: "typing", createdAt: t)
        var intake = EventIntake(wanted: [good.id, other.id, ephemeral.id], now: t)
        func reply(_ json: String) -> Result<Event, EventReader.Failure> {
            guard case .event(_, let event) = RelayReply.read(Array(#"["EVENT","s",\#(json)]"#.utf8)) else {
                return .failure(EventReader.Failure(reason: "not an EVENT"))
            }
            return event
        }
        var forged = good.json
        forged = forged.replacingOccurrences(of: #""content":"good""#, with: #""content":"evil""#)
        XCTAssertEqual(intake.take(reply(forged)), .refused("invalid: event id does not match the hash of the event"))
        XCTAssertEqual(intake.take(reply(good.json)), .write(Write.byKind(good)))
        XCTAssertEqual(intake.take(reply(good.json)), .refused("not asked for (or sent twice)"))
        let stranger = bob.event(kind: 1, content: "unasked", createdAt: t)
        XCTAssertEqual(intake.take(reply(stranger.json)), .refused("not asked for (or sent twice)"))
        var badSig = Array(other.json.utf8)
        let sig = badSig.firstRange(of: Array(#""sig":""#.utf8))!.upperBound
        badSig[sig] = badSig[sig] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        XCTAssertEqual(
            intake.take(reply(String(decoding: badSig, as: UTF8.self))),
            .refused("invalid: signature verification failed"))
        XCTAssertEqual(intake.take(reply(ephemeral.json)), .skipped)
        if case .refused(let why) = intake.take(reply(#"{"id":"nope"}"#)) {
            XCTAssertTrue(why.hasPrefix("invalid:"), why)
        } else {
            XCTFail("garbage is refused")
        }
    }

    /// The batch form checks on several threads and reaches the same verdicts, in order.
    func testTheIntakeChecksABatchOnSeveralThreadsWithTheSameVerdicts() {
        let t = now
        let events = (0..<100).map { alice.event(kind: 1, content: "n\($0)", createdAt: t - Int64($0)) }
        var forged = events[3].json
        forged = forged.replacingOccurrences(of: #""content":"n3""#, with: #""content":"evil""#)
        var batch: [Result<Event, EventReader.Failure>] = events.map { .success($0) }
        batch.insert(Event.decode(json: Array(forged.utf8)).map { .success($0) }!, at: 3)  // before the real one
        batch.append(.success(events[10]))  // sent twice
        batch.append(.success(bob.event(kind: 1, content: "unasked", createdAt: t)))
        batch.append(.failure(EventReader.Failure(reason: "not an event")))
        var intake = EventIntake(wanted: Set(events.map(\.id)), now: t)
        let verdicts = intake.take(batch: batch, workers: 4)
        XCTAssertEqual(verdicts.count, batch.count)
        XCTAssertEqual(verdicts[3], .refused("invalid: event id does not match the hash of the event"))
        XCTAssertEqual(verdicts.filter { if case .write = $0 { true } else { false } }.count, 100)
        XCTAssertEqual(verdicts[101], .refused("not asked for (or sent twice)"), "the second copy")
        XCTAssertEqual(verdicts[102], .refused("not asked for (or sent twice)"))
        XCTAssertEqual(verdicts[103], .refused("invalid: not an event"))
        XCTAssertTrue(intake.wanted.isEmpty)
    }
}
