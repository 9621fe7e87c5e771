import EventStorage
import Foundation
import Logging
import NostrCore
import NostrStore
import NostrTools
import XCTest

/// `tern import`, `export`, `scan`, `delete`, `stats` and `compact`, run as an operator runs
/// them: the real binary, on a store a real relay serves from meanwhile.
final class StoreToolsTests: XCTestCase {
    let alice = Signer(seed: 901)
    let bob = Signer(seed: 902)

    typealias Run = RelayProcess.Run

    /// Runs `tern` to completion with `input` on standard input.
    func tern(_ arguments: [String], input: String? = nil) throws -> Run {
        try RelayProcess.run(arguments, input: input)
    }

    func temporaryDirectory() -> String { RelayProcess.temporaryDirectory("tern-tools") }

    func figure(_ name: String, in report: String) -> Int? { RelayProcess.figure(name, in: report) }

    func testImportAppliesTheNIPRulesAndReportsEachLine() throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let t = now
        let notes = (0..<5).map { alice.event(kind: 1, content: "note \($0)", createdAt: t - 100 + Int64($0)) }
        let profileOld = alice.event(kind: 0, content: #"{"name":"old"}"#, createdAt: t - 50)
        let profileNew = alice.event(kind: 0, content: #"{"name":"new"}"#, createdAt: t - 40)
        let deleted = bob.event(kind: 1, content: "regret", createdAt: t - 30)
        let deletion = bob.event(kind: 5, content: "", tags: Tags([["e", deleted.id.hex]]), createdAt: t - 20)
        let ephemeral = alice.event(kind: 20001, content: "typing", createdAt: t)
        let expired = alice.event(
            kind: 1, content: "gone", tags: Tags([["expiration", "\(t - 10)"]]), createdAt: t - 60)
        var forged = Array(notes[0].json.utf8)
        let sig = forged.firstRange(of: Array(#""sig":""#.utf8))!.upperBound
        forged[sig] = forged[sig] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        let otherNote = bob.event(kind: 1, content: "other", createdAt: t - 5)
        var wrongID = Array(otherNote.json.utf8)
        let id = wrongID.firstRange(of: Array(#""id":""#.utf8))!.upperBound
        wrongID[id] = wrongID[id] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        let lines =
            notes.map(\.json) + [
                notes[1].json,  // line 6: duplicate
                "",  // line 7: blank, skipped
                "not json",  // line 8
                String(decoding: forged, as: UTF8.self),  // line 9: bad signature
                profileNew.json, profileOld.json,  // 10, 11: the older one is superseded
                deletion.json, deleted.json,  // 12, 13: deleted before it arrived
                ephemeral.json, expired.json,  // 14, 15
                #"{"id":"00"}"#,  // 16
                String(decoding: wrongID, as: UTF8.self),  // 17: id does not match
                alice.event(kind: 0, content: #"{"name":"newest"}"#, createdAt: t - 30).json,  // 18: replaces
            ]
        let file = data + ".jsonl"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }

        let run = try tern(["import", file, "--data", data])
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertEqual(figure("accepted", in: run.out), 8, run.out)  // 5 notes, 2 profiles, the deletion
        XCTAssertEqual(figure("replaced", in: run.out), 1, run.out)
        XCTAssertEqual(figure("duplicate", in: run.out), 1, run.out)
        XCTAssertEqual(figure("superseded", in: run.out), 1, run.out)
        XCTAssertEqual(figure("deleted", in: run.out), 1, run.out)
        XCTAssertEqual(figure("ephemeral", in: run.out), 1, run.out)
        XCTAssertEqual(figure("expired", in: run.out), 1, run.out)
        XCTAssertEqual(figure("invalid", in: run.out), 4, run.out)
        XCTAssertTrue(run.out.contains("read 17 events"), run.out)
        XCTAssertTrue(run.out.contains("1  signature verification failed"), run.out)
        XCTAssertTrue(run.out.contains("1  event id does not match the hash of the event"), run.out)
        for (line, reason) in [
            (8, "line 8: invalid:"), (9, "line 9: invalid: signature verification failed"),
            (16, "line 16: invalid: id must be 64 lowercase hex characters"),
            (17, "line 17: invalid: event id does not match"),
        ] {
            XCTAssertTrue(run.err.contains(reason), "line \(line) is reported with its number: \(run.err)")
        }
        XCTAssertFalse(run.err.contains("\r"), "no progress bar when standard error is not a terminal")

        // What is stored is what the rules say: 5 notes, the newest profile, the deletion request.
        let scan = try tern(["scan", "{}", "--data", data])
        XCTAssertEqual(scan.status, 0, scan.err)
        let stored = scan.out.split(separator: "\n").compactMap { Event.decode(json: Array($0.utf8)) }
        XCTAssertEqual(stored.count, 7)
        XCTAssertEqual(stored.filter { $0.kind == 0 }.map(\.content), [#"{"name":"newest"}"#])
        XCTAssertFalse(stored.contains { $0.id == deleted.id || $0.id == expired.id || $0.id == ephemeral.id })
        XCTAssertEqual(stored.map(\.createdAt), stored.map(\.createdAt).sorted(by: >), "newest first")

        // --no-verify says so, and takes the forged line it would otherwise refuse.
        let trusted = try tern(
            ["import", "--no-verify", "-", "--data", data], input: String(decoding: forged, as: UTF8.self))
        XCTAssertEqual(trusted.status, 0, trusted.err)
        XCTAssertTrue(trusted.err.contains("NOT checked"), trusted.err)
        XCTAssertTrue(trusted.out.contains("not verified"), trusted.out)
        XCTAssertEqual(figure("duplicate", in: trusted.out), 1, "same id as the stored note: \(trusted.out)")

        // A file that is not there: a clear message and a failing status.
        let missing = try tern(["import", data + "/nothing.jsonl", "--data", data])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains("cannot open"), missing.err)
    }

    /// The log holds a record past LMDB's checkpoint whose event reached LMDB another way while
    /// no relay ran (an import after a crash): replayed, it changes nothing, so the relay has no
    /// tail to checkpoint when a tool beside it asks; it records the checkpoint anyway and the
    /// tool goes on (it would otherwise wait a minute and fail).
    func testAToolBesideARelayWhoseLogReplaysToNothing() throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let note = alice.event(kind: 1, content: "twice", createdAt: now)
        func commit(_ store: EventStore) -> [WriteOutcome] {
            var outcomes: [WriteOutcome] = []
            var sequences: [UInt64] = []
            store.commit([.byKind(note)], outcomes: &outcomes, sequences: &sequences)
            return outcomes
        }
        // A relay's store that stops before its checkpoint: the log keeps the note.
        let crashing = StoreFaults { $0 == .midCheckpoint }
        let logged = try EventStore(
            path: data, options: StoreOptions(mapSize: 64 << 20, log: LogOptions(faults: crashing)),
            logger: Logger(label: "test"))
        XCTAssertEqual(commit(logged), [.saved])
        logged.close()
        // LMDB gets the note directly.
        let direct = try EventStore(path: data, options: StoreOptions(mapSize: 64 << 20), logger: Logger(label: "t"))
        XCTAssertEqual(direct.checkpointedRecord, 0)
        XCTAssertEqual(commit(direct), [.saved])
        direct.close()

        let relay = try RelayProcess(data: data)
        defer { relay.kill(SIGTERM) }
        let stats = try tern(["stats", "--data", data])
        XCTAssertEqual(stats.status, 0, stats.err)
        XCTAssertTrue(stats.out.contains("events      1"), stats.out)
    }

    func testToolsShareTheStoreWithARunningRelay() async throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let relay = try RelayProcess(data: data)
        defer { relay.kill(SIGTERM) }
        let client = try await TestClient.connect(port: relay.port, group: TestRelayGroup.shared)
        defer { client.close() }
        _ = try await client.nextMessage()  // AUTH challenge

        // Published through the relay first.
        let t = now
        for i in 0..<20 {
            let (ok, message) = try await client.publish(
                alice.event(kind: 1, content: "live \(i)", createdAt: t - 1000 + Int64(i)))
            XCTAssertTrue(ok, message)
        }

        // Imported while the relay serves: a corpus of 400 signed events.
        let corpus = data + "-corpus.jsonl"
        defer { try? FileManager.default.removeItem(atPath: corpus) }
        let made = try tern(["bench", "corpus", "--events", "400", "--authors", "40", "--seed", "5", "--out", corpus])
        XCTAssertEqual(made.status, 0, made.err)
        let imported = try tern(["import", corpus, "--data", data])
        XCTAssertEqual(imported.status, 0, imported.err)
        let accepted = try XCTUnwrap(figure("accepted", in: imported.out), imported.out)
        let replaced = try XCTUnwrap(figure("replaced", in: imported.out))
        XCTAssertGreaterThan(accepted, 350)

        // The relay serves the imported events, and still takes new ones after the import
        // wrote (the serial it gives the next event follows the import's).
        let after = alice.event(kind: 1, content: "after the import", createdAt: t + 60)
        let (ok, message) = try await client.publish(after)
        XCTAssertTrue(ok, message)
        let total = 20 + accepted - replaced + 1
        client.send(#"["REQ","all",{"limit":5000}]"#)
        let answer = try await client.messages(until: "EOSE").filter { $0.first as? String == "EVENT" }
        let ids = answer.map { ($0[2] as! [String: Any])["id"] as! String }
        XCTAssertEqual(ids.count, total, "the relay sees what it stored and what was imported")
        XCTAssertEqual(Set(ids).count, ids.count, "no event twice")
        XCTAssertEqual(ids.first, after.id.hex, "the newest event first")

        // Export while serving: every stored event, each line an event, oldest first on request.
        let exported = try tern(["export", "--oldest-first", "--data", data])
        XCTAssertEqual(exported.status, 0, exported.err)
        let lines = exported.out.split(separator: "\n")
        XCTAssertEqual(lines.count, total)
        XCTAssertTrue(
            Set(lines.compactMap { Event.decode(json: Array($0.utf8))?.id.hex }) == Set(ids),
            "the export holds what the relay serves")
        XCTAssertEqual(Event.decode(json: Array(lines.last!.utf8))?.id, after.id)
        XCTAssertTrue(exported.err.contains("exported \(total) events"), exported.err)
        let filtered = try tern(["export", "--filter", #"{"authors":["\#(alice.publicKey.hex)"]}"#, "--data", data])
        XCTAssertEqual(filtered.out.split(separator: "\n").count, 21, "alice's 20 live events and the one after")

        // Scan honours the filter and its limit.
        let scan = try tern(["scan", #"{"kinds":[1],"limit":3}"#, "--data", data])
        let scanned = scan.out.split(separator: "\n").compactMap { Event.decode(json: Array($0.utf8)) }
        XCTAssertEqual(scanned.count, 3)
        XCTAssertTrue(scanned.allSatisfy { $0.kind == 1 })
        XCTAssertEqual(scanned.first?.id, after.id)
        let badFilter = try tern(["scan", #"{"kinds":"one"}"#, "--data", data])
        XCTAssertNotEqual(badFilter.status, 0)
        XCTAssertTrue(badFilter.err.contains("bad filter"), badFilter.err)

        // Delete: a dry run counts and deletes nothing; then alice's events go, and the relay no
        // longer serves them.
        let byAlice = #"{"authors":["\#(alice.publicKey.hex)"]}"#
        let dry = try tern(["delete", "--filter", byAlice, "--dry-run", "--data", data])
        XCTAssertTrue(dry.out.contains("21 events match; nothing deleted"), dry.out)
        let deleted = try tern(["delete", "--filter", byAlice, "--data", data])
        XCTAssertEqual(deleted.status, 0, deleted.err)
        XCTAssertTrue(deleted.out.contains("deleted 21 events"), deleted.out)
        client.send(#"["REQ","alice",\#(byAlice)]"#)
        let aliceNow = try await client.messages(until: "EOSE").filter { $0.first as? String == "EVENT" }
        XCTAssertEqual(aliceNow.count, 0)

        // Stats and a compacted copy agree on the count.
        let stats = try tern(["stats", "--data", data])
        XCTAssertEqual(stats.status, 0, stats.err)
        XCTAssertTrue(stats.out.contains("events      \(grouped(total - 21))"), stats.out)
        XCTAssertTrue(stats.out.contains("by kind"), stats.out)
        XCTAssertTrue(stats.out.contains("author_kind"), stats.out)
        let copy = data + "-copy"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let compact = try tern(["compact", "--to", copy, "--data", data])
        XCTAssertEqual(compact.status, 0, compact.err)
        let copyStats = try tern(["stats", "--data", copy])
        XCTAssertTrue(copyStats.out.contains("events      \(grouped(total - 21))"), copyStats.out)
        let again = try tern(["compact", "--to", copy, "--data", data])
        XCTAssertNotEqual(again.status, 0, "a copy is never written over a store")
        XCTAssertTrue(again.err.contains("already holds a store"), again.err)
    }

    func grouped(_ n: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: n))!
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    var value: Data {
        get { lock.withLock { data } }
        set { lock.withLock { data = newValue } }
    }
}
