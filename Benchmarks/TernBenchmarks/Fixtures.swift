import EventStorage
import Foundation
import Logging
import NostrCore
import NostrStore
import NostrTools
import RelayCore

/// Realistic events and stores for the benchmarks.
enum Fixtures {
    static let signer = Signer(seed: 4242)
    static let authors: [Bytes32] = (0..<1000).map { Signer(seed: 9000 + UInt64($0)).publicKey }
    static let topics = ["nostr", "bitcoin", "swift", "music", "photography", "dev", "zaps", "art"]

    /// A signed kind-1 note of about 560 bytes with unicode, escapes and e/p/t tags.
    static let note: Event = signer.event(
        kind: 1,
        content:
            "gm nostr ☀️ Just shipped a \"new\" release of the relay.\nIt handles ünïcödé, 日本語 and emoji 🐦⚡️ fine, "
            + "and escapes a \\ backslash and a\ttab. https://example.com/notes/12345?ref=bench",
        tags: [
            [
                "e", "5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36", "wss://relay.example.com",
                "reply",
            ],
            ["p", "f7234bd4c1394dda46d09f35bd384dd30cc552ad5541990f98844fb06676e9ca"],
            ["t", "nostr"],
        ],
        createdAt: 1_700_000_000)

    static let noteMessage: [UInt8] = Array(#"["EVENT",\#(note.json)]"#.utf8)

    static let filterMessage: [UInt8] = Array(
        ##"["REQ","sub",{"authors":["\##(authors[0].hex)","\##(authors[1].hex)","\##(authors[2].hex)"],"kinds":[1,6,7],"#t":["nostr","bitcoin"],"since":1690000000,"limit":50}]"##
            .utf8)

    /// Unsigned events with random ids (the store does not check signatures): cheap to make in bulk.
    static func storeEvents(count: Int, seed: UInt64) -> [Event] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in
            let author = authors[Int(rng.next() % UInt64(authors.count))]
            let topic = topics[Int(rng.next() % UInt64(topics.count))]
            let kinds: [UInt16] = [1, 1, 1, 7, 6, 1063]
            return Event(
                id: Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()), pubkey: author,
                createdAt: 1_600_000_000 + Int64(i), kind: kinds[Int(rng.next() % 6)],
                tags: [["t", topic], ["p", authors[Int(rng.next() % UInt64(authors.count))].hex]],
                content: "note number \(i) about #\(topic) — ünïcödé", sig: note.sig)
        }
    }

    static func temporaryStore() throws -> (EventStore, EventWriter, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-bench-\(UUID().uuidString)").path
        let logger = Logger(label: "bench")
        let store = try EventStore(path: path, options: StoreOptions(mapSize: 32 << 30), logger: logger)
        let writer = EventWriter(storage: store, clock: { 1_700_000_000 }, logger: logger)
        writer.start()
        return (store, writer, path)
    }

    /// Writes events through the writer and waits until all are committed.
    static func write(_ events: ArraySlice<Event>, _ writer: EventWriter) {
        let done = CommitCounter()
        for e in events {
            while !writer.submit(Write.byKind(e), requester: done) { usleep(200) }
        }
        for _ in events { done.semaphore.wait() }
    }
}

/// A store with a running, warmed-up writer and pre-signed client EVENT messages, shared by
/// every sample of an ingest benchmark. package-benchmark calls a benchmark's closure once per
/// sample; a store and writer made inside it would count the writer thread's start-up (its
/// buffers, LMDB's first transaction) in every sample.
final class IngestFixture: WriteRequester, @unchecked Sendable {
    /// A short kind-1 note with one `t` tag.
    static let small = IngestFixture(name: "small") { i in
        Fixtures.signer.event(kind: 1, content: "note \(i)", tags: [["t", "nostr"]], createdAt: 1_700_000_000)
    }
    /// The 560-byte note of the parse benchmark (unicode, escapes, e/p/t tags), one per sample.
    static let note = IngestFixture(name: "note") { i in
        Fixtures.signer.event(
            kind: 1, content: Fixtures.note.content + " \(i)", tags: Fixtures.note.tags, createdAt: 1_700_000_000)
    }

    /// More than warm-up plus `maxIterations` of the benchmarks.
    static let capacity = 2100

    let store: EventStore
    let writer: EventWriter
    let path: String
    let messages: [[UInt8]]
    let validation = ValidationService(limits: Limits())
    let done = DispatchSemaphore(value: 0)
    var next = 0
    var scratch: [UInt8] = []

    init(name: String, _ make: (Int) -> Event) {
        (store, writer, path) = try! Fixtures.temporaryStore()
        messages = (0..<(Self.capacity + 16)).map { Array(#"["EVENT",\#(make($0).json)]"#.utf8) }
        scratch.reserveCapacity(2048)
        IngestFixture.cleanup.append(path)
        for _ in 0..<16 { ingestNext() }
    }

    /// Parses, validates and stores the next message, and waits for the commit.
    func ingestNext() {
        precondition(next < messages.count, "more samples than pre-signed events")
        guard case .event(let event)? = try? ClientMessage.parse(messages[next]),
            case .success(let valid) = validation.validate(event, now: 1_700_000_000, scratch: &scratch)
        else { fatalError("fixture event rejected") }
        let accepted = writer.submit(Write(.insert, valid.event, json: valid.json), requester: self)
        precondition(accepted, "writer inbox full")
        done.wait()
        next += 1
    }

    func written(_ committed: Committed) {
        precondition(committed.outcome.isStored, "fixture event not saved: \(committed.outcome)")
        done.signal()
    }

    /// The stores to remove when the benchmark process exits.
    nonisolated(unsafe) static var cleanup: [String] = [] {
        didSet {
            if oldValue.isEmpty {
                atexit {
                    for path in IngestFixture.cleanup { try? FileManager.default.removeItem(atPath: path) }
                }
            }
        }
    }
}

/// Signals a semaphore for every committed event (the requester of `Fixtures.write`).
final class CommitCounter: WriteRequester {
    let semaphore = DispatchSemaphore(value: 0)

    func written(_ committed: Committed) { semaphore.signal() }
}
