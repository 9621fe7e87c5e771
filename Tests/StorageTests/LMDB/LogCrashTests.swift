import EventStorage
import Foundation
import Logging
import NostrCore
import NostrTools
import XCTest

@testable import NostrStore

/// Crashes of the log-backed store at each fault point (`FaultPoint`), and at none: after a
/// batch's log append and before its answer, after answers and before any checkpoint, in the
/// middle of a checkpoint's LMDB transaction, between a checkpoint and the log's truncation, and
/// between the removal of two segments. A store then opened on what was left must hold exactly
/// what a store given only the answered batches (plus the one whose record was durable) holds:
/// every acknowledged event, and no version that a newer one replaced or a deletion removed.
final class LogCrashTests: XCTestCase {
    var path = ""
    var rng = SplitMix64(seed: 7)

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-crash-\(UUID().uuidString)").path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + "-reference")
    }

    func open(_ path: String, log: LogOptions?) throws -> EventStore {
        try EventStore(path: path, options: StoreOptions(mapSize: 64 << 20, log: log), logger: Logger(label: "test"))
    }

    static func logOptions(faults: StoreFaults? = nil) -> LogOptions {
        LogOptions(
            checkpointSeconds: 0.01, checkpointBytes: 3000, maxTailBytes: 12_000, checkpointChunkEvents: 7,
            segmentBytes: 2000, faults: faults)
    }

    /// Batches of one author's writes that exercise every rule: notes, a profile and an article
    /// replaced again and again, deletions by id and by address, and a request to vanish.
    func workload(batches: Int) -> [[Write]] {
        let author = Bytes32.random(using: &rng)
        var out: [[Write]] = []
        var notes: [Event] = []
        var t: Int64 = 1_000
        for b in 0..<batches {
            var batch: [Write] = []
            for _ in 0..<4 {
                t += 1
                let note = makeEvent(
                    id: .random(using: &rng), pubkey: author, createdAt: t, kind: 1, content: "note \(t)")
                notes.append(note)
                batch.append(.byKind(note))
            }
            batch.append(.byKind(makeEvent(id: .random(using: &rng), pubkey: author, createdAt: t, kind: 0)))
            batch.append(
                .byKind(
                    makeEvent(id: .random(using: &rng), pubkey: author, createdAt: t, kind: 30023, tags: [["d", "a"]])))
            if b % 3 == 2 {
                let target = notes[Int(rng.next() % UInt64(notes.count))]
                batch.append(
                    .byKind(
                        makeEvent(
                            id: .random(using: &rng), pubkey: author, createdAt: t, kind: 5,
                            tags: [["e", target.id.hex]])))
            }
            if b % 7 == 6 {
                batch.append(
                    .byKind(
                        makeEvent(
                            id: .random(using: &rng), pubkey: author, createdAt: t - 2, kind: 5,
                            tags: [["a", "30023:\(author.hex):a"]])))
            }
            if b == batches / 2 {
                // A request to vanish up to a time in the middle: older notes go.
                batch.append(
                    .byKind(makeEvent(id: .random(using: &rng), pubkey: author, createdAt: t - 20, kind: 62)))
            }
            out.append(batch)
        }
        return out
    }

    /// Commits `batches` one by one, as the writer does (with its pause between batches), until
    /// the store fails one (the crash); returns the batches whose writes were answered, and the
    /// batch that failed if it reached the log.
    func commitUntilCrash(_ store: EventStore, _ batches: [[Write]], appended: (Int) -> Bool) -> [[Write]] {
        var done: [[Write]] = []
        for (i, batch) in batches.enumerated() {
            var outcomes: [WriteOutcome] = []
            var sequences: [UInt64] = []
            store.commit(batch, outcomes: &outcomes, sequences: &sequences)
            XCTAssertEqual(outcomes.count, batch.count)
            if outcomes.contains(where: { if case .failed = $0 { return true } else { return false } }) {
                if appended(i) { done.append(batch) }
                break
            }
            done.append(batch)
            store.maintain()
            if i % 5 == 4 { usleep(2000) }  // let a checkpoint run now and then
        }
        return done
    }

    /// The ids a store of the answered batches alone holds (the reference), against the ids the
    /// recovered store holds.
    func assertRecovered(_ batches: [[Write]], file: StaticString = #filePath, line: UInt = #line) throws {
        let recovered = try open(path, log: Self.logOptions())
        let reference = try open(path + "-reference", log: nil)
        defer {
            recovered.close()
            reference.close()
        }
        for batch in batches {
            var outcomes: [WriteOutcome] = []
            var sequences: [UInt64] = []
            reference.commit(batch, outcomes: &outcomes, sequences: &sequences)
        }
        let all = [Filter()]
        let expected = Set(try reference.fetch(all, defaultLimit: 100_000, now: 0).map(\.id))
        let found = try recovered.fetch(all, defaultLimit: 100_000, now: 0).map(\.id)
        XCTAssertEqual(found.count, Set(found).count, "no event twice", file: file, line: line)
        XCTAssertEqual(Set(found), expected, file: file, line: line)
        XCTAssertFalse(expected.isEmpty, file: file, line: line)
        // The log's records past the checkpoint came back into the tail; a checkpoint puts them
        // into LMDB.
        XCTAssertNil(recovered.tail!.flush())
        XCTAssertTrue(try recovered.read { txn in try txn.count(recovered.dbs.events) } == expected.count)
        XCTAssertEqual(Set(try recovered.fetch(all, defaultLimit: 100_000, now: 0).map(\.id)), expected)
        // And the recovered store keeps working.
        let next = makeEvent(id: .random(using: &rng), pubkey: .random(using: &rng), createdAt: 5_000, kind: 1)
        var outcomes: [WriteOutcome] = []
        var sequences: [UInt64] = []
        recovered.commit([.byKind(next)], outcomes: &outcomes, sequences: &sequences)
        XCTAssertEqual(outcomes, [.saved], file: file, line: line)
    }

    /// A crash at the `nth` time the store reaches `point`.
    func crash(at point: FaultPoint, nth: Int) -> StoreFaults {
        let count = Counter()
        return StoreFaults { p in p == point && count.increment() == nth }
    }

    func testCrashAfterTheLogAppendBeforeTheAnswer() throws {
        for nth in [1, 5, 17, 40] {
            setUp()
            let store = try open(path, log: Self.logOptions(faults: crash(at: .afterAppend, nth: nth)))
            let batches = workload(batches: 60)
            // The batch that crashed is in the log (unanswered): it may come back, and does.
            let done = commitUntilCrash(store, batches) { _ in true }
            XCTAssertEqual(done.count, nth, "crashed at append \(nth)")
            XCTAssertTrue(store.tail!.crashed)
            store.close()
            try assertRecovered(done)
            tearDown()
        }
    }

    func testCrashAfterTheAnswersBeforeTheCheckpoint() throws {
        let store = try open(path, log: LogOptions(checkpointSeconds: 3600, checkpointBytes: 1 << 30))
        let batches = workload(batches: 30)
        let done = commitUntilCrash(store, batches) { _ in false }
        XCTAssertEqual(done.count, 30)
        XCTAssertEqual(try store.read { try store.checkpointed($0) }, 0, "nothing was checkpointed")
        store.tail!.crash()
        store.close()
        try assertRecovered(done)
    }

    /// Commits until the store crashes at the `nth` time it reaches `point` on its checkpoint
    /// thread, for each `nth`; `check` looks at what the crash left before it is reopened.
    func crashDuringCheckpoints(at point: FaultPoint, _ nths: [Int], check: () throws -> Void = {}) throws {
        for nth in nths {
            setUp()
            let store = try open(path, log: Self.logOptions(faults: crash(at: point, nth: nth)))
            let done = commitUntilCrash(store, workload(batches: 80)) { _ in false }
            XCTAssertTrue(store.tail!.crashed, "the fault point was reached (\(nth))")
            XCTAssertLessThan(done.count, 80)
            store.close()
            try check()
            try assertRecovered(done)
            tearDown()
        }
    }

    func testCrashInTheMiddleOfACheckpoint() throws {
        try crashDuringCheckpoints(at: .midCheckpoint, [1, 2, 4])
    }

    func testCrashAfterACheckpointBeforeTheLogIsTruncated() throws {
        try crashDuringCheckpoints(at: .afterCheckpoint, [1, 3])
    }

    func testCrashWhileTheLogIsTruncated() throws {
        try crashDuringCheckpoints(at: .duringTruncation, [1, 2, 6]) {
            let segments = try FileManager.default.contentsOfDirectory(atPath: path + "/log").filter {
                $0.hasSuffix(".log")
            }
            XCTAssertGreaterThan(segments.count, 1, "the crash left segments a checkpoint holds")
        }
    }

    /// The log's last record cut at (every 7th byte of) its length, as a crash mid-append leaves
    /// it: the store opens with every batch before it and none of the cut one.
    func testALogCutInItsLastRecordReplaysTheRecordsBeforeIt() throws {
        let batches = workload(batches: 6)
        let store = try open(path, log: LogOptions(checkpointSeconds: 3600, checkpointBytes: 1 << 30))
        XCTAssertEqual(commitUntilCrash(store, batches) { _ in false }.count, 6)
        store.tail!.crash()
        store.close()
        let log = path + "/log/" + (try FileManager.default.contentsOfDirectory(atPath: path + "/log").sorted().last!)
        let whole = try Data(contentsOf: URL(fileURLWithPath: log))
        let lastRecord = LogRecord.encode(batches[5].map { TailEvent($0, sequence: 0) }).count + 8
        let saved = path + "-saved"
        try FileManager.default.copyItem(atPath: path, toPath: saved)
        defer { try? FileManager.default.removeItem(atPath: saved) }
        for cut in stride(from: whole.count - lastRecord, to: whole.count, by: 7) {
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.copyItem(atPath: saved, toPath: path)
            try whole.prefix(cut).write(to: URL(fileURLWithPath: log))
            try assertRecovered(Array(batches.prefix(5)))
            try? FileManager.default.removeItem(atPath: path + "-reference")
        }
    }

    /// A second store on the same data directory is refused while the first holds its log.
    func testTwoStoresDoNotShareALog() throws {
        let first = try open(path, log: LogOptions())
        defer { first.close() }
        XCTAssertThrowsError(try open(path, log: LogOptions())) { error in
            XCTAssertTrue("\(error)".contains("another tern is serving"), "\(error)")
        }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int {
        lock.withLock {
            value += 1; return value
        }
    }
}
