import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// A bounded queue between threads that a consumer drains in batches: the writer's inbox of
/// writes, and the matcher's inbox of commits. Producers never allocate while it has room (its
/// storage is reserved once, and the consumer swaps buffers with it).
public final class BatchInbox<Item>: @unchecked Sendable {
    /// The condition's value is whether the consumer has something to do (items, or stopping).
    private let condition = ConditionLock<Bool>(value: false)
    private var items: [Item] = []
    private var stopping = false
    public let capacity: Int
    /// How many times a consumer began to wait for more items to gather (tests watch it).
    private var gatherWaits = 0

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

    /// How many times a consumer has begun to let items gather (`Gather`).
    public var gatherings: Int {
        condition.lock()
        defer { condition.unlock() }
        return gatherWaits
    }

    public var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count
    }

    /// Waits (up to `timeoutSeconds`) for items and moves up to `max` of them into `batch`, which
    /// must be empty. Returns false once the inbox is stopped and drained.
    public func take(into batch: inout [Item], max: Int, timeoutSeconds: Double, gather: Gather? = nil) -> Bool {
        if !condition.lock(whenValue: true, timeoutSeconds: timeoutSeconds) { return true }
        if let gather, items.count >= 2, items.count < min(max, gather.count), !stopping {
            self.gather(gather, max: max)
        }
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

    /// How long a consumer that found several items waiting lets more gather before it takes
    /// them, and for how many: several items at once mean that producers are busy, so a short
    /// wait makes one batch of what would have been several (the writer: one log append and
    /// one fdatasync instead of several). A single item, as from one client publishing one event
    /// at a time, is taken at once.
    public struct Gather: Sendable {
        public var count: Int
        public var seconds: Double

        public init(count: Int, seconds: Double) {
            self.count = count
            self.seconds = seconds
        }
    }

    /// With the lock held: waits until `gather.count` items (at most `max`) are queued, the inbox
    /// stops, or `gather.seconds` pass; returns with the lock held.
    private func gather(_ gather: Gather, max: Int) {
        let target = min(max, gather.count)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let deadline = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 + gather.seconds
        gatherWaits += 1
        while items.count < target && !stopping {
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = deadline - (Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
            guard left > 0 else { return }
            // The value says "something new to see": false until the next push.
            condition.unlock(withValue: false)
            if !condition.lock(whenValue: true, timeoutSeconds: left) {
                condition.lock()
                return
            }
        }
    }

    /// Refuses new single items; the consumer drains what is queued, then `take` returns false.
    public func stop() {
        condition.lock()
        stopping = true
        condition.unlock(withValue: true)
    }
}
