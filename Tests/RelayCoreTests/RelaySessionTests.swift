import EventStorage
import Foundation
import Logging
import NIOConcurrencyHelpers
import NostrCore
import NostrStore
import NostrTools
import RelayCore
import XCTest

/// A connection double: records what the session sends, and queues what the session asks to
/// run on "the connection's thread" until the test runs it.
final class RecordingTransport: ConnectionTransport, @unchecked Sendable {
    let sent = NIOLockedValueBox<[String]>([])
    let hops = NIOLockedValueBox<[@Sendable () -> Void]>([])
    /// Signalled for every hop queued, so a test can await the readers' and matcher's mail.
    let hopQueued = DispatchSemaphore(value: 0)

    func send(_ text: [UInt8]) { sent.withLockedValue { $0.append(String(decoding: text, as: UTF8.self)) } }
    func sendEvent(prefix: [UInt8], eventJSON: [UInt8]) { send(prefix + eventJSON + [UInt8(ascii: "]")]) }
    func execute(_ body: @escaping @Sendable () -> Void) {
        hops.withLockedValue { $0.append(body) }
        hopQueued.signal()
    }
    func setReading(_ enabled: Bool) {}
    func batch(_ body: () -> Void) { body() }
    var isBacklogged: Bool { false }
    func whenDrained(_ body: @escaping () -> Void) { body() }

    /// Runs the queued hops, as the connection's event loop would.
    func runHops() {
        for body in hops.withLockedValue({ h in
            defer { h = [] }
            return h
        }) { body() }
    }

    /// Waits for the next hop to be queued, then runs what is queued.
    func awaitHop(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(hopQueued.wait(timeout: .now() + 30), .success, "no mail came", file: file, line: line)
        runHops()
    }
}

/// The store with a gate: a query stops just before (or just after) it takes its snapshot,
/// says so, and waits until the test opens the gate.
final class GatedStorage: EventStorage, @unchecked Sendable {
    let inner: EventStore
    let reached = DispatchSemaphore(value: 0)
    let gate = DispatchSemaphore(value: 0)
    let beforeSnapshot = NIOLockedValueBox(false)
    /// How many more queries stop at the gate; the rest pass (nil: all stop).
    let gatedLeft = NIOLockedValueBox<Int?>(nil)
    init(_ inner: EventStore) { self.inner = inner }

    func query(_ filters: [Filter], defaultLimit: Int, now: Int64, scope: ReadScope) throws -> any StorageQuery {
        let gated = gatedLeft.withLockedValue { left -> Bool in
            guard let n = left else { return true }
            left = n - 1
            return n > 0
        }
        if !gated { return try inner.query(filters, defaultLimit: defaultLimit, now: now, scope: scope) }
        if beforeSnapshot.withLockedValue({ $0 }) {
            reached.signal()
            gate.wait()
            return try inner.query(filters, defaultLimit: defaultLimit, now: now, scope: scope)
        }
        let query = try inner.query(filters, defaultLimit: defaultLimit, now: now, scope: scope)
        reached.signal()
        gate.wait()
        return query
    }
    func commit(_ writes: [Write], outcomes: inout [WriteOutcome], sequences: inout [UInt64]) {
        inner.commit(writes, outcomes: &outcomes, sequences: &sequences)
    }
    func sweepExpired(now: Int64, max: Int) throws -> Int { try inner.sweepExpired(now: now, max: max) }
    func count(_ filters: [Filter], now: Int64, scope: ReadScope, hllOffset: Int?) throws -> CountResult {
        try inner.count(filters, now: now, scope: scope, hllOffset: hllOffset)
    }
    func event(id: Bytes32) throws -> StoredEvent? { try inner.event(id: id) }
    func items(_ filter: Filter, now: Int64, scope: ReadScope, max: Int) throws -> [SyncItem] {
        try inner.items(filter, now: now, scope: scope, max: max)
    }
    func remove(ids: [Bytes32]) throws -> Int { try inner.remove(ids: ids) }
    func setting(_ key: String) throws -> [UInt8]? { try inner.setting(key) }
    func setSetting(_ key: String, _ value: [UInt8]) throws { try inner.setSetting(key, value) }
    var count: Int { inner.count }
    var storedBytes: Int { inner.storedBytes }
    func checkHealth() -> Bool { inner.checkHealth() }
    func close() { inner.close() }
}

