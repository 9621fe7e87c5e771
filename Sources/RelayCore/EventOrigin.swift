import EventStorage
import NostrCore

/// Where an event handed to processing came from (a connection's session): it is told the
/// event's outcome exactly once, on the matcher's thread (or at once, when refused).
///
/// An origin is also the event's `WriteRequester`, so that queueing a write allocates nothing
/// per event; the matcher reports a commit to it after fanning the event out, and the default
/// `written` turns the store's outcome into the relay's.
public protocol EventOrigin: WriteRequester {
    func processed(_ id: Bytes32, _ outcome: Outcome)
}

extension EventOrigin {
    public func written(_ committed: Committed) {
        processed(committed.write.event.id, Outcome(committed.outcome))
    }
}
