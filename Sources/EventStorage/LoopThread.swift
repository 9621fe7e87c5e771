import NIOConcurrencyHelpers
import NIOPosix

/// One long-running loop on a thread of its own (NIO's thread pool of one thread): the writer's
/// and the matcher's. Started at most once; `join` waits for the loop to end, or runs it on the
/// caller's thread if it never started (so what was queued is still handled).
public final class LoopThread: @unchecked Sendable {
    private let thread = NIOThreadPool(numberOfThreads: 1)
    /// Set once the loop has ended.
    private let finished = ConditionLock<Bool>(value: false)
    private let started = NIOLockedValueBox(false)

    public init() {}

    /// Runs `body` on the thread; a second call does nothing.
    public func start(_ body: @escaping @Sendable () -> Void) {
        guard
            started.withLockedValue({ s in
                defer { s = true }; return !s
            })
        else { return }
        thread.start()
        thread.submit { [finished] _ in
            body()
            finished.lock()
            finished.unlock(withValue: true)
        }
    }

    /// Whether the loop has ended (a `join` then returns at once).
    public var isFinished: Bool { finished.value }

    /// Waits until the loop (told to stop by its caller) has ended; runs `body` here instead if
    /// the loop never started.
    public func join(orRunHere body: () -> Void) {
        if started.withLockedValue({ s in
            defer { s = true }; return s
        }) {
            finished.lock(whenValue: true)
            finished.unlock()
        } else {
            body()
            finished.lock()
            finished.unlock(withValue: true)  // a second join returns at once
        }
        try? thread.syncShutdownGracefully()
    }
}
