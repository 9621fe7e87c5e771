import Logging
import NostrCore

/// Consumes the writer's commits: the relay's matcher (which fans saved events out and then
/// tells each requester), or `ReportingSink` (which only tells them).
public protocol CommitSink: AnyObject, Sendable {
    /// Called on the writer's thread after each commit, in commit order. `batch` is the writer's
    /// own buffer, valid during the call only: copy what is kept.
    func committed(_ batch: [Committed])
}

/// Tells each write's requester its outcome, on the writer's thread.
public final class ReportingSink: CommitSink {
    public init() {}
    public func committed(_ batch: [Committed]) {
        for c in batch { c.requester?.written(c) }
    }
}

/// The one thread that writes to the store. It drains its bounded inbox into one `commit` of
/// the backend (group commit), and only then hands the batch to its sink, so an outcome of
/// `.saved` means durably stored. Between batches it sweeps expired events. It only commits:
/// what follows a commit (fan-out, answers) is the sink's.
public final class EventWriter: @unchecked Sendable {
    struct Job {
        let write: Write
        let requester: (any WriteRequester)?
    }

    public let capacity: Int
    public let maxBatch: Int
    private let storage: any EventStorage
    private let sink: any CommitSink
    private let clock: UnixClock
    private let sweepInterval: Int64
    private let logger: Logger
    private let inbox: BatchInbox<Job>
    private let thread = LoopThread()

    public init(
        storage: any EventStorage, sink: any CommitSink = ReportingSink(), capacity: Int = 4096,
        maxBatch: Int = 1024, sweepInterval: Int64 = 60, clock: @escaping UnixClock, logger: Logger
    ) {
        self.storage = storage
        self.sink = sink
        self.capacity = capacity
        self.maxBatch = maxBatch
        self.sweepInterval = sweepInterval
        self.clock = clock
        self.logger = logger
        inbox = BatchInbox(capacity: capacity)
    }

    public func start() {
        thread.start { [self] in run() }
    }

    /// Queues a write; `requester` is told its outcome after the commit. Returns false, without
    /// queueing, when the inbox is full or closed. Allocates nothing while the inbox has room.
    public func submit(_ write: Write, requester: (any WriteRequester)?) -> Bool {
        inbox.push(Job(write: write, requester: requester))
    }

    /// Queues a write and calls `completion` with its outcome after the commit (one allocation
    /// per write for the closure: tests and tools).
    public func submit(_ write: Write, completion: @escaping @Sendable (WriteOutcome) -> Void) -> Bool {
        submit(write, requester: CompletionRequester(completion))
    }

    public var queued: Int { inbox.count }

    /// Refuses new work, commits everything queued, and waits for the thread to finish.
    public func shutdown() {
        inbox.stop()
        thread.join(orRunHere: run)  // never started: commit and report what is queued, here
    }

    private func run() {
        var lastSweep = clock()
        // Buffers reused for every batch, so committing allocates nothing per batch.
        var batch: [Job] = []
        batch.reserveCapacity(capacity)
        var writes: [Write] = []
        writes.reserveCapacity(maxBatch)
        var outcomes: [WriteOutcome] = []
        outcomes.reserveCapacity(maxBatch)
        var sequences: [UInt64] = []
        sequences.reserveCapacity(maxBatch)
        var committed: [Committed] = []
        committed.reserveCapacity(maxBatch)
        while inbox.take(into: &batch, max: maxBatch, timeoutSeconds: 1) {
            if !batch.isEmpty {
                for job in batch { writes.append(job.write) }
                storage.commit(writes, outcomes: &outcomes, sequences: &sequences)
                for i in batch.indices {
                    committed.append(
                        Committed(
                            write: batch[i].write, outcome: outcomes[i], sequence: sequences[i],
                            requester: batch[i].requester))
                }
                sink.committed(committed)
                batch.removeAll(keepingCapacity: true)
                writes.removeAll(keepingCapacity: true)
                outcomes.removeAll(keepingCapacity: true)
                sequences.removeAll(keepingCapacity: true)
                committed.removeAll(keepingCapacity: true)
            }
            let now = clock()
            if now - lastSweep >= sweepInterval {
                lastSweep = now
                sweep(now: now)
            }
        }
    }

    /// Removes expired events (NIP-40) in bounded steps.
    public func sweep(now: Int64) {
        do {
            while true {
                let removed = try storage.sweepExpired(now: now, max: 1000)
                if removed > 0 { logger.debug("expired events removed", metadata: ["count": "\(removed)"]) }
                if removed < 1000 { break }
            }
        } catch {
            logger.warning("expiration sweep failed", metadata: ["error": "\(error)"])
        }
    }
}
