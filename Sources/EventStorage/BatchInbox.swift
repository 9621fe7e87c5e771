import NIOConcurrencyHelpers

/// A bounded queue between threads that a consumer drains in batches: the writer's inbox of
/// writes, and the matcher's inbox of commits. Producers never allocate while it has room (its
/// storage is reserved once, and the consumer swaps buffers with it).
public final class BatchInbox<Item>: @unchecked Sendable {
    /// The condition's value is whether the consumer has something to do (items, or stopping).
    private let condition = ConditionLock<Bool>(value: false)
    private var items: [Item] = []
    private var stopping = false
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
        items.reserveCapacity(capacity)
    }

    /// Queues `item`; false, without queueing, when full or stopped.
    public func push(_ item: Item) -> Bool {
        condition.lock()
        guard !stopping, items.count < capacity else {
            condition.unlock()
            return false
        }
        items.append(item)
        condition.unlock(withValue: true)
        return true
    }

    /// Queues all of `batch`, waiting while the inbox is over its capacity (back-pressure on the
    /// producer, which must not drop them). After `stop`, it queues them anyway: the consumer
    /// drains everything before it ends.
    public func pushAll<S: Sequence>(_ batch: S) where S.Element == Item {
        while true {
            condition.lock()
            if items.count < capacity || stopping {
                items.append(contentsOf: batch)
                condition.unlock(withValue: true)
                return
            }
            condition.unlock()
            // Wait for the consumer to take a batch (it sets the value to false when it does).
            if condition.lock(whenValue: false, timeoutSeconds: 0.1) { condition.unlock() }
        }
    }

    public var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count
    }

    /// Waits (up to `timeoutSeconds`) for items and moves up to `max` of them into `batch`, which
    /// must be empty. Returns false once the inbox is stopped and drained.
    public func take(into batch: inout [Item], max: Int, timeoutSeconds: Double) -> Bool {
        if !condition.lock(whenValue: true, timeoutSeconds: timeoutSeconds) { return true }
        if items.count <= max {
            swap(&batch, &items)
        } else {
            batch.append(contentsOf: items[..<max])
            items.removeFirst(max)
        }
        let done = batch.isEmpty && stopping
        condition.unlock(withValue: !items.isEmpty || stopping)
        return !done
    }

    /// Refuses new single items; the consumer drains what is queued, then `take` returns false.
    public func stop() {
        condition.lock()
        stopping = true
        condition.unlock(withValue: true)
    }
}
