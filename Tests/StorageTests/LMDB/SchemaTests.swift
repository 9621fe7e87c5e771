import Foundation
import Logging
import NostrCore
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
                "the store has layout version 1; this tern reads version 3 (start with an empty data directory)")
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
