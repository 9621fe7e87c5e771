import EventStorage
import NostrCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A REQ's initial query as the readers run it: the query is opened (its snapshot taken) on
/// its first slice, advanced a slice at a time, and its answer posted to the session's mailbox.
/// A closed or replaced subscription cancels it; it then stops at its next step.
final class QueryTask: ReadTask, @unchecked Sendable {
    let connection: UInt64
    let subscriptionID: String
    let filters: [Filter]
    let scope: ReadScope
    let session: RelaySession
    private let storage: any EventStorage
    private let defaultLimit: Int
    private let now: Int64
    private let cancelled = Atomic<Bool>(false)
    /// Reader threads only, one at a time (the pool's lock orders them).
    private var query: (any StorageQuery)?
    private var finished = false

    init(
        session: RelaySession, subscriptionID: String, filters: [Filter], scope: ReadScope,
        storage: any EventStorage, defaultLimit: Int, now: Int64
    ) {
        self.scope = scope
        self.connection = session.id
        self.session = session
        self.subscriptionID = subscriptionID
        self.filters = filters
        self.storage = storage
        self.defaultLimit = defaultLimit
        self.now = now
    }

    var isStarted: Bool { query != nil }

    func cancel() { cancelled.store(true, ordering: .relaxed) }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    func runSlice(nanoseconds: UInt64) -> Bool {
        guard !finished else { return true }
        let deadline = Self.monotonicNanoseconds() + nanoseconds
        do {
            while !isCancelled {
                let query = try self.query ?? storage.query(filters, defaultLimit: defaultLimit, now: now, scope: scope)
                self.query = query
                if try query.advance(steps: 256) {
                    finish(.success(QueryAnswer(events: query.results, sequence: query.sequence)))
                    return true
                }
                if Self.monotonicNanoseconds() >= deadline { return false }
            }
            finish(nil)
        } catch {
            finish(.failure(error))
        }
        return true
    }

    func abandon() {
        finished = true
        query?.cancel()
        query = nil
    }

    private func finish(_ result: Result<QueryAnswer, any Error>?) {
        finished = true
        query?.cancel()
        query = nil
        if let result, !isCancelled { session.answered(self, result) }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}

/// A finished query's events, newest first, and the commit sequence of its snapshot.
struct QueryAnswer: Sendable {
    let events: [StoredEvent]
    let sequence: UInt64
}
