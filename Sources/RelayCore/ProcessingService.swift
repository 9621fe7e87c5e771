import EventStorage
import NostrCore

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

    public init(_ write: WriteOutcome) {
        switch write {
        case .saved, .replaced: self = .saved
        case .duplicate: self = .duplicate
        case .obsolete: self = .rejected(.duplicate("a newer version of this event is already stored"))
        case .deleted: self = .rejected(.blocked("this event was deleted by its author"))
        case .failed(let why): self = .rejected(.error(why))
        }
    }
}

/// Processing: hands each routed event to the next stage of the one-way pipeline. Stored
/// events go to the writer (which only commits, then passes the commit to the matcher);
/// ephemeral events go straight to the matcher, and to the other nodes of a shared store
/// (`feed`). The origin hears the outcome from the matcher.
public struct ProcessingService: Sendable {
    public let writer: EventWriter
    public let matcher: Matcher
    public let feed: (any SharedFeed)?

    public init(writer: EventWriter, matcher: Matcher, feed: (any SharedFeed)? = nil) {
        self.writer = writer
        self.matcher = matcher
        self.feed = feed
    }

    /// Runs `route` for `valid`; `origin` is told the outcome exactly once, possibly on another
    /// thread. Writes are queued with `origin` as the requester, so nothing is allocated here.
    public func process(_ valid: ValidEvent, route: Route, origin: any EventOrigin) {
        switch route {
        case .refuse(let rejection):
            origin.processed(valid.event.id, .rejected(rejection))
        case .broadcast:
            if let feed, !feed.broadcast(valid.json) {
                origin.processed(valid.event.id, .rejected(.rateLimited("the relay is busy, try again shortly")))
            } else if !matcher.broadcast(valid, origin: origin) {
                origin.processed(valid.event.id, .rejected(.rateLimited("the relay is busy, try again shortly")))
            }
        case .store(let action):
            if !writer.submit(Write(action, valid.event, json: valid.json), requester: origin) {
                origin.processed(valid.event.id, .rejected(.rateLimited("the relay is busy, try again shortly")))
            }
        }
    }
}
