import EventStorage
import NostrCore

/// COUNT (NIP-45) and negentropy (NIP-77) for one connection: refused or handed to the readers
/// (`CountTask`, `NegentropyTask`), answered from the mailbox. Connection thread only, like
/// the rest of `RelaySession`.
extension RelaySession {
    /// One open NIP-77 reconciliation.
    struct Reconciliation {
        let generation: UInt64
        /// The items listed at NEG-OPEN; nil until they are.
        var session: NegentropySession?
        /// The task answering the client's last message, while it runs.
        var task: NegentropyTask?
        /// When the relay last answered (monotonic nanoseconds), for the idle timeout.
        var lastActive: UInt64
    }

    /// A COUNT's answer, from a reader thread.
    func counted(_ task: CountTask, _ result: Result<CountResult, any Error>) {
        post(.counted(task, result))
    }

    /// A negentropy answer, from a reader thread.
    func negotiated(_ task: NegentropyTask, _ result: Result<(NegentropySession, [UInt8]), any Error>) {
        post(.negotiated(task, result))
    }

    // MARK: COUNT (NIP-45)

    func handleCount(_ subscriptionID: String, _ filters: [Filter]) {
        let scope: ReadScope
        switch relay.authorization.authorizeRead(filters, auth: auth, address: address) {
        case .serve(let s): scope = s
        case .deny(let rejection): return closed(subscriptionID, rejection)
        }
        counts.removeValue(forKey: subscriptionID)?.cancel()
        guard counts.count < relay.limits.maxSubscriptions else {
            return closed(
                subscriptionID, .rateLimited("too many counts at once (max \(relay.limits.maxSubscriptions))"))
        }
        let task = CountTask(
            session: self, subscriptionID: subscriptionID, filters: filters, scope: scope, storage: relay.storage,
            now: relay.clock())
        counts[subscriptionID] = task
        if !relay.readers.submit(task) {
            counts[subscriptionID] = nil
            closed(subscriptionID, .rateLimited("the relay has too many queries waiting; ask again shortly"))
        }
    }

    func finishCount(_ task: CountTask, _ result: Result<CountResult, any Error>) {
        guard counts[task.subscriptionID] === task else { return }
        counts[task.subscriptionID] = nil
        switch result {
        case .success(let count):
            send(
                .count,
                RelayMessage.count(
                    subscriptionID: task.subscriptionID, count: count.count, approximate: count.approximate,
                    hll: count.hll?.hex))
        case .failure(let error):
            relay.logger.error("count failed", metadata: ["error": "\(error)"])
            closed(task.subscriptionID, .error("could not read the store"))
        }
    }

    // MARK: NEG-OPEN, NEG-MSG, NEG-CLOSE (NIP-77)

    func handleNegOpen(_ subscriptionID: String, _ filter: Filter, _ message: [UInt8]) {
        // A NEG-OPEN for an open id closes that reconciliation first.
        reconciliations.removeValue(forKey: subscriptionID)?.task?.cancel()
        let limits = relay.limits
        guard reconciliations.count < limits.maxNegentropySessions else {
            return negErr(
                subscriptionID, "blocked: too many open negentropy sessions (max \(limits.maxNegentropySessions))")
        }
        let scope: ReadScope
        switch relay.authorization.authorizeRead([filter], auth: auth, address: address) {
        case .serve(let s): scope = s
        case .deny(let rejection): return negErr(subscriptionID, rejection.message)
        }
        reconciliationsOpened += 1
        let task = NegentropyTask(
            session: self, subscriptionID: subscriptionID, generation: reconciliationsOpened,
            step: .open(filter, scope: scope, maxItems: limits.maxSyncEvents, frameSize: limits.negentropyFrameSize),
            message: message, storage: relay.storage, now: relay.clock())
        reconciliations[subscriptionID] = Reconciliation(
            generation: reconciliationsOpened, session: nil, task: task, lastActive: RelayMetrics.now())
        submit(task)
    }

    func handleNegMsg(_ subscriptionID: String, _ message: [UInt8]) {
        guard var reconciliation = reconciliations[subscriptionID], let session = reconciliation.session else {
            // Unknown, or its NEG-OPEN is still being answered: the client did not wait.
            reconciliations.removeValue(forKey: subscriptionID)?.task?.cancel()
            return negErr(subscriptionID, "closed: no open negentropy session with this id")
        }
        guard reconciliation.task == nil else {
            reconciliations.removeValue(forKey: subscriptionID)?.task?.cancel()
            return negErr(subscriptionID, "closed: a message came before the answer to the previous one")
        }
        let task = NegentropyTask(
            session: self, subscriptionID: subscriptionID, generation: reconciliation.generation,
            step: .message(session), message: message, storage: relay.storage, now: relay.clock())
        reconciliation.task = task
        reconciliations[subscriptionID] = reconciliation
        submit(task)
    }

    func submit(_ task: NegentropyTask) {
        if !relay.readers.submit(task) {
            reconciliations[task.subscriptionID] = nil
            negErr(task.subscriptionID, "rate-limited: the relay has too many queries waiting; try again shortly")
        }
    }

    func finishNegentropy(_ task: NegentropyTask, _ result: Result<(NegentropySession, [UInt8]), any Error>) {
        guard var reconciliation = reconciliations[task.subscriptionID], reconciliation.generation == task.generation,
            reconciliation.task === task
        else { return }
        switch result {
        case .success(let (session, answer)):
            reconciliation.session = session
            reconciliation.task = nil
            reconciliation.lastActive = RelayMetrics.now()
            reconciliations[task.subscriptionID] = reconciliation
            send(.negMsg, RelayMessage.negMsg(subscriptionID: task.subscriptionID, message: answer))
        case .failure(let error):
            reconciliations[task.subscriptionID] = nil
            let reason: String
            switch error {
            case SyncItemsRefused.tooMany(let max): reason = "blocked: this query is too big (more than \(max) events)"
            case SyncItemsRefused.scanBudget: reason = "blocked: this query scans too many events"
            case let malformed as Negentropy.Malformed: reason = "invalid: \(malformed.description)"
            default:
                relay.logger.error("negentropy failed", metadata: ["error": "\(error)"])
                reason = "error: could not read the store"
            }
            negErr(task.subscriptionID, reason)
        }
    }

    /// Closes reconciliations that waited for the client longer than the idle timeout. Called
    /// on each message while any is open, and on the connection's idle timer.
    public func tick() {
        guard !reconciliations.isEmpty else { return }
        let now = RelayMetrics.now()
        let timeout = UInt64(relay.limits.negentropyIdleTimeout) * 1_000_000_000
        for (id, reconciliation) in reconciliations
        where reconciliation.task == nil && now - reconciliation.lastActive > timeout {
            reconciliations[id] = nil
            negErr(id, "closed: no message for \(relay.limits.negentropyIdleTimeout) s; the session is closed")
        }
    }
}
