import Foundation
import NIOConcurrencyHelpers
import RelayCore
import XCTest

/// A task that needs `slices` turns; its first slice may wait for a gate. It logs each slice.
final class FakeReadTask: ReadTask, @unchecked Sendable {
    let connection: UInt64
    let name: String
    let log: NIOLockedValueBox<[String]>
    let gate: DispatchSemaphore?
    /// Signalled when the first slice begins (before the gate).
    let running = DispatchSemaphore(value: 0)
    let done: XCTestExpectation
    private var left: Int
    private(set) var isStarted = false

    init(
        _ name: String, connection: UInt64, slices: Int, log: NIOLockedValueBox<[String]>, done: XCTestExpectation,
        gate: DispatchSemaphore? = nil
    ) {
        self.name = name
        self.connection = connection
        self.left = slices
        self.log = log
        self.done = done
        self.gate = gate
    }

    func abandon() { log.withLockedValue { $0.append("\(name) abandoned") } }

    func runSlice(nanoseconds: UInt64) -> Bool {
        if !isStarted {
            running.signal()
            gate?.wait()
        }
        isStarted = true
        left -= 1
        log.withLockedValue { $0.append(left == 0 ? "\(name) done" : "\(name) slice") }
        if left == 0 { done.fulfill() }
        return left == 0
    }
}

final class ReaderPoolTests: XCTestCase {
    func testConnectionsTakeTurnsOneSliceEach() {
        let pool = ReaderPool(threads: 1, queueDepth: 100)
        let log = NIOLockedValueBox<[String]>([])
        let done = expectation(description: "all done")
        done.expectedFulfillmentCount = 5
        let gate = DispatchSemaphore(value: 0)
        // Connection 1 queues four heavy tasks; the first holds the only reader until connection
        // 2's single small task is queued behind them.
        XCTAssertTrue(pool.submit(FakeReadTask("A0", connection: 1, slices: 3, log: log, done: done, gate: gate)))
        for i in 1..<4 {
            XCTAssertTrue(pool.submit(FakeReadTask("A\(i)", connection: 1, slices: 3, log: log, done: done)))
        }
        XCTAssertTrue(pool.submit(FakeReadTask("B", connection: 2, slices: 1, log: log, done: done)))
        gate.signal()
        wait(for: [done], timeout: 30)
        let order = log.withLockedValue { $0 }
        XCTAssertEqual(
            Array(order.prefix(3)), ["A0 slice", "B done", "A0 slice"], "B waited one slice, not four tasks")
        XCTAssertEqual(order.filter { $0.hasSuffix("done") }, ["B done", "A0 done", "A1 done", "A2 done", "A3 done"])
        pool.shutdown()  // waits for the reader to put its last task away
        XCTAssertEqual(pool.pending, 0)
    }

    func testShutdownAbandonsWhatIsQueued() {
        let pool = ReaderPool(threads: 1, queueDepth: 10)
        let log = NIOLockedValueBox<[String]>([])
        let gate = DispatchSemaphore(value: 0)
        let first = expectation(description: "first")
        let a = FakeReadTask("a", connection: 1, slices: 1, log: log, done: first, gate: gate)
        XCTAssertTrue(pool.submit(a))
        a.running.wait()
        XCTAssertTrue(
            pool.submit(
                FakeReadTask("b", connection: 2, slices: 1, log: log, done: XCTestExpectation(description: "no"))))
        pool.stopTaking()
        gate.signal()  // "a" finishes its slice; nothing more runs
        pool.shutdown()
        wait(for: [first], timeout: 30)
        XCTAssertEqual(log.withLockedValue { $0 }, ["a done", "b abandoned"])
        XCTAssertFalse(
            pool.submit(
                FakeReadTask("c", connection: 3, slices: 1, log: log, done: XCTestExpectation(description: "no"))))
    }

    func testAFullQueueRefuses() {
        let pool = ReaderPool(threads: 1, queueDepth: 2)
        defer { pool.shutdown() }
        let log = NIOLockedValueBox<[String]>([])
        let done = expectation(description: "done")
        done.expectedFulfillmentCount = 2
        let gate = DispatchSemaphore(value: 0)
        XCTAssertTrue(pool.submit(FakeReadTask("a", connection: 1, slices: 1, log: log, done: done, gate: gate)))
        XCTAssertTrue(pool.submit(FakeReadTask("b", connection: 2, slices: 1, log: log, done: done)))
        XCTAssertFalse(
            pool.submit(
                FakeReadTask("c", connection: 3, slices: 1, log: log, done: XCTestExpectation(description: "never"))),
            "queued or running tasks are at the depth")
        gate.signal()
        wait(for: [done], timeout: 30)
    }
}
