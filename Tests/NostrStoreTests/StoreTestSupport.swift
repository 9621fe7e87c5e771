import Foundation
import Logging
import NostrCore
import NostrStore
import XCTest

/// The store tests draw from a seeded generator, so a failing seed can be replayed.
typealias SeededRandom = SplitMix64

extension Bytes32 {
    static func random(using rng: inout SeededRandom) -> Bytes32 {
        Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
    }
}

/// A store in a fresh temporary directory with its writer running.
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
        let writer = EventWriter(store: store, clock: { 1_700_000_000 }, logger: Logger(label: "test"))
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
                event, json: event.jsonBytes,
                completion: { outcome in
                    outcomes.set(i, outcome)
                    done.fulfill()
                })
            {
                // The inbox is full: wait for the writer to drain some of it.
                usleep(1000)
            }
        }
        XCTAssertEqual(XCTWaiter().wait(for: [done], timeout: 60), .completed, file: file, line: line)
        return outcomes.values
    }

    func write(_ event: Event) -> WriteOutcome { write([event])[0] }

    func query(_ filters: [Filter], limit: Int = 100) throws -> [Event] {
        try store.query(filters, defaultLimit: limit, now: now).map { $0.event! }
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
