import NostrCore
import NostrStore

/// What processing did with an accepted event.
public enum Outcome: Sendable, Equatable {
    /// Committed to storage (replacing an older version where the kind says so).
    case saved
    case duplicate
    /// Ephemeral: delivered to live subscribers, not stored.
    case broadcast
    case rejected(Rejection)

    /// The OK answer for this outcome (NIP-01): accepted flag and message, in one place.
    public var okAnswer: (accepted: Bool, message: String) {
        switch self {
        case .saved, .broadcast: (true, "")
        case .duplicate: (true, "duplicate: already have this event")
        case .rejected(let r): (false, r.message)
        }
    }

    init(_ write: WriteOutcome) {
        switch write {
        case .saved: self = .saved
        case .duplicate: self = .duplicate
        case .obsolete: self = .rejected(.duplicate("a newer version of this event is already stored"))
        case .deleted: self = .rejected(.blocked("this event was deleted by its author"))
        case .failed(let why): self = .rejected(.error(why))
        }
    }
}

/// Processing: persistence through the writer, then delivery to live subscribers.
public struct ProcessingService: Sendable {
    public let writer: EventWriter
    public let subscriptions: SubscriptionIndex

    public init(writer: EventWriter, subscriptions: SubscriptionIndex) {
        self.writer = writer
        self.subscriptions = subscriptions
    }

    /// Runs `route` for `valid`; `completion` is called exactly once, possibly on another thread.
    public func process(_ valid: ValidEvent, route: Route, completion: @escaping @Sendable (Outcome) -> Void) {
        switch route {
        case .refuse(let rejection):
            completion(.rejected(rejection))
        case .ephemeral:
            fanOut(valid)
            completion(.broadcast)
        case .regular, .replaceable, .addressable, .deletion:
            let subscriptions = subscriptions
            let accepted = writer.submit(valid.event, json: valid.json) { write in
                let outcome = Outcome(write)
                if outcome == .saved { Self.fanOut(valid, subscriptions) }
                completion(outcome)
            }
            if !accepted { completion(.rejected(.rateLimited("the relay is busy, try again shortly"))) }
        }
    }

    public func fanOut(_ valid: ValidEvent) { Self.fanOut(valid, subscriptions) }

    static func fanOut(_ valid: ValidEvent, _ subscriptions: SubscriptionIndex) {
        for (subscriber, ids) in subscriptions.match(valid.event) {
            subscriber.deliver(valid.json, to: ids)
        }
    }
}
