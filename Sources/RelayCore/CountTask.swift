import EventStorage
import NostrCore
import Synchronization

/// A COUNT (NIP-45) as the readers run it: the store counts from its indexes within the scan
/// budget (one slice: the budget bounds it), and the answer goes to the session's mailbox.
final class CountTask: ReadTask, @unchecked Sendable {
    let connection: UInt64
    let subscriptionID: String
    let session: RelaySession
    private let filters: [Filter]
    private let scope: ReadScope
    private let storage: any EventStorage
    private let now: Int64
    private let cancelled = Atomic<Bool>(false)

    init(
        session: RelaySession, subscriptionID: String, filters: [Filter], scope: ReadScope, storage: any EventStorage,
        now: Int64
    ) {
        self.connection = session.id
        self.session = session
        self.subscriptionID = subscriptionID
        self.filters = filters
        self.scope = scope
        self.storage = storage
        self.now = now
    }

    var isStarted: Bool { false }

    func cancel() { cancelled.store(true, ordering: .relaxed) }

    func runSlice(nanoseconds: UInt64) -> Bool {
        guard !cancelled.load(ordering: .relaxed) else { return true }
        // HyperLogLog registers only for one filter of the shapes NIP-45 names.
        let offset = filters.count == 1 ? HyperLogLog.offset(for: filters[0]) : nil
        let result = Result { try storage.count(filters, now: now, scope: scope, hllOffset: offset) }
        if !cancelled.load(ordering: .relaxed) { session.counted(self, result) }
        return true
    }

    func abandon() { cancel() }
}
