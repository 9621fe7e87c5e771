#if Postgres
    import EventStorage
    import Foundation
    import LocalPostgres
    import Logging
    import NIOConcurrencyHelpers
    import NostrCore
    import NostrTools
    import PostgresStore
    import XCTest

    /// What only the PostgreSQL backend has: its URL, its schema's version, values PostgreSQL's
    /// text cannot hold, and several stores (nodes) writing one schema at once.
    final class PostgresStoreTests: XCTestCase {
        var rng = SplitMix64(seed: 31)

        func url(_ schema: String) -> String { LocalPostgres.shared.url() + "?schema=\(schema)&pool=2" }

        func freshSchema() -> String { "p_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }

        func open(_ schema: String) throws -> PostgresStore {
            try PostgresStore(url: StoreURL(url(schema)), logger: Logger(label: "test"))
        }

        func testStoreURLs() throws {
            let full = try StoreURL("postgres://relay:p%40ss@db.example:6543/nostr?schema=r1&pool=9")
            XCTAssertEqual(full.user, "relay")
            XCTAssertEqual(full.password, "p@ss")
            XCTAssertEqual(full.host, "db.example")
            XCTAssertEqual(full.port, 6543)
            XCTAssertEqual(full.database, "nostr")
            XCTAssertEqual(full.schema, "r1")
            XCTAssertEqual(full.readConnections, 9)
            XCTAssertFalse(full.description.contains("p@ss"), "the password stays out of logs")
            let plain = try StoreURL("postgresql://h/db")
            XCTAssertEqual([plain.user, plain.host, plain.schema], ["postgres", "h", "tern"])
            XCTAssertEqual(plain.port, 5432)
            for bad in [
                "mysql://h/db", "postgres://h", "postgres://h/", "postgres://h:0/db", "postgres://h:x/db",
                "postgres://h/db?schema=1x", "postgres://h/db?schema=a;drop", "postgres://h/db?pool=0",
                "postgres://h/db?sslmode=require", "postgres://@:5/db",
            ] {
                XCTAssertThrowsError(try StoreURL(bad), bad)
            }
        }

        func testANewerSchemaIsRefusedWithBothVersions() throws {
            let schema = freshSchema()
            try open(schema).close()
            try LocalPostgres.shared.psql("UPDATE \(schema).meta SET value = '99' WHERE key = 'schema_version'")
            XCTAssertThrowsError(try open(schema)) { error in
                XCTAssertTrue("\(error)".contains("version 99") && "\(error)".contains("up to 1"), "\(error)")
            }
        }

        /// Tag values and `d` tags PostgreSQL's text or its B-tree cannot hold as they are (a NUL,
        /// 5,000 bytes) are stored and found by their exact value.
        func testValuesTextCannotHoldAreFoundExactly() throws {
            let store = try open(freshSchema())
            defer { store.close() }
            let writer = EventWriter(storage: store, clock: { 1_700_000_000 }, logger: Logger(label: "test"))
            writer.start()
            defer { writer.shutdown() }
            let alice = Bytes32(w0: 9, w1: 9, w2: 9, w3: 9)
            let long = String(repeating: "x", count: 5000)
            let nul = "a\u{0}b"
            func event(_ kind: UInt16, _ tags: Tags, at: Int64) -> Event {
                Event(
                    id: .random(using: &rng), pubkey: alice, createdAt: at, kind: kind, tags: tags, content: "c",
                    sig: Signature64(r: .zero, s: .zero))
            }
            let withLong = event(1, [["t", long]], at: 100)
            let withLongPrefix = event(1, [["t", long + "y"]], at: 101)
            let withNUL = event(1, [["t", nul]], at: 102)
            let article = event(30023, [["d", long]], at: 103)
            let newerArticle = event(30023, [["d", long]], at: 104)
            let outcomes = NIOLockedValueBox<[WriteOutcome]>([])
            let done = expectation(description: "written")
            done.expectedFulfillmentCount = 5
            for e in [withLong, withLongPrefix, withNUL, article, newerArticle] {
                XCTAssertTrue(
                    writer.submit(Write.byKind(e)) { outcome in
                        outcomes.withLockedValue { $0.append(outcome) }
                        done.fulfill()
                    })
            }
            wait(for: [done], timeout: 30)
            XCTAssertEqual(outcomes.withLockedValue { $0 }, [.saved, .saved, .saved, .saved, .replaced])
            func ids(_ name: UInt8, _ value: String) throws -> [Bytes32] {
                try store.fetch(
                    [Filter(tags: [Filter.TagCondition(name: name, values: [value])])], defaultLimit: 10, now: 0
                ).map(\.id)
            }
            XCTAssertEqual(try ids(UInt8(ascii: "t"), long), [withLong.id])
            XCTAssertEqual(try ids(UInt8(ascii: "t"), nul), [withNUL.id])
            XCTAssertEqual(try ids(UInt8(ascii: "d"), long), [newerArticle.id], "one version per long address")
        }

        /// Two stores on one schema (two nodes) write versions of the same replaceable events at
        /// once, 200 rounds: each address ends with exactly its newest version, and each store's
        /// feed hands the other's stored events over in order.
        func testTwoStoresWritingOneSchemaAtOnceKeepOnlyTheNewest() throws {
            let schema = freshSchema()
            let a = try open(schema)
            defer { a.close() }
            let b = try open(schema)
            defer { b.close() }
            let received = NIOLockedValueBox<[FeedItem]>([])
            let heard = expectation(description: "B heard A's commits")
            heard.assertForOverFulfill = false
            b.sharedFeed!.start { items in
                received.withLockedValue { $0.append(contentsOf: items) }
                heard.fulfill()
            }
            let writerA = EventWriter(storage: a, clock: { 1_700_000_000 }, logger: Logger(label: "a"))
            let writerB = EventWriter(storage: b, clock: { 1_700_000_000 }, logger: Logger(label: "b"))
            writerA.start()
            writerB.start()
            defer {
                writerA.shutdown()
                writerB.shutdown()
            }
            let authors = (0..<8).map { _ in Bytes32.random(using: &rng) }
            var newest: [Bytes32: Event] = [:]
            let done = expectation(description: "written")
            done.expectedFulfillmentCount = 200 * 2
            for round in 0..<200 {
                let author = authors[round % authors.count]
                let at = Int64(1000 + round / authors.count)
                func version(_ seconds: Int64) -> Event {
                    Event(
                        id: .random(using: &rng), pubkey: author, createdAt: at * 10 + seconds, kind: 10002, tags: [],
                        content: "", sig: Signature64(r: .zero, s: .zero))
                }
                let (x, y) = (version(1), version(round % 3 == 0 ? 1 : 2))  // some rounds tie
                let winner = [x, y].max { p, q in
                    p.createdAt != q.createdAt ? p.createdAt < q.createdAt : p.id > q.id
                }!
                newest[author] = winner
                XCTAssertTrue(writerA.submit(Write.byKind(x)) { _ in done.fulfill() })
                XCTAssertTrue(writerB.submit(Write.byKind(y)) { _ in done.fulfill() })
            }
            wait(for: [done], timeout: 120)
            let stored = try a.fetch([Filter(kinds: [10002])], defaultLimit: 100, now: 0)
            XCTAssertEqual(stored.count, authors.count, "one version per author")
            XCTAssertEqual(Set(stored.map(\.id)), Set(newest.values.map(\.id)), "and it is the newest")
            XCTAssertEqual(a.count, authors.count)
            // The feed: B received A's stored events in increasing order (possibly since replaced).
            wait(for: [heard], timeout: 30)
            let sequences = received.withLockedValue { $0.map(\.sequence) }
            XCTAssertFalse(sequences.isEmpty, "B heard A's commits")
            XCTAssertEqual(sequences, sequences.sorted(), "in commit order")
            XCTAssertEqual(Set(sequences).count, sequences.count, "each once")
        }
    }
#endif
