import EventStorage
import NostrCore

/// The matcher: the pipeline's step after the writer. On its own thread it matches each saved
/// (or ephemeral) event against the live subscriptions, hands it to the subscribers' mailboxes,
/// then tells the event's origin the outcome, so the publisher's OK never precedes the
/// deliveries. The writer only commits and the publishing session is not on this path.
public final class Matcher: CommitSink, @unchecked Sendable {
    enum Item {
        case committed(Committed)
        case broadcast(ValidEvent, any EventOrigin)
        /// Another node's event (a shared store's feed).
        case remote(FeedItem)
    }

    public let subscriptions: SubscriptionIndex
    /// Told of each saved event before it is delivered (the policy follows admins' contact lists).
    let onSaved: @Sendable (Event) -> Void
    private let inbox: BatchInbox<Item>
    private let thread = LoopThread()

    /// `capacity`: items waiting; the writer waits while it is full, ephemeral events are refused.
    public init(
        subscriptions: SubscriptionIndex, capacity: Int = 8192, onSaved: @escaping @Sendable (Event) -> Void = { _ in }
    ) {
        self.subscriptions = subscriptions
        self.onSaved = onSaved
        inbox = BatchInbox(capacity: capacity)
    }

    /// Commits and broadcasts waiting to be delivered.
    public var queued: Int { inbox.count }

    public func start() {
        thread.start { [self] in run() }
    }

    /// From the writer's thread, after each commit.
    public func committed(_ batch: [Committed]) {
        inbox.pushAll(batch.lazy.map { Item.committed($0) })
    }

    /// An ephemeral event, from a connection's thread; false when the matcher is full.
    public func broadcast(_ valid: ValidEvent, origin: any EventOrigin) -> Bool {
        inbox.push(.broadcast(valid, origin))
    }

    /// Other nodes' events, from the shared store's feed thread, in their commit order; waits
    /// while the matcher is full.
    public func remote(_ items: [FeedItem]) {
        inbox.pushAll(items.lazy.map { Item.remote($0) })
    }

    /// Delivers what is queued, then ends the thread. Call after the writer's shutdown.
    public func shutdown() {
        inbox.stop()
        thread.join(orRunHere: run)  // never started: deliver and report what is queued, here
    }

    private func run() {
        var batch: [Item] = []
        batch.reserveCapacity(1024)
        while inbox.take(into: &batch, max: 1024, timeoutSeconds: 1) {
            for item in batch {
                switch item {
                case .committed(let c):
                    if c.outcome.isStored {
                        onSaved(c.write.event)
                        fanOut(c.write.event, json: c.write.json, sequence: c.sequence)
                    }
                    c.requester?.written(c)
                case .broadcast(let valid, let origin):
                    fanOut(valid.event, json: valid.json, sequence: .max)
                    origin.processed(valid.event.id, .broadcast)
                case .remote(let item):
                    if item.sequence != .max { onSaved(item.event) }
                    fanOut(item.event, json: item.json, sequence: item.sequence)
                }
            }
            batch.removeAll(keepingCapacity: true)
        }
    }

    /// `sequence`: the commit that made the event visible to queries (`.max` for an ephemeral
    /// event, which no query sees).
    func fanOut(_ event: Event, json: [UInt8], sequence: UInt64) {
        for (subscriber, ids) in subscriptions.match(event) {
            subscriber.deliver(event, json: json, to: ids, sequence: sequence)
        }
    }
}
