import Foundation
import Logging
import NIOConcurrencyHelpers
import NostrCore
import NostrStore
import RelayCore
import XCTest

/// A connection double: records what the session sends, and queues what the session asks to
/// run on "the connection's thread" until the test runs it.
final class RecordingTransport: ConnectionTransport, @unchecked Sendable {
    let sent = NIOLockedValueBox<[String]>([])
    let hops = NIOLockedValueBox<[@Sendable () -> Void]>([])

    func send(_ text: [UInt8]) { sent.withLockedValue { $0.append(String(decoding: text, as: UTF8.self)) } }
    func sendEvent(prefix: [UInt8], eventJSON: [UInt8]) { send(prefix + eventJSON + [UInt8(ascii: "]")]) }
    func execute(_ body: @escaping @Sendable () -> Void) {
        hops.withLockedValue { $0.append(body) }
    }
    func setReading(_ enabled: Bool) {}
    func batch(_ body: () -> Void) { body() }
    var isBacklogged: Bool { false }

    /// Runs the queued hops, as the connection's event loop would.
    func runHops() {
        for body in hops.withLockedValue({ h in
            defer { h = [] }; return h
        }) { body() }
    }
}

final class RelaySessionTests: XCTestCase {
    let signer = Signer(seed: 61)
    let now: Int64 = 1_700_000_000
    var path = ""
    var store: EventStore!

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-session-\(UUID().uuidString)").path
        store = try EventStore(path: path, logger: Logger(label: "test"))
    }

    override func tearDown() {
        store.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    func session(writerCapacity: Int = 4096) -> (RelaySession, EventWriter, RecordingTransport) {
        let logger = Logger(label: "test")
        let writer = EventWriter(store: store, capacity: writerCapacity, clock: { [now] in now }, logger: logger)
        relay = Relay(
            info: RelayInfo(), limits: Limits(), policy: Policy(), store: store, writer: writer,
            clock: { [now] in now }, logger: logger)
        let transport = RecordingTransport()
        return (RelaySession(id: 1, relay: relay, transport: transport), writer, transport)
    }

    var relay: Relay!

    func ok(_ event: Event, _ accepted: Bool, _ message: String = "") -> String {
        #"["OK","\#(event.id.hex)",\#(accepted),"\#(message)"]"#
    }

    func testOneCommitOfManyEventsIsAnsweredWithOneHopAndOneOKEach() throws {
        let (session, writer, transport) = session()
        let reader = RecordingTransport()
        let subscriber = RelaySession(id: 2, relay: relay, transport: reader)
        subscriber.receive(Array(#"["REQ","live",{"kinds":[1]}]"#.utf8))
        XCTAssertEqual(reader.sent.withLockedValue { $0 }, [#"["EOSE","live"]"#])
        // The writer is not running yet, so all eight events wait in its inbox and are committed
        // in one transaction once it starts.
        let events = (0..<8).map { signer.event(kind: 1, content: "batched \($0)", createdAt: now) }
        for event in events { session.receive(Array(#"["EVENT",\#(event.json)]"#.utf8)) }
        writer.start()
        writer.shutdown()  // commits what is queued and returns once every outcome was reported
        XCTAssertEqual(transport.sent.withLockedValue { $0 }, [], "answers wait for the connection's thread")
        XCTAssertEqual(transport.hops.withLockedValue { $0.count }, 1, "one hop for the whole commit")
        transport.runHops()
        XCTAssertEqual(
            transport.sent.withLockedValue { $0 }, events.map { ok($0, true) },
            "one OK per event, in the order sent")
        XCTAssertNotNil(try store.event(id: events[7].id))
        XCTAssertEqual(reader.hops.withLockedValue { $0.count }, 1, "one hop for all eight live events")
        reader.runHops()
        XCTAssertEqual(
            reader.sent.withLockedValue { Array($0.dropFirst()) }, events.map { #"["EVENT","live",\#($0.json)]"# },
            "each live event once, in commit order")
    }

    func testARefusalWhileAWriteIsPendingIsAnsweredAndTheWriteLater() throws {
        let (session, writer, transport) = session(writerCapacity: 1)
        let first = signer.event(kind: 1, content: "queued", createdAt: now)
        let second = signer.event(kind: 1, content: "refused", createdAt: now)
        session.receive(Array(#"["EVENT",\#(first.json)]"#.utf8))
        session.receive(Array(#"["EVENT",\#(second.json)]"#.utf8))
        XCTAssertEqual(transport.hops.withLockedValue { $0.count }, 1)
        transport.runHops()
        XCTAssertEqual(
            transport.sent.withLockedValue { $0 },
            [ok(second, false, "rate-limited: the relay is busy, try again shortly")])
        writer.start()
        writer.shutdown()
        XCTAssertEqual(transport.hops.withLockedValue { $0.count }, 1, "a new run of outcomes hops again")
        transport.runHops()
        XCTAssertEqual(transport.sent.withLockedValue { $0.last }, ok(first, true))
        XCTAssertEqual(transport.sent.withLockedValue { $0.count }, 2, "each event answered once")
    }
}
