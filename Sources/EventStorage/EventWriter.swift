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
        let write: Write?
        let requester: (any WriteRequester)?
        /// Work to run on the writer's thread, in queue order (`perform`).
        let task: (@Sendable (any EventStorage) -> Void)?

        init(write: Write, requester: (any WriteRequester)?) {
            self.write = write
            self.requester = requester
            task = nil
        }

        init(task: @escaping @Sendable (any EventStorage) -> Void) {
            write = nil
            requester = nil
            self.task = task
        }
    }

    public let capacity: Int
    public let maxBatch: Int
    /// When the writer finds several writes waiting, it lets more gather for up to
    /// `gatherSeconds` (or until `gatherCount` wait) before it commits them: busy clients then
    /// share one commit (one log append and fdatasync) instead of each few paying for one. nil
    /// (`gatherSeconds` 0): commit at once. One client publishing one event at a time is never
    /// held (`BatchInbox.Gather`).
    private let gather: BatchInbox<Job>.Gather?
    private let storage: any EventStorage
    private let sink: any CommitSink
    private let clock: UnixClock
    private let sweepInterval: Int64
    private let logger: Logger
    private let inbox: BatchInbox<Job>
    private let thread = LoopThread()
    /// Told each transaction's size and how long its commit took, in nanoseconds (metrics).
    private let observer: (@Sendable (_ events: Int, _ nanoseconds: UInt64) -> Void)?

    public init(
        storage: any EventStorage, sink: any CommitSink = ReportingSink(), capacity: Int = 4096,
        maxBatch: Int = 1024, gatherSeconds: Double = 0, gatherCount: Int = 64, sweepInterval: Int64 = 60,
        clock: @escaping UnixClock, logger: Logger,
        observer: (@Sendable (_ events: Int, _ nanoseconds: UInt64) -> Void)? = nil
    ) {
        self.observer = observer
        self.storage = storage
        self.sink = sink
        self.capacity = capacity
        self.maxBatch = maxBatch
        gather = gatherSeconds > 0 ? .init(count: gatherCount, seconds: gatherSeconds) : nil
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

    /// Runs `body` on the writer's thread with the store, after the writes queued before it
    /// are committed: maintenance that must not race the commits (an operator's ban, a setting).
    /// False when the inbox is full or closed.
    public func perform(_ body: @escaping @Sendable (any EventStorage) -> Void) -> Bool {
        inbox.push(Job(task: body))
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
        while inbox.take(into: &batch, max: maxBatch, timeoutSeconds: 1, gather: gather) {
            var start = 0
            while start < batch.count {
                // The writes up to the next task commit together; then the task runs.
                var end = start
                while end < batch.count, let write = batch[end].write {
                    writes.append(write)
                    end += 1
                }
                if !writes.isEmpty {
                    let started = observer == nil ? 0 : Self.monotonicNanoseconds()
                    storage.commit(writes, outcomes: &outcomes, sequences: &sequences)
                    observer?(writes.count, Self.monotonicNanoseconds() &- started)
                    for i in start..<end {
                        committed.append(
                            Committed(
                                write: writes[i - start], outcome: outcomes[i - start], sequence: sequences[i - start],
                                requester: batch[i].requester))
                    }
                    sink.committed(committed)
                    writes.removeAll(keepingCapacity: true)
                    outcomes.removeAll(keepingCapacity: true)
                    sequences.removeAll(keepingCapacity: true)
                    committed.removeAll(keepingCapacity: true)
                }
                if end < batch.count, let task = batch[end].task {
                    task(storage)
                    end += 1
                }
                start = end
            }
            batch.removeAll(keepingCapacity: true)
            storage.maintain()
            let now = clock()
            if now - lastSweep >= sweepInterval {
                lastSweep = now
                sweep(now: now)
            }
        }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// Removes expired events (NIP-40) in bounded steps. Writer thread only (like every store
    /// write; others go through `perform`).
    private func sweep(now: Int64) {
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

#if canImport(Glibc)
    import Glibc
#endif
