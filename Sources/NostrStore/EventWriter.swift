import Logging
import NostrCore

/// The one thread that writes to the store. It drains its bounded inbox into a single LMDB
/// transaction (group commit), commits, and only then reports each event's outcome, so an
/// outcome of `.saved` means durably on disk. Between batches it sweeps expired events.
public final class EventWriter: @unchecked Sendable {
    public typealias Completion = @Sendable (WriteOutcome) -> Void

    struct Job {
        let event: Event
        let json: [UInt8]
        let requester: any WriteRequester
    }

    public let capacity: Int
    public let maxBatch: Int
    private let store: EventStore
    private let clock: UnixClock
    private let sweepInterval: Int64
    private let logger: Logger
    private let lock = ConditionLock()
    private var inbox: [Job] = []
    private var stopping = false
    private var finished = false
    private var started = false
    /// Key-building buffer, used by the writer thread only.
    private var scratch: [UInt8] = []

    public init(
        store: EventStore, capacity: Int = 4096, maxBatch: Int = 1024, sweepInterval: Int64 = 60,
        clock: @escaping UnixClock, logger: Logger
    ) {
        self.store = store
        self.capacity = capacity
        self.maxBatch = maxBatch
        self.sweepInterval = sweepInterval
        self.clock = clock
        self.logger = logger
        inbox.reserveCapacity(capacity)
    }

    public func start() {
        lock.withLock { started = true }
        startThread(name: "tern-writer") { [self] in run() }
    }

    /// Queues an event; `requester` is told its outcome after the commit. Returns false, without
    /// queueing, when the inbox is full or closed. Allocates nothing while the inbox has room.
    public func submit(_ event: Event, json: [UInt8], requester: any WriteRequester) -> Bool {
        let accepted = lock.withLock { () -> Bool in
            guard !stopping, inbox.count < capacity else { return false }
            inbox.append(Job(event: event, json: json, requester: requester))
            return true
        }
        if accepted { lock.signal() }
        return accepted
    }

    /// Queues an event and calls `completion` with its outcome after the commit (one allocation
    /// per event for the closure; the relay's sessions use `submit(_:json:requester:)`).
    public func submit(_ event: Event, json: [UInt8], completion: @escaping Completion) -> Bool {
        submit(event, json: json, requester: CompletionRequester(completion))
    }

    public var queued: Int { lock.withLock { inbox.count } }

    /// Refuses new work, commits everything queued, and waits for the thread to finish.
    public func shutdown() {
        lock.withLock {
            stopping = true
            if !started { finished = true }
        }
        lock.signal()
        lock.withLock {
            while !finished { lock.wait(seconds: 1) }
        }
    }

    private func run() {
        var lastSweep = clock()
        // Two buffers that trade places: the inbox fills one while the writer commits the other,
        // so no batch allocates (a fresh 4096-job buffer per batch was an 800 KB allocation).
        var batch: [Job] = []
        batch.reserveCapacity(capacity)
        var outcomes: [WriteOutcome] = []
        outcomes.reserveCapacity(maxBatch)
        while true {
            let exit = lock.withLock { () -> Bool in
                if inbox.isEmpty && !stopping { lock.wait(seconds: 1) }
                if inbox.count <= maxBatch {
                    swap(&batch, &inbox)
                } else {
                    batch.append(contentsOf: inbox[..<maxBatch])
                    inbox.removeFirst(maxBatch)
                }
                return batch.isEmpty && stopping
            }
            if exit { break }
            if !batch.isEmpty { commit(batch, outcomes: &outcomes) }
            batch.removeAll(keepingCapacity: true)
            outcomes.removeAll(keepingCapacity: true)
            let now = clock()
            if now - lastSweep >= sweepInterval {
                lastSweep = now
                sweep(now: now)
            }
        }
        lock.withLock { finished = true }
        lock.signal()
    }

    /// One transaction for the whole batch; if it fails, each job is retried alone so that one
    /// bad write cannot fail the others.
    private func commit(_ batch: [Job], outcomes: inout [WriteOutcome]) {
        let firstSerial = store.nextSerial
        do {
            try store.env.write { txn in
                for job in batch {
                    outcomes.append(try store.insert(txn, job.event, json: job.json, scratch: &scratch))
                }
            }
        } catch {
            logger.warning("batch commit failed; retrying one by one", metadata: ["error": "\(error)"])
            store.nextSerial = firstSerial  // nothing of the batch was committed
            outcomes.removeAll(keepingCapacity: true)
            for job in batch { outcomes.append(commitAlone(job)) }
        }
        for i in batch.indices {
            let job = batch[i]
            job.requester.written(job.event, json: job.json, outcome: outcomes[i])
        }
    }

    private func commitAlone(_ job: Job) -> WriteOutcome {
        let firstSerial = store.nextSerial
        do {
            return try store.env.write { txn in try store.insert(txn, job.event, json: job.json, scratch: &scratch) }
        } catch let error as LMDBError {
            store.nextSerial = firstSerial
            return .failed(error.isOutOfSpace ? "storage is full" : "storage error: \(error)")
        } catch {
            store.nextSerial = firstSerial
            return .failed("storage error: \(error)")
        }
    }

    /// Removes expired events (NIP-40) in bounded steps.
    public func sweep(now: Int64) {
        do {
            while true {
                let removed = try store.env.write { txn in try store.sweepExpired(txn, now: now, max: 1000) }
                if removed > 0 { logger.debug("expired events removed", metadata: ["count": "\(removed)"]) }
                if removed < 1000 { break }
            }
        } catch {
            logger.warning("expiration sweep failed", metadata: ["error": "\(error)"])
        }
    }
}
