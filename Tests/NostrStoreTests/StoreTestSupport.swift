import EventStorage
import Foundation
import Logging
import NostrCore
import NostrStore
import XCTest

/// An LMDB store in a fresh temporary directory with its writer running, for what is particular
/// to LMDB (layout, map size, the planner). The semantics every backend shares are tested in
/// StorageConformanceTests.
final class TestStore {
    let path: String
    var store: EventStore
    var writer: EventWriter
    var now: Int64 = 1_700_000_000

    init(mapSize: Int = 256 << 20) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-store-\(UUID().uuidString)").path
        (store, writer) = try Self.open(path, mapSize: mapSize)
    }

    static func open(_ path: String, mapSize: Int) throws -> (EventStore, EventWriter) {
        let store = try EventStore(path: path, options: StoreOptions(mapSize: mapSize), logger: Logger(label: "test"))
        let writer = EventWriter(storage: store, clock: { 1_700_000_000 }, logger: Logger(label: "test"))
        writer.start()
        return (store, writer)
    }

    func reopen() throws {
        writer.shutdown()
        store.close()
        (store, writer) = try Self.open(path, mapSize: 256 << 20)
    }

    deinit {
        writer.shutdown()
        store.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes the events in order through the writer and waits for every outcome.
    func write(_ events: [Event], file: StaticString = #filePath, line: UInt = #line) -> [WriteOutcome] {
        let outcomes = OutcomeBox(count: events.count)
        let done = XCTestExpectation(description: "written")
        done.expectedFulfillmentCount = max(1, events.count)
        if events.isEmpty { done.fulfill() }
        for (i, event) in events.enumerated() {
            while !writer.submit(
                Write.byKind(event),
                completion: { outcome in
                    outcomes.set(i, outcome)
                    done.fulfill()
                })
            {
                usleep(1000)  // the inbox is full: wait for the writer to drain some of it
            }
        }
        XCTAssertEqual(XCTWaiter().wait(for: [done], timeout: 60), .completed, file: file, line: line)
        return outcomes.values
    }

    func write(_ event: Event) -> WriteOutcome { write([event])[0] }

    func query(_ filters: [Filter], limit: Int = 100) throws -> [Event] {
        try store.fetch(filters, defaultLimit: limit, now: now).map { $0.event! }
    }
}

final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [WriteOutcome?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ o: WriteOutcome) { lock.withLock { storage[i] = o } }
    var values: [WriteOutcome] { lock.withLock { storage.map { $0! } } }
}

/// An event with a given shape; the store does not check signatures, so these carry none.
func makeEvent(
    id: Bytes32, pubkey: Bytes32, createdAt: Int64, kind: UInt16, tags: Tags = [], content: String = ""
) -> Event {
    Event(
        id: id, pubkey: pubkey, createdAt: createdAt, kind: kind, tags: tags, content: content,
        sig: Signature64(r: .zero, s: .zero))
}
