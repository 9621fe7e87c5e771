import NIOConcurrencyHelpers
import NIOPosix

/// One connection's piece of read work (a REQ's initial query), run in slices.
public protocol ReadTask: AnyObject, Sendable {
    /// The connection it serves: connections take turns.
    var connection: UInt64 { get }
    /// Whether it has begun (holds a snapshot between slices).
    var isStarted: Bool { get }
    /// Runs for about `nanoseconds`; true when finished (or cancelled). Reader thread only.
    func runSlice(nanoseconds: UInt64) -> Bool
    /// The pool is shutting down and will not run it again: free what it holds (a snapshot).
    func abandon()
}

/// The relay's readers: a bounded pool of threads (NIO's thread pool) that run REQs' initial
/// queries, never on an event loop. Scheduling is fair between connections: each connection
/// has a queue, connections take turns, and a task runs one time slice per turn before going
/// back behind the others (as strfry's query scheduler does). A task not begun yet takes the
/// next turn, so one connection's heavy REQs delay another's small one by about one slice. A
/// connection may have up to `perConnection` tasks running at once (its answers are still sent
/// in the order of its REQs, by its session).
public final class ReaderPool: @unchecked Sendable {
    public let threads: Int
    /// Tasks queued or running, in all; past it, `submit` refuses.
    public let queueDepth: Int
    /// Tasks begun but not finished (each keeps a read snapshot between its slices).
    public let maxStarted: Int
    /// Tasks of one connection running at once.
    public let perConnection: Int
    public let sliceNanoseconds: UInt64
    private let pool: NIOThreadPool

    private struct State {
        /// Tasks waiting for a reader, per connection, in order.
        var queues: [UInt64: [any ReadTask]] = [:]
        /// Tasks running, per connection.
        var running: [UInt64: Int] = [:]
        /// Connections with a task waiting and fewer than `perConnection` running, in turn order.
        var turns: [UInt64] = []
        var total = 0
        var started = 0
        var workers = 0
        var stopped = false

        /// Puts `c` at the back of the turns if it may run one more task and is not there yet.
        mutating func offerTurn(_ c: UInt64, perConnection: Int) {
            guard queues[c]?.isEmpty == false, running[c, default: 0] < perConnection, !turns.contains(c) else {
                return
            }
            turns.append(c)
        }
    }
    private let state = NIOLockedValueBox(State())

    public init(
        threads: Int, queueDepth: Int, maxStarted: Int = 128, perConnection: Int? = nil, sliceMilliseconds: Int = 2
    ) {
        self.threads = max(1, threads)
        self.queueDepth = max(1, queueDepth)
        self.maxStarted = max(1, maxStarted)
        self.perConnection = max(1, perConnection ?? self.threads)
        self.sliceNanoseconds = UInt64(max(1, sliceMilliseconds)) * 1_000_000
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
    }

    /// Queues `task` behind its connection's earlier ones; false when the pool is full or stopped.
    public func submit(_ task: any ReadTask) -> Bool {
        let startWorker = state.withLockedValue { s -> Bool? in
            guard !s.stopped, s.total < queueDepth else { return nil }
            s.total += 1
            s.queues[task.connection, default: []].append(task)
            s.offerTurn(task.connection, perConnection: perConnection)
            guard s.workers < threads else { return false }
            s.workers += 1
            return true
        }
        guard let startWorker else { return false }
        if startWorker { pool.submit { [self] _ in work() } }
        return true
    }

    /// Tasks queued or running.
    public var pending: Int { state.withLockedValue { $0.total } }

    /// A worker: takes turns until no connection has work, then ends (a new submit starts one).
    private func work() {
        var next = take(finished: nil)
        while let task = next {
            let done = task.runSlice(nanoseconds: sliceNanoseconds)
            next = take(finished: (task, done))
        }
    }

    /// Puts the task that ran back (at the head of its connection's queue unless it finished,
    /// its connection at the back of the turns) and takes the next turn's task; nil ends the
    /// worker.
    private func take(finished: (task: any ReadTask, done: Bool)?) -> (any ReadTask)? {
        state.withLockedValue { s -> (any ReadTask)? in
            if let (task, done) = finished {
                let c = task.connection
                s.running[c, default: 1] -= 1
                if s.running[c] == 0 { s.running[c] = nil }
                if done {
                    s.total -= 1
                    s.started -= 1
                } else {
                    s.queues[c, default: []].insert(task, at: 0)
                }
                if s.queues[c]?.isEmpty == true { s.queues[c] = nil }
                s.offerTurn(c, perConnection: perConnection)
            }
            if s.stopped {
                s.workers -= 1
                return nil
            }
            // A task not begun yet goes first (a new REQ waits for no heavy one's next slice),
            // then the first connection in turn order. One not begun waits while `maxStarted`
            // tasks hold snapshots (there is then a begun one in the turns, or running).
            let fresh = s.started < maxStarted
            var pick: Int? = nil
            for (i, c) in s.turns.enumerated() {
                guard let task = s.queues[c]?.first else { continue }
                if !task.isStarted && fresh {
                    pick = i
                    break
                }
                if pick == nil && task.isStarted { pick = i }
            }
            guard let i = pick else {
                s.workers -= 1
                return nil
            }
            let c = s.turns.remove(at: i)
            let task = s.queues[c]!.removeFirst()
            if s.queues[c]!.isEmpty { s.queues[c] = nil }
            s.running[c, default: 0] += 1
            if !task.isStarted { s.started += 1 }
            s.offerTurn(c, perConnection: perConnection)
            return task
        }
    }

    /// Refuses new tasks; the readers finish the slices they are in and take no more.
    public func stopTaking() {
        state.withLockedValue { $0.stopped = true }
    }

    /// Stops taking tasks, waits for the threads to finish their slices, and abandons what is
    /// still queued (so no snapshot outlives the store). Call before closing the store.
    public func shutdown() {
        stopTaking()
        try? pool.syncShutdownGracefully()
        let left = state.withLockedValue { s in
            defer {
                s.queues = [:]
                s.turns = []
                s.total = 0
            }
            return s.queues.values.flatMap { $0 }
        }
        for task in left { task.abandon() }
    }
}
