import EventStorage
import Foundation
import XCTest

/// The writer's inbox lets writes gather into one commit only when several are waiting: one
/// client publishing one event at a time is never held.
final class BatchInboxTests: XCTestCase {
    /// Takes from `inbox` on another thread; the expectation is fulfilled with what it took.
    private func takeElsewhere(
        _ inbox: BatchInbox<Int>, gather: BatchInbox<Int>.Gather, into result: TakenBatch
    ) -> XCTestExpectation {
        let taken = expectation(description: "take returned")
        Thread.detachNewThread {
            var batch: [Int] = []
            _ = inbox.take(into: &batch, max: 1024, timeoutSeconds: 60, gather: gather)
            result.set(batch)
            taken.fulfill()
        }
        return taken
    }

    /// Waits (at most 30 s, then fails) until the consumer has begun to let items gather.
    private func awaitGathering(_ inbox: BatchInbox<Int>, count: Int = 1) {
        let deadline = Date().addingTimeInterval(30)
        while inbox.gatherings < count {
            guard Date() < deadline else { return XCTFail("the consumer never began to gather") }
            sched_yield()
        }
    }

    func testOneWaitingItemIsTakenAtOnce() {
        let inbox = BatchInbox<Int>(capacity: 64)
        XCTAssertTrue(inbox.push(1))
        let result = TakenBatch()
        // An hour to gather: only a take that does not wait returns within the timeout.
        wait(for: [takeElsewhere(inbox, gather: .init(count: 10, seconds: 3600), into: result)], timeout: 30)
        XCTAssertEqual(result.get(), [1])
        XCTAssertEqual(inbox.gatherings, 0)
    }

    /// An inbox with two items waiting, a consumer gathering for up to an hour on another
    /// thread (already waiting), what it takes, and the expectation of its return.
    private func gatheringConsumer() -> (BatchInbox<Int>, TakenBatch, XCTestExpectation) {
        let inbox = BatchInbox<Int>(capacity: 64)
        XCTAssertTrue(inbox.push(1))
        XCTAssertTrue(inbox.push(2))
        let result = TakenBatch()
        let taken = takeElsewhere(inbox, gather: .init(count: 10, seconds: 3600), into: result)
        awaitGathering(inbox)
        return (inbox, result, taken)
    }

    func testSeveralWaitingItemsGatherUntilTheCount() {
        let (inbox, result, taken) = gatheringConsumer()
        for i in 3...12 { XCTAssertTrue(inbox.push(i)) }
        wait(for: [taken], timeout: 30)
        let batch = result.get()
        // The take ends once ten wait; pushes racing with its wake-up may add a few more.
        XCTAssertGreaterThanOrEqual(batch.count, 10)
        XCTAssertEqual(batch, Array(1...batch.count))
        XCTAssertEqual(inbox.count, 12 - batch.count)
    }

    func testGatheringEndsAtItsDeadline() {
        let inbox = BatchInbox<Int>(capacity: 64)
        XCTAssertTrue(inbox.push(1))
        XCTAssertTrue(inbox.push(2))
        let result = TakenBatch()
        wait(for: [takeElsewhere(inbox, gather: .init(count: 10, seconds: 0.01), into: result)], timeout: 30)
        XCTAssertEqual(result.get(), [1, 2])
        XCTAssertEqual(inbox.gatherings, 1)
    }

    func testStoppingEndsTheGatheringWithWhatWaits() {
        let (inbox, result, taken) = gatheringConsumer()
        inbox.stop()
        wait(for: [taken], timeout: 30)
        XCTAssertEqual(result.get(), [1, 2])
    }

    func testAGatheredBatchNeverPassesTheMaximum() {
        let inbox = BatchInbox<Int>(capacity: 64)
        for i in 1...5 { XCTAssertTrue(inbox.push(i)) }
        var batch: [Int] = []
        // Five already wait, more than the maximum of three: nothing to gather for.
        XCTAssertTrue(inbox.take(into: &batch, max: 3, timeoutSeconds: 1, gather: .init(count: 64, seconds: 3600)))
        XCTAssertEqual(batch, [1, 2, 3])
        XCTAssertEqual(inbox.gatherings, 0)
    }
}

/// What the consumer thread took, handed to the test's thread.
final class TakenBatch: @unchecked Sendable {
    private let lock = NSLock()
    private var value: [Int] = []
    func set(_ v: [Int]) { lock.withLock { value = v } }
    func get() -> [Int] { lock.withLock { value } }
}
