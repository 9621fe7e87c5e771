import EventStorage
import NostrCore
import Synchronization

/// One step of a NIP-77 reconciliation as the readers run it, never on an event loop: a
/// NEG-OPEN lists the (created_at, id) items of the filter's events from the store's indexes
/// and answers the client's first message; a NEG-MSG answers the next message over the items
/// listed then. The result goes to the session's mailbox.
final class NegentropyTask: ReadTask, @unchecked Sendable {
    enum Step {
        case open(Filter, scope: ReadScope, maxItems: Int, frameSize: Int)
        case message(NegentropySession)
    }

    let connection: UInt64
    let subscriptionID: String
    /// Tells this step's answer from one for an earlier reconciliation under the same id.
    let generation: UInt64
    let session: RelaySession
    private let step: Step
    private let incoming: [UInt8]
    private let storage: any EventStorage
    private let now: Int64
    private let cancelled = Atomic<Bool>(false)

    init(
        session: RelaySession, subscriptionID: String, generation: UInt64, step: Step, message: [UInt8],
        storage: any EventStorage, now: Int64
    ) {
        self.connection = session.id
        self.session = session
        self.subscriptionID = subscriptionID
        self.generation = generation
        self.step = step
        self.incoming = message
        self.storage = storage
        self.now = now
    }

    var isStarted: Bool { false }

    func cancel() { cancelled.store(true, ordering: .relaxed) }

    func runSlice(nanoseconds: UInt64) -> Bool {
        guard !cancelled.load(ordering: .relaxed) else { return true }
        let result = Result { () throws -> (NegentropySession, [UInt8]) in
            let reconciliation: NegentropySession
            switch step {
            case .open(let filter, let scope, let maxItems, let frameSize):
                let items = try storage.items(filter, now: now, scope: scope, max: maxItems)
                reconciliation = NegentropySession(
                    items: items.map { Negentropy.Item(timestamp: UInt64(max(0, $0.createdAt)), id: $0.id) },
                    frameSizeLimit: frameSize)
            case .message(let existing):
                reconciliation = existing
            }
            return (reconciliation, try reconciliation.respond(to: incoming))
        }
        if !cancelled.load(ordering: .relaxed) { session.negotiated(self, result) }
        return true
    }

    func abandon() { cancel() }
}
