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

    /// Runs `route` for `valid`; `origin` is told the outcome exactly once, possibly on another
    /// thread. Writes are queued with `origin` as the requester, so nothing is allocated here.
    public func process(_ valid: ValidEvent, route: Route, origin: any EventOrigin) {
        switch route {
        case .refuse(let rejection):
            origin.processed(valid.event.id, .rejected(rejection))
        case .ephemeral:
            fanOut(valid)
            origin.processed(valid.event.id, .broadcast)
        case .regular, .replaceable, .addressable, .deletion:
            if !writer.submit(valid.event, json: valid.json, requester: origin) {
                origin.processed(valid.event.id, .rejected(.rateLimited("the relay is busy, try again shortly")))
            }
        }
    }

    /// What a committed (or failed) write means for its origin; a saved event is delivered to
    /// live subscribers first. Called by origins from `WriteRequester.written`.
    public func committed(_ event: Event, json: [UInt8], _ write: WriteOutcome) -> Outcome {
        let outcome = Outcome(write)
        if outcome == .saved { Self.fanOut(ValidEvent(event: event, json: json), subscriptions) }
        return outcome
    }

    public func fanOut(_ valid: ValidEvent) { Self.fanOut(valid, subscriptions) }

    static func fanOut(_ valid: ValidEvent, _ subscriptions: SubscriptionIndex) {
        for (subscriber, ids) in subscriptions.match(valid.event) {
            subscriber.deliver(valid.json, to: ids)
        }
    }
}