final class RelaySessionTests: XCTestCase {
    let signer = Signer(seed: 61)
    let now: Int64 = 1_700_000_000
    var path = ""
    var store: EventStore!
    var relay: Relay!

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-session-\(UUID().uuidString)").path
        store = try EventStore(path: path, logger: Logger(label: "test"))
    }

    override func tearDown() {
        relay?.shutdown()
        store.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    func makeRelay(storage: (any EventStorage)? = nil, writerCapacity: Int = 4096, limits: Limits = Limits()) -> Relay {
        relay = Relay(
            info: RelayInfo(), limits: limits, policy: Policy(), storage: storage ?? store,
            writerCapacity: writerCapacity, clock: { [now] in now }, logger: Logger(label: "test"))
        return relay
    }

    func makeSession(_ id: UInt64) -> (RelaySession, RecordingTransport) {
        let transport = RecordingTransport()
        return (RelaySession(id: id, relay: relay, transport: transport), transport)
    }

    func ok(_ event: Event, _ accepted: Bool, _ message: String = "") -> String {
        #"["OK","\#(event.id.hex)",\#(accepted),"\#(message)"]"#
    }

    func eventMessage(_ sub: String, _ event: Event) -> String { #"["EVENT","\#(sub)",\#(event.json)]"# }

    func testOneCommitOfManyEventsIsAnsweredWithOneHopAndOneOKEach() throws {
        _ = makeRelay()
        relay.matcher.start()
        let (session, transport) = makeSession(1)
        let (subscriber, reader) = makeSession(2)
        subscriber.receive(Array(#"["REQ","live",{"kinds":[1]}]"#.utf8))
        reader.awaitHop()
        XCTAssertEqual(reader.sent.withLockedValue { $0 }, [#"["EOSE","live"]"#], "answered by a reader")
        // The writer is not running yet, so all eight events wait in its inbox and are committed
        // in one transaction once it starts.
        let events = (0..<8).map { signer.event(kind: 1, content: "batched \($0)", createdAt: now) }
        for event in events { session.receive(Array(#"["EVENT",\#(event.json)]"#.utf8)) }
        relay.writer.start()
        relay.writer.shutdown()  // commits what is queued
        relay.matcher.shutdown()  // delivers and answers what it holds
        XCTAssertEqual(transport.sent.withLockedValue { $0 }, [], "answers wait for the connection's thread")
        XCTAssertEqual(transport.hops.withLockedValue { $0.count }, 1, "one hop for the whole commit")
        transport.runHops()
        XCTAssertEqual(
            transport.sent.withLockedValue { $0 }, events.map { ok($0, true) }, "one OK per event, in the order sent")
        XCTAssertNotNil(try store.event(id: events[7].id))
        XCTAssertEqual(reader.hops.withLockedValue { $0.count }, 1, "one hop for all eight live events")
        reader.runHops()
        XCTAssertEqual(
            reader.sent.withLockedValue { Array($0.dropFirst()) }, events.map { eventMessage("live", $0) },
            "each live event once, in commit order")
    }

    func testARefusalWhileAWriteIsPendingIsAnsweredAndTheWriteLater() throws {
        _ = makeRelay(writerCapacity: 1)
        let (session, transport) = makeSession(1)
        let first = signer.event(kind: 1, content: "queued", createdAt: now)
        let second = signer.event(kind: 1, content: "refused", createdAt: now)
        session.receive(Array(#"["EVENT",\#(first.json)]"#.utf8))
        session.receive(Array(#"["EVENT",\#(second.json)]"#.utf8))
        XCTAssertEqual(transport.hops.withLockedValue { $0.count }, 1)
        transport.runHops()
        XCTAssertEqual(
            transport.sent.withLockedValue { $0 },
            [ok(second, false, "rate-limited: the relay is busy, try again shortly")])
        relay.start()
        relay.writer.shutdown()
        relay.matcher.shutdown()
        XCTAssertEqual(transport.hops.withLockedValue { $0.count }, 1, "a new run of outcomes hops again")
        transport.runHops()
        XCTAssertEqual(transport.sent.withLockedValue { $0.last }, ok(first, true))
        XCTAssertEqual(transport.sent.withLockedValue { $0.count }, 2, "each event answered once")
    }

    func testEventsCommittedAroundTheSnapshotAreDeliveredOnceAndInOrder() throws {
        // `before` is committed after the REQ registered but before its snapshot: the answer holds
        // it, so its live copy is dropped. `after` is committed after the snapshot: it is held
        // until EOSE, then sent.
        let gated = GatedStorage(store)
        _ = makeRelay(storage: gated)
        relay.start()
        let (publisher, publisherTransport) = makeSession(1)
        let (subscriber, reader) = makeSession(2)
        let stored = signer.event(kind: 1, content: "stored", createdAt: now - 10)
        publisher.receive(Array(#"["EVENT",\#(stored.json)]"#.utf8))
        publisherTransport.awaitHop()

        subscriber.receive(Array(#"["REQ","s",{"kinds":[1]}]"#.utf8))
        XCTAssertEqual(gated.reached.wait(timeout: .now() + 30), .success)
        let after = signer.event(kind: 1, content: "after", createdAt: now)
        publisher.receive(Array(#"["EVENT",\#(after.json)]"#.utf8))
        publisherTransport.awaitHop()
        reader.awaitHop()  // the live copy of `after` reaches the session while it is loading
        XCTAssertEqual(reader.sent.withLockedValue { $0 }, [], "nothing before the stored events")
        gated.gate.signal()
        reader.awaitHop()
        XCTAssertEqual(
            reader.sent.withLockedValue { $0 },
            [eventMessage("s", stored), #"["EOSE","s"]"#, eventMessage("s", after)])

        // Now one committed after the REQ registered but before its snapshot.
        gated.beforeSnapshot.withLockedValue { $0 = true }
        let (late, lateReader) = makeSession(3)
        late.receive(Array(#"["REQ","t",{"kinds":[1]}]"#.utf8))
        XCTAssertEqual(gated.reached.wait(timeout: .now() + 30), .success)
        let between = signer.event(kind: 1, content: "between", createdAt: now + 1)
        publisher.receive(Array(#"["EVENT",\#(between.json)]"#.utf8))
        publisherTransport.awaitHop()
        lateReader.awaitHop()  // its live copy, held while loading
        gated.gate.signal()
        lateReader.awaitHop()
        XCTAssertEqual(
            lateReader.sent.withLockedValue { $0 },
            [eventMessage("t", between), eventMessage("t", after), eventMessage("t", stored), #"["EOSE","t"]"#],
            "the answer holds it, so its live copy is not sent again")
        let more = signer.event(kind: 1, content: "more", createdAt: now)
        publisher.receive(Array(#"["EVENT",\#(more.json)]"#.utf8))
        lateReader.awaitHop()
        XCTAssertEqual(lateReader.sent.withLockedValue { $0.last }, eventMessage("t", more), "live after EOSE")
    }

    func testAnswersGoOutInTheOrderOfTheREQs() throws {
        // Two readers: "b" is read while "a" waits at the gate, but waits for "a" to be sent.
        let gated = GatedStorage(store)
        gated.gatedLeft.withLockedValue { $0 = 1 }
        _ = makeRelay(storage: gated)
        relay.start()
        let (subscriber, reader) = makeSession(2)
        subscriber.receive(Array(#"["REQ","a",{"kinds":[1]}]"#.utf8))
        XCTAssertEqual(gated.reached.wait(timeout: .now() + 30), .success)
        subscriber.receive(Array(#"["REQ","b",{"kinds":[7]}]"#.utf8))
        reader.awaitHop()  // "b" answered by the other reader
        XCTAssertEqual(reader.sent.withLockedValue { $0 }, [], "held behind a")
        gated.gate.signal()
        reader.awaitHop()
        XCTAssertEqual(reader.sent.withLockedValue { $0 }, [#"["EOSE","a"]"#, #"["EOSE","b"]"#])
    }

    func testAFullReaderQueueAnswersClosedRateLimited() throws {
        let gated = GatedStorage(store)
        var limits = Limits()
        limits.readerQueueDepth = 1
        _ = makeRelay(storage: gated, limits: limits)
        relay.start()
        let (subscriber, reader) = makeSession(2)
        subscriber.receive(Array(#"["REQ","a",{"kinds":[1]}]"#.utf8))
        XCTAssertEqual(gated.reached.wait(timeout: .now() + 30), .success)
        subscriber.receive(Array(#"["REQ","b",{"kinds":[1]}]"#.utf8))
        XCTAssertEqual(
            reader.sent.withLockedValue { $0 },
            [#"["CLOSED","b","rate-limited: the relay has too many queries waiting; ask again shortly"]"#])
        gated.gate.signal()
        reader.awaitHop()
        XCTAssertEqual(reader.sent.withLockedValue { $0.last }, #"["EOSE","a"]"#, "the one queued is answered")
    }

    func testAClosedSubscriptionGetsNoAnswer() throws {
        let gated = GatedStorage(store)
        _ = makeRelay(storage: gated)
        relay.start()
        let (subscriber, reader) = makeSession(2)
        subscriber.receive(Array(#"["REQ","s",{"kinds":[1]}]"#.utf8))
        XCTAssertEqual(gated.reached.wait(timeout: .now() + 30), .success)
        subscriber.receive(Array(#"["CLOSE","s"]"#.utf8))
        subscriber.receive(Array(#"["REQ","s",{"kinds":[7]}]"#.utf8))
        gated.gate.signal()
        XCTAssertEqual(gated.reached.wait(timeout: .now() + 30), .success)
        gated.gate.signal()
        reader.awaitHop()
        XCTAssertEqual(reader.sent.withLockedValue { $0 }, [#"["EOSE","s"]"#], "only the replacing REQ is answered")
    }
}
