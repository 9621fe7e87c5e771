import EventStorage
import Foundation
import Logging
import NostrCore
import NostrStore
import NostrTools
import XCTest

/// The disk fills up under the relay: writes get `error:` answers, reads go on, nothing
/// acknowledged is lost or corrupted, and writes succeed again once space returns.
/// The store lives on a 4 MB tmpfs that the test mounts, so the disk is really full (ENOSPC
/// from the kernel), not just the LMDB map.
final class DiskFullTests: XCTestCase {
    let alice = Signer(seed: 501)

    func run(_ tool: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func freeBytes(_ path: String) -> Int {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return 0 }
        return Int(stats.f_bavail) * Int(stats.f_frsize)
    }

    func count(_ client: TestClient, author: Signer) async throws -> Int {
        client.send(#"["REQ","count",{"authors":["\#(author.publicKey.hex)"],"limit":5000}]"#)
        let answers = try await client.messages(until: "EOSE")
        client.send(#"["CLOSE","count"]"#)
        return answers.count - 1
    }

    /// Mounts a 4 MB tmpfs (root only; on CI a missing root is a failure, not a skip) and
    /// returns its path, unmounted when the test ends.
    func smallDisk() throws -> String? {
        guard getuid() == 0 else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("the disk-full test needs root to mount its tmpfs, and CI must run it")
                return nil
            }
            throw XCTSkip("mounting a small tmpfs needs root (CI runs as root and runs this test)")
        }
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("tern-full-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint])
        XCTAssertEqual(mounted, 0, "mount a 4 MB tmpfs")
        guard mounted == 0 else { return nil }
        addTeardownBlock { [self] in
            _ = try? run("/bin/umount", ["-l", mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        return mountPoint
    }

    /// The disk fills while the log holds writes LMDB does not: the checkpoint fails, the log
    /// keeps every acknowledged write, a new write is refused whole, and once space returns a
    /// store opened on the data replays them all.
    func testAFullDiskDuringACheckpointKeepsTheLog() throws {
        guard let mountPoint = try smallDisk() else { return }
        let data = mountPoint + "/data"
        let options = StoreOptions(
            mapSize: 64 << 20, log: LogOptions(checkpointSeconds: 3600, checkpointBytes: 1 << 30))
        let store = try EventStore(path: data, options: options, logger: Logger(label: "test"))
        let content = String(repeating: "full disk ", count: 100)
        var ids: [Bytes32] = []
        for batch in 0..<30 {
            let writes = (0..<10).map { i in
                Write.byKind(alice.event(kind: 1, content: "\(batch) \(i) \(content)", createdAt: now))
            }
            var outcomes: [WriteOutcome] = []
            var sequences: [UInt64] = []
            store.commit(writes, outcomes: &outcomes, sequences: &sequences)
            XCTAssertEqual(outcomes, Array(repeating: .saved, count: 10))
            ids += writes.map(\.event.id)
        }
        // Every byte taken: a write is refused whole, and the checkpoint at close fails.
        let filler = mountPoint + "/filler"
        XCTAssertTrue(FileManager.default.createFile(atPath: filler, contents: Data(count: freeBytes(mountPoint))))
        var outcomes: [WriteOutcome] = []
        var sequences: [UInt64] = []
        store.commit(
            [
                .byKind(
                    alice.event(kind: 1, content: "no room " + String(repeating: content, count: 20), createdAt: now))
            ],
            outcomes: &outcomes,
            sequences: &sequences)
        XCTAssertEqual(outcomes, [.failed("storage is full")])
        XCTAssertEqual(store.checkpointedRecord, 0)
        store.close()
        let reopenedWhileFull = try? EventStore(path: data, options: options, logger: Logger(label: "test"))
        reopenedWhileFull?.close()

        try FileManager.default.removeItem(atPath: filler)
        let reopened = try EventStore(path: data, options: options, logger: Logger(label: "test"))
        let stored = try reopened.fetch([Filter()], defaultLimit: 1000, now: now).map(\.id)
        XCTAssertEqual(stored.count, ids.count)
        XCTAssertTrue(Set(stored) == Set(ids), "every acknowledged write came back from the log")
        reopened.close()
        let lmdbAlone = try EventStore(path: data, options: StoreOptions(mapSize: 64 << 20), logger: Logger(label: "t"))
        defer { lmdbAlone.close() }
        XCTAssertEqual(lmdbAlone.checkpointedRecord, 30, "and is in LMDB after the checkpoint")
        XCTAssertEqual(lmdbAlone.count, ids.count)
    }

    func testFullDiskAnswersErrorKeepsServingAndRecovers() async throws {
        guard let mountPoint = try smallDisk() else { return }
        let data = mountPoint + "/data"
        var relay: TestRelay? = try TestRelay(path: data)
        // Leave about 384 KB free: a filler file takes the rest.
        let filler = mountPoint + "/filler"
        let fillerSize = max(0, freeBytes(mountPoint) - 384 * 1024)
        XCTAssertTrue(FileManager.default.createFile(atPath: filler, contents: Data(count: fillerSize)))

        let (writer, _) = try await relay!.connectReady()
        let (reader, _) = try await relay!.connectReady()
        var acknowledged = 0
        var refusal: String?
        let content = String(repeating: "full disk ", count: 200)
        for i in 0..<2000 {
            let (accepted, message) = try await writer.publish(
                alice.event(kind: 1, content: "\(i) \(content)", createdAt: now))
            if accepted {
                acknowledged += 1
            } else {
                refusal = message
                break
            }
        }
        XCTAssertGreaterThan(acknowledged, 0)
        XCTAssertEqual(refusal, "error: storage is full", "the full disk gets an error: answer")

        // Full: every further write is either stored (LMDB may still find room in pages the file
        // already has) or refused the same way; with every byte of the disk taken, one is refused.
        let rest = mountPoint + "/rest"
        XCTAssertTrue(FileManager.default.createFile(atPath: rest, contents: Data(count: freeBytes(mountPoint))))
        var refusedAgain = false
        for i in 0..<200 where !refusedAgain {
            let (again, againMessage) = try await writer.publish(
                alice.event(kind: 1, content: "again \(i) \(content)", createdAt: now))
            if again {
                acknowledged += 1
            } else {
                XCTAssertEqual(againMessage, "error: storage is full")
                refusedAgain = true
            }
        }
        XCTAssertTrue(refusedAgain, "a full disk refuses writes")
        let whileFull = try await count(reader, author: alice)
        XCTAssertEqual(whileFull, acknowledged)

        // Space returns: writes succeed again without a restart.
        try FileManager.default.removeItem(atPath: filler)
        try FileManager.default.removeItem(atPath: rest)
        let (recovered, recoveredMessage) = try await writer.publish(
            alice.event(kind: 1, content: "space is back", createdAt: now))
        XCTAssertTrue(recovered, recoveredMessage)
        writer.close()
        reader.close()

        // The store reopens cleanly with every acknowledged event.
        relay!.stop(removeData: false)
        relay = nil
        let reopened = try TestRelay(path: data)
        defer { reopened.stop() }
        let (client, _) = try await reopened.connectReady()
        let afterRestart = try await count(client, author: alice)
        XCTAssertEqual(afterRestart, acknowledged + 1)
        let (more, moreMessage) = try await client.publish(alice.event(kind: 1, content: "more", createdAt: now))
        XCTAssertTrue(more, moreMessage)
    }
}
