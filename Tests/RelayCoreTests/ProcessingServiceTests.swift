import Foundation
import Logging
import NIOConcurrencyHelpers
import NostrCore
import NostrStore
import RelayCore
import XCTest

final class ProcessingServiceTests: XCTestCase {
    var path = ""
    var store: EventStore!
    var writer: EventWriter!
    var processing: ProcessingService!
    let index = SubscriptionIndex()
    let signer = Signer(seed: 51)

    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-proc-\(UUID().uuidString)").path
        store = try EventStore(path: path, logger: Logger(label: "test"))
        writer = EventWriter(store: store, clock: { 1_700_000_000 }, logger: Logger(label: "test"))
        writer.start()
        processing = ProcessingService(writer: writer, subscriptions: index)
    }

    override func tearDown() {
        writer.shutdown()
        store.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    func process(_ event: Event, _ route: Route) -> Outcome {
        let valid = try! ValidationService(limits: Limits()).validate(event, now: 1_700_000_000).get()
        let box = NIOLockedValueBox<Outcome?>(nil)
        let done = expectation(description: "outcome")
        processing.process(
            valid, route: route,
            origin: RecordingOrigin(processing) { outcome in
                box.withLockedValue { $0 = outcome }
                done.fulfill()
            })
        wait(for: [done], timeout: 10)
        return box.withLockedValue { $0! }
    }

    func testFullWriterQueueIsRefusedWithRateLimitedThenDrains() throws {
        // A writer with room for two that has not started: the third event finds it full.
        let small = EventWriter(store: store, capacity: 2, clock: { 1_700_000_000 }, logger: Logger(label: "test"))
        let processing = ProcessingService(writer: small, subscriptions: index)
        let outcomes = NIOLockedValueBox<[Int: Outcome]>([:])
        let queued = expectation(description: "queued events are saved")
        queued.expectedFulfillmentCount = 2
        let refused = expectation(description: "the third is refused")
        for i in 0..<3 {
            let event = signer.event(kind: 1, content: "queued \(i)", createdAt: 1_700_000_000)
            let valid = try ValidationService(limits: Limits()).validate(event, now: 1_700_000_000).get()
            processing.process(
                valid, route: .regular,
                origin: RecordingOrigin(processing) { outcome in
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

    func testSavedEventsAreStoredThenDelivered() throws {
        let sub = RecordingSubscriber()
        index.add(connection: 1, subscriptionID: "live", filters: [Filter(kinds: [1])], subscriber: sub)
        let event = signer.event(kind: 1, content: "x", createdAt: 1_700_000_000)
        XCTAssertEqual(process(event, .regular), .saved)
        XCTAssertNotNil(try store.event(id: event.id), "stored before the outcome is reported")
        XCTAssertEqual(sub.received.withLockedValue { $0.map(\.1) }, [["live"]])
        XCTAssertEqual(process(event, .regular), .duplicate)
        XCTAssertEqual(sub.received.withLockedValue { $0.count }, 1, "a duplicate is not delivered again")
        XCTAssertEqual(Outcome.duplicate.okAnswer.accepted, true)
        XCTAssertEqual(Outcome.duplicate.okAnswer.message, "duplicate: already have this event")
    }

    func testEphemeralEventsAreDeliveredNotStored() throws {
        let sub = RecordingSubscriber()
        index.add(connection: 1, subscriptionID: "eph", filters: [Filter(kinds: [20001])], subscriber: sub)
        let event = signer.event(kind: 20001, content: "x", createdAt: 1_700_000_000)
        XCTAssertEqual(process(event, .ephemeral), .broadcast)
        XCTAssertNil(try store.event(id: event.id))
        XCTAssertEqual(sub.received.withLockedValue { $0.count }, 1)
    }

    func testOutcomesMapToNIP01Answers() {
        let old = signer.event(kind: 0, content: "old", createdAt: 1_699_999_000)
        let new = signer.event(kind: 0, content: "new", createdAt: 1_699_999_500)
        XCTAssertEqual(process(new, .replaceable), .saved)
        let obsolete = process(old, .replaceable)
        XCTAssertEqual(obsolete.okAnswer.accepted, false)
        XCTAssertEqual(obsolete.okAnswer.message, "duplicate: a newer version of this event is already stored")
        let refused = process(old, .refuse(.invalid("nope")))
        XCTAssertEqual(refused.okAnswer.message, "invalid: nope")
    }
}

/// An origin that hands each outcome to a closure and counts the calls (exactly one is allowed).
final class RecordingOrigin: EventOrigin {
    let processing: ProcessingService
    let body: @Sendable (Outcome) -> Void
    let calls = NIOLockedValueBox(0)

    init(_ processing: ProcessingService, _ body: @escaping @Sendable (Outcome) -> Void) {
        self.processing = processing
        self.body = body
    }

    func written(_ event: Event, json: [UInt8], outcome: WriteOutcome) {
        finishWrite(event, json: json, outcome, processing: processing)
    }

    func processed(_ id: Bytes32, _ outcome: Outcome) {
        let n = calls.withLockedValue {
            $0 += 1; return $0
        }
        precondition(n == 1, "an origin was told an outcome twice")
        body(outcome)
    }
}
