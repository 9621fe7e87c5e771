import NIOConcurrencyHelpers
import NIOPosix

/// One connection's piece of read work (a REQ's initial query), run in slices.
public protocol ReadTask: AnyObject, Sendable {
    /// The connection it serves: the pool runs one task of a connection at a time, and takes
    /// connections in turn.
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
/// back behind the others (as strfry's query scheduler does); a task not begun yet takes the
/// next turn, so one connection's heavy REQs delay another's small one by about one slice.
public final class ReaderPool: @unchecked Sendable {
    public let threads: Int
    /// Tasks queued or running, in all; past it, `submit` refuses.
    public let queueDepth: Int
    /// Tasks begun but not finished (each keeps a read snapshot between its slices).
    public let maxStarted: Int
    public let sliceNanoseconds: UInt64
    private let pool: NIOThreadPool

    private struct State {
        var queues: [UInt64: [any ReadTask]] = [:]
        /// Connections with queued tasks and none running, in turn order.
        var turns: [UInt64] = []
        var total = 0
        var started = 0
        var workers = 0
        var stopped = false
    }
    private let state = NIOLockedValueBox(State())

    public init(threads: Int, queueDepth: Int, maxStarted: Int = 128, sliceMilliseconds: Int = 2) {
        self.threads = max(1, threads)
        self.queueDepth = max(1, queueDepth)
        self.maxStarted = max(1, maxStarted)
        self.sliceNanoseconds = UInt64(max(1, sliceMilliseconds)) * 1_000_000
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
    }

    /// Queues `task` behind its connection's earlier ones; false when the pool is full or stopped.
    public func submit(_ task: any ReadTask) -> Bool {
        let startWorker = state.withLockedValue { s -> Bool? in
            guard !s.stopped, s.total < queueDepth else { return nil }
            s.total += 1
            if s.queues[task.connection] == nil {
                s.queues[task.connection] = [task]
                s.turns.append(task.connection)
            } else {
                s.queues[task.connection]!.append(task)
            }
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
    /// A turn is one slice of time for one connection: a task that finishes early leaves the
    /// rest of the slice to that connection's next task, so a client's burst of small REQs is
    /// read together and its answers reach its connection in one hop and one flush.
    private func work() {
        var next = take(finished: nil)
        while var task = next {
            let deadline = QueryTask.monotonicNanoseconds() + sliceNanoseconds
            while true {
                let now = QueryTask.monotonicNanoseconds()
                let done = task.runSlice(nanoseconds: deadline > now ? deadline - now : 0)
                guard done, QueryTask.monotonicNanoseconds() < deadline, let same = sameConnection(after: task)
                else {
                    next = take(finished: (task, done))
                    break
                }
                task = same
            }
        }
    }

    /// Finishes `task` and, if its connection has another task queued, gives it the rest of the
    /// turn (the connection stays out of the turn order meanwhile).
    private func sameConnection(after task: any ReadTask) -> (any ReadTask)? {
        state.withLockedValue { s -> (any ReadTask)? in
            guard !s.stopped, let following = s.queues[task.connection]?.first else { return nil }
            s.total -= 1
            s.started -= 1
            s.queues[task.connection]!.removeFirst()
            if !following.isStarted { s.started += 1 }
            return following
        }
    }

    /// Puts the task that ran back (at the head of its connection's queue unless it finished,
    /// its connection at the back of the turns) and takes the next turn's task; nil ends the
    /// worker.
    private func take(finished: (task: any ReadTask, done: Bool)?) -> (any ReadTask)? {
        state.withLockedValue { s -> (any ReadTask)? in
            if let (task, done) = finished {
                let c = task.connection
                var queue = s.queues.removeValue(forKey: c) ?? []
                if done {
                    s.total -= 1
                    s.started -= 1
                } else {
                    queue.insert(task, at: 0)
                }
                if !queue.isEmpty {
                    s.queues[c] = queue
                    s.turns.append(c)
                }
            }
            if s.stopped {
                s.workers -= 1
                return nil
            }
            // A task not begun yet goes first (a new REQ waits for no heavy one's next slice),
            // then the first connection in turn order. One not begun waits while `maxStarted`
            // tasks hold snapshots (there is then a begun one in the turns).
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
            if let i = pick {
                let c = s.turns.remove(at: i)
                let task = s.queues[c]!.removeFirst()
                if !task.isStarted { s.started += 1 }
                return task
            }
            s.workers -= 1
            return nil
        }
    }

    /// Stops taking tasks, waits for the threads to finish their slices, and abandons what is
    /// still queued (so no snapshot outlives the store). Call before closing the store.
    public func shutdown() {
        let first = state.withLockedValue { s in
            defer { s.stopped = true }
            return !s.stopped
        }
        guard first else { return }
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
