import EventStorage
import Foundation
import Logging
import NostrCore
import NostrStore
import NostrTools
import XCTest

#if Postgres
    import LocalPostgres
    import PostgresStore
#endif

/// A storage backend under test: how to open it on a fresh path. Every test of this suite runs
/// against each backend listed in `Backends.all`, through the `EventStorage` protocol only; a new
/// backend passes by being added there.
struct Backend: Sendable {
    let name: String
    let open: @Sendable (_ path: String, _ maxScanPerFilter: Int) throws -> any EventStorage
}

enum Backends {
    #if Postgres
        static let all: [Backend] = [lmdb(), lmdbLog(), postgres()]
    #else
        static let all: [Backend] = [lmdb(), lmdbLog()]
    #endif

    /// The embedded LMDB backend, with a map of `mapSize` bytes.
    static func lmdb(mapSize: Int = 256 << 20) -> Backend {
        Backend(name: "lmdb") { path, maxScan in
            try EventStore(
                path: path, options: StoreOptions(mapSize: mapSize, maxScanPerFilter: maxScan),
                logger: Logger(label: "test"))
        }
    }

    /// LMDB behind the event log, with checkpoints after a few kilobytes in transactions of a
    /// few events (different amounts for each store), so that a test's events lie in LMDB, in the frozen layer a checkpoint is
    /// writing, and in the active tail, and checkpoints fall between any two of its steps.
    static func lmdbLog(mapSize: Int = 256 << 20) -> Backend {
        Backend(name: "lmdb+log") { path, maxScan in
            let checkpointBytes = Int.random(in: 512...16_384)
            return try EventStore(
                path: path,
                options: StoreOptions(
                    mapSize: mapSize, maxScanPerFilter: maxScan,
                    log: LogOptions(
                        checkpointSeconds: 0.05, checkpointBytes: checkpointBytes, maxTailBytes: 4 * checkpointBytes,
                        checkpointChunkEvents: Int.random(in: 1...40))),
                logger: Logger(label: "test"))
        }
    }
}

#if Postgres
    extension Backends {
        /// The PostgreSQL backend on the tests' own server, each store in a schema of its own
        /// (named after its path, so a reopened store finds its events).
        static func postgres() -> Backend {
            Backend(name: "postgres") { path, maxScan in
                let schema = "t_" + String(path.split(separator: "-").suffix(5).joined().lowercased().prefix(32))
                return try PostgresStore(
                    url: StoreURL(LocalPostgres.shared.url() + "?schema=\(schema)&pool=2"), maxScanPerFilter: maxScan,
                    logger: Logger(label: "test"))
            }
        }
    }
#endif

/// A store of one backend in a fresh temporary directory, with a writer running.
final class TestStore {
    let backend: Backend
    let path: String
    let maxScan: Int
    var storage: any EventStorage
    var writer: EventWriter
    var now: Int64 = 1_700_000_000

    init(_ backend: Backend, maxScanPerFilter: Int = 200_000) throws {
        self.backend = backend
        maxScan = maxScanPerFilter
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent("tern-\(backend.name)-\(UUID().uuidString)")
            .path
        (storage, writer) = try Self.open(backend, path, maxScanPerFilter)
    }

    static func open(_ backend: Backend, _ path: String, _ maxScan: Int) throws -> (any EventStorage, EventWriter) {
        let storage = try backend.open(path, maxScan)
        let writer = EventWriter(storage: storage, clock: { 1_700_000_000 }, logger: Logger(label: "test"))
        writer.start()
        return (storage, writer)
    }

    func reopen() throws {
        writer.shutdown()
        storage.close()
        (storage, writer) = try Self.open(backend, path, maxScan)
    }

    deinit {
        writer.shutdown()
        storage.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes the events in order (each with the action its kind gives it) and waits for every
    /// outcome.
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
                // The inbox is full: wait for the writer to drain some of it.
                usleep(1000)
            }
        }
        XCTAssertEqual(XCTWaiter().wait(for: [done], timeout: 60), .completed, file: file, line: line)
        return outcomes.values
    }

    func write(_ event: Event) -> WriteOutcome { write([event])[0] }

    func query(_ filters: [Filter], limit: Int = 100) throws -> [Event] {
        try storage.fetch(filters, defaultLimit: limit, now: now).map { $0.event! }
    }

    func stored(_ id: Bytes32) throws -> Bool { try storage.event(id: id) != nil }
}

/// Runs `body` once per backend, each with a fresh store.
func forEachBackend(maxScanPerFilter: Int = 200_000, _ body: (TestStore) throws -> Void) throws {
    for backend in Backends.all {
        try body(TestStore(backend, maxScanPerFilter: maxScanPerFilter))
    }
}

final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [WriteOutcome?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ o: WriteOutcome) { lock.withLock { storage[i] = o } }
    var values: [WriteOutcome] { lock.withLock { storage.map { $0! } } }
}

extension Bytes32 {
    static func random(using rng: inout SplitMix64) -> Bytes32 {
        Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
    }
}

/// An event with a given shape; stores do not check signatures, so these carry none.
func makeEvent(
    id: Bytes32, pubkey: Bytes32, createdAt: Int64, kind: UInt16, tags: Tags = [], content: String = ""
) -> Event {
    Event(
        id: id, pubkey: pubkey, createdAt: createdAt, kind: kind, tags: tags, content: content,
        sig: Signature64(r: .zero, s: .zero))
}
