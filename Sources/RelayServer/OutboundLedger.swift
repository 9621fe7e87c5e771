import Synchronization

/// The bytes queued for all clients together, so that many clients that do not read cannot hold
/// more memory between them than `budget`, however many connections they open. Each transport
/// reports changes to its own backlog; when the total is over budget, a client whose backlog is
/// still above its fair share after a flush is disconnected.
final class OutboundLedger: Sendable {
    let budget: Int
    /// No client is dropped for holding less than this, however many connections there are.
    static let minimumShare = 16 << 10
    private let total = Atomic<Int>(0)
    private let connections = Atomic<Int>(0)

    init(budget: Int) {
        self.budget = budget
    }

    var queued: Int { total.load(ordering: .relaxed) }

    func opened() { connections.add(1, ordering: .relaxed) }
    func closed() { connections.subtract(1, ordering: .relaxed) }

    /// Records a change of one client's backlog; returns the new total.
    @discardableResult
    func add(_ delta: Int) -> Int {
        delta == 0 ? total.load(ordering: .relaxed) : total.add(delta, ordering: .relaxed).newValue
    }

    /// Whether a client that still holds `backlog` bytes after a flush must go.
    func isOverShare(_ backlog: Int, total: Int) -> Bool {
        guard total > budget else { return false }
        let share = max(budget / max(1, connections.load(ordering: .relaxed)), Self.minimumShare)
        return backlog > share
    }
}
