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

    /// Items are taken from the inbox a few at a time (`handOver`); each such batch is matched
    /// whole first, and each subscriber is handed its events of the batch at once (one wake-up
    /// of its connection and one flush, however many events); the origins hear the outcomes
    /// after that. Few: the first event of a batch waits for the whole batch to be matched.
    private func run() {
        var batch: [Item] = []
        batch.reserveCapacity(Self.handOver)
        var outbox = Outbox()
        while inbox.take(into: &batch, max: Self.handOver, timeoutSeconds: 1) {
            for item in batch {
                switch item {
                case .committed(let c):
                    if c.outcome.isStored {
                        onSaved(c.write.event)
                        outbox.add(c.write.event, json: c.write.json, sequence: c.sequence, from: subscriptions)
                    }
                case .broadcast(let valid, _):
                    outbox.add(valid.event, json: valid.json, sequence: .max, from: subscriptions)
                case .remote(let item):
                    if item.sequence != .max { onSaved(item.event) }
                    outbox.add(item.event, json: item.json, sequence: item.sequence, from: subscriptions)
                }
            }
            outbox.send()
            for item in batch {
                switch item {
                case .committed(let c): c.requester?.written(c)
                case .broadcast(let valid, let origin): origin.processed(valid.event.id, .broadcast)
                case .remote: break
                }
            }
            batch.removeAll(keepingCapacity: true)
        }
    }

    /// Items matched before their deliveries are handed over.
    static let handOver = 16

    /// One batch's deliveries, gathered by subscriber in the order the events came.
    struct Outbox {
        private var index: [ObjectIdentifier: Int] = [:]
        private var lists: [(any Subscriber, [LiveEvent])] = []

        /// `sequence`: the commit that made the event visible to queries (`.max` for an
        /// ephemeral event, which no query sees).
        mutating func add(_ event: Event, json: [UInt8], sequence: UInt64, from subscriptions: SubscriptionIndex) {
            for (subscriber, ids) in subscriptions.match(event) where subscriber.admits(event) {
                let live = LiveEvent(json: json, subscriptionIDs: ids, sequence: sequence)
                if let i = index[ObjectIdentifier(subscriber)] {
                    lists[i].1.append(live)
                } else {
                    index[ObjectIdentifier(subscriber)] = lists.count
                    lists.append((subscriber, [live]))
                }
            }
        }

        /// Hands each subscriber its events: one wake-up of its connection for the batch.
        mutating func send() {
            for (subscriber, lives) in lists { subscriber.deliver(lives) }
            lists.removeAll(keepingCapacity: true)
            index.removeAll(keepingCapacity: true)
        }
    }
}
