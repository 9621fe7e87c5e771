import CLMDB
import Foundation
import Logging
import NostrCore
import NostrReference
import XCTest

@testable import NostrStore

final class SchemaTests: XCTestCase {
    func testAStoreOfAnotherLayoutIsRefusedWithAClearError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-schema-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try EventStore(path: path, logger: Logger(label: "test"))
        // Pretend an older tern wrote this store.
        let txn = try store.env.begin(readOnly: false)
        try txn.put(store.dbs.meta, Array("schema".utf8), IndexKeys.serial(1))
        try txn.commit()
        store.close()
        XCTAssertThrowsError(try EventStore(path: path, logger: Logger(label: "test"))) { error in
            XCTAssertEqual(
                "\(error)",
                "the store has layout version 1; this tern reads version 4 (start with an empty data directory)")
        }
    }

    /// A store that an earlier tern wrote in layout 3 (every index entry a whole key) opens in
    /// layout 4: its author, kind, tag and search indexes are built again as postings, and every
    /// query answers as it did.
    func testAStoreOfLayout3IsUpgradedAndAnswersAsBefore() throws {
        var corpus = RandomCorpus(seed: 7, events: 600)
        let t = try TestStore(Backends.lmdb())
        XCTAssertEqual(t.write(corpus.events).filter { $0.isStored }.count, corpus.events.count)
        var filters = (0..<120).map { _ in [corpus.randomFilter()] }
        filters.append([Filter(search: "nostr")])
        filters.append([Filter(authors: [corpus.authors[0]])])
        let before = try filters.map { try t.query($0, limit: 1000).map(\.id) }
        XCTAssertGreaterThan(before.filter { !$0.isEmpty }.count, 60, "the filters find events")
        let entries = try postingCounts(t.lmdb)

        // Write the posting tables again as layout 3 had them, and say so.
        try t.lmdb.lmdbWrite { txn in
            let dbs = t.lmdb.dbs
            for name in Databases.postingTables { try txn.drop(try txn.open(name, create: false)) }
            var plain: [MDB_dbi: MDB_dbi] = [:]
            for (name, dbi) in dbs.named where Databases.postingTables.contains(name) {
                plain[dbi] = try txn.open(name, create: true)
            }
            try txn.scan(dbs.events, from: []) { k, v in
                guard let event = Event.decode(json: v.bindMemory(to: UInt8.self)) else { return true }
                var scratch: [UInt8] = []
                try? IndexKeys.forEachEntry(
                    of: event, serial: IndexKeys.readUInt64(k, at: 0), in: dbs, scratch: &scratch
                ) {
                    dbi, key in
                    if let table = plain[dbi] { try txn.put(table, key, []) }
                }
                return true
            }
            try txn.put(dbs.meta, Array("schema".utf8), IndexKeys.serial(3))
        }
        try t.reopen()
        XCTAssertEqual(try t.lmdb.read { try $0.getBytes(t.lmdb.dbs.meta, Array("schema".utf8)) }, IndexKeys.serial(4))
        XCTAssertNil(try t.lmdb.read { try $0.getBytes(t.lmdb.dbs.meta, EventStore.reindexKey) })
        XCTAssertEqual(try postingCounts(t.lmdb), entries)
        for name in Databases.postingTables {
            let flags = try t.lmdb.read { txn -> UInt32 in
                var flags: UInt32 = 0
                try check(mdb_dbi_flags(txn.handle, try txn.open(name, create: false), &flags))
                return flags
            }
            XCTAssertEqual(flags & UInt32(MDB_DUPSORT | MDB_DUPFIXED), UInt32(MDB_DUPSORT | MDB_DUPFIXED), name)
        }
        let after = try filters.map { try t.query($0, limit: 1000).map(\.id) }
        XCTAssertEqual(after, before)
        // Removing and adding still works on the new layout.
        let newer = corpus.randomEvent()
        XCTAssertEqual(t.write(newer), .saved)
        XCTAssertEqual(try t.query([Filter(ids: [newer.id])]).map(\.id), [newer.id])
        XCTAssertTrue(
            try t.query([Filter(authors: [newer.pubkey], kinds: [newer.kind])], limit: 1000).contains {
                $0.id == newer.id
            })
    }

    /// The entries of each posting table.
    private func postingCounts(_ store: EventStore) throws -> [String: Int] {
        try store.read { txn in
            var counts: [String: Int] = [:]
            for (name, dbi) in store.dbs.named where Databases.postingTables.contains(name) {
                counts[name] = try txn.count(dbi)
            }
            return counts
        }
    }

    func testSerialsContinueAfterReopen() throws {
        let t = try TestStore(Backends.lmdb())
        let first = makeEvent(id: Bytes32(w0: 1, w1: 0, w2: 0, w3: 0), pubkey: .zero, createdAt: 1, kind: 1)
        XCTAssertEqual(t.write(first), .saved)
        try t.reopen()
        let second = makeEvent(id: Bytes32(w0: 2, w1: 0, w2: 0, w3: 0), pubkey: .zero, createdAt: 1, kind: 1)
        XCTAssertEqual(t.write(second), .saved)
        let serials = try t.lmdb.read { txn in
            (try t.lmdb.serial(txn, id: first.id), try t.lmdb.serial(txn, id: second.id))
        }
        XCTAssertEqual(serials.0, 1)
        XCTAssertEqual(serials.1, 2, "a reopened store does not reuse serials")
        XCTAssertEqual(try t.query([Filter(kinds: [1])]).map(\.id), [first.id, second.id], "ties by lowest id")
    }
}
