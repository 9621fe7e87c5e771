import EventStorage
import Foundation
import Logging
import NIOConcurrencyHelpers
import NostrCore
import NostrStore
import NostrTools
import RelayCore
import XCTest

/// The pipeline after the services: processing → writer (commits only) → matcher (fan-out,
/// then the origin's outcome), on a real LMDB store.
final class ProcessingServiceTests: XCTestCase {
    var path = ""
    var store: EventStore!
    var writer: EventWriter!
    var matcher: Matcher!
    var processing: ProcessingService!
    let index = SubscriptionIndex()
    let signer = Signer(seed: 51)

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-proc-\(UUID().uuidString)").path
        store = try EventStore(path: path, logger: Logger(label: "test"))
        matcher = Matcher(subscriptions: index)
        writer = EventWriter(storage: store, sink: matcher, clock: { 1_700_000_000 }, logger: Logger(label: "test"))
        matcher.start()
        writer.start()
        processing = ProcessingService(writer: writer, matcher: matcher)
    }

    override func tearDown() {
        writer.shutdown()
        matcher.shutdown()
        store.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    func process(_ event: Event, _ route: Route, subscriber: RecordingSubscriber? = nil) -> Outcome {
        let valid = try! ValidationService(limits: Limits()).validate(event, now: 1_700_000_000).get()
        let box = NIOLockedValueBox<Outcome?>(nil)
        let done = expectation(description: "outcome")
        processing.process(
            valid, route: route,
            origin: RecordingOrigin { outcome in
                // The origin hears the outcome only after the live subscribers were handed the event.
                if let subscriber, outcome == .saved || outcome == .broadcast {
                    XCTAssertTrue(subscriber.received.withLockedValue { $0.contains { $0.0 == event.json } })
                }
                box.withLockedValue { $0 = outcome }
                done.fulfill()
            })
        wait(for: [done], timeout: 10)
        return box.withLockedValue { $0! }
    }

    func testFullWriterQueueIsRefusedWithRateLimitedThenDrains() throws {
        // A writer with room for two that has not started: the third event finds it full.
        let small = EventWriter(
            storage: store, sink: matcher, capacity: 2, clock: { 1_700_000_000 }, logger: Logger(label: "test"))
        let processing = ProcessingService(writer: small, matcher: matcher)
        let outcomes = NIOLockedValueBox<[Int: Outcome]>([:])
        let queued = expectation(description: "queued events are saved")
        queued.expectedFulfillmentCount = 2
        let refused = expectation(description: "the third is refused")
        for i in 0..<3 {
            let event = signer.event(kind: 1, content: "queued \(i)", createdAt: 1_700_000_000)
            let valid = try ValidationService(limits: Limits()).validate(event, now: 1_700_000_000).get()
            processing.process(
                valid, route: .store(.insert),
                origin: RecordingOrigin { outcome in
                    outcomes.withLockedValue { $0[i] = outcome }
                    if i < 2 { queued.fulfill() } else { refused.fulfill() }
                })
        }
        wait(for: [refused], timeout: 10)
        XCTAssertEqual(
            outcomes.withLockedValue { $0 }, [2: .rejected(.rateLimited("the relay is busy, try again shortly"))],
            "refused at once, while the two queued ones wait for the writer")
        XCTAssertEqual(Outcome.rejected(.rateLimited("x")).okAnswer.message, "rate-limited: x")
        small.start()
        wait(for: [queued], timeout: 10)
        XCTAssertEqual(outcomes.withLockedValue { [$0[0], $0[1]] }, [.saved, .saved])
        small.shutdown()
    }

    func testSavedEventsAreStoredThenDeliveredThenAnswered() throws {
        let sub = RecordingSubscriber()
        index.add(connection: 1, subscriptionID: "live", filters: [Filter(kinds: [1])], subscriber: sub)
        let event = signer.event(kind: 1, content: "x", createdAt: 1_700_000_000)
        XCTAssertEqual(process(event, .store(.insert), subscriber: sub), .saved)
        XCTAssertNotNil(try store.event(id: event.id), "stored before the outcome is reported")
        XCTAssertEqual(sub.received.withLockedValue { $0.map(\.1) }, [["live"]])
        XCTAssertEqual(process(event, .store(.insert)), .duplicate)
        XCTAssertEqual(sub.received.withLockedValue { $0.count }, 1, "a duplicate is not delivered again")
        XCTAssertEqual(Outcome.duplicate.okAnswer.accepted, true)
        XCTAssertEqual(Outcome.duplicate.okAnswer.message, "duplicate: already have this event")
    }

    func testEphemeralEventsAreDeliveredNotStored() throws {
        let sub = RecordingSubscriber()
        index.add(connection: 1, subscriptionID: "eph", filters: [Filter(kinds: [20001])], subscriber: sub)
        let event = signer.event(kind: 20001, content: "x", createdAt: 1_700_000_000)
        XCTAssertEqual(process(event, .broadcast, subscriber: sub), .broadcast)
        XCTAssertNil(try store.event(id: event.id))
        XCTAssertEqual(sub.received.withLockedValue { $0.count }, 1)
    }

    func testTheRoutesActionReachesTheStore() {
        // The address comes from routing: the store replaces by it without working it out again.
        let routing = RoutingService()
        let old = signer.event(kind: 0, content: "old", createdAt: 1_699_999_000)
        let new = signer.event(kind: 0, content: "new", createdAt: 1_699_999_500)
        XCTAssertEqual(process(new, routing.route(new)), .saved)
        let obsolete = process(old, routing.route(old))
        XCTAssertEqual(obsolete.okAnswer.accepted, false)
        XCTAssertEqual(obsolete.okAnswer.message, "duplicate: a newer version of this event is already stored")
        let refused = process(old, .refuse(.invalid("nope")))
        XCTAssertEqual(refused.okAnswer.message, "invalid: nope")
    }
}

/// An origin that hands each outcome to a closure and checks it is called exactly once.
final class RecordingOrigin: EventOrigin {
    let body: @Sendable (Outcome) -> Void
    let calls = NIOLockedValueBox(0)

    init(_ body: @escaping @Sendable (Outcome) -> Void) {
        self.body = body
    }

    func processed(_ id: Bytes32, _ outcome: Outcome) {
        let n = calls.withLockedValue {
            $0 += 1
            return $0
        }
        precondition(n == 1, "an origin was told an outcome twice")
        body(outcome)
    }
}
