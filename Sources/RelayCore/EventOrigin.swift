import NostrCore
import NostrStore

/// Where an event handed to processing came from (a connection's session): it is told the
/// event's outcome exactly once, possibly on the writer's thread.
///
/// An origin is also the event's `WriteRequester`, so that queueing a write allocates nothing
/// per event. Its `written(_:json:outcome:)` must pass the write's outcome through
/// `ProcessingService.committed(_:json:_:)`, which fans saved events out, and report the
/// result with `processed(_:_:)`; `finishWrite` does both.
public protocol EventOrigin: WriteRequester {
    func processed(_ id: Bytes32, _ outcome: Outcome)
}

extension EventOrigin {
    /// The whole of a typical `written(_:json:outcome:)`: fan out if saved, then report.
    public func finishWrite(_ event: Event, json: [UInt8], _ write: WriteOutcome, processing: ProcessingService) {
        processed(event.id, processing.committed(event, json: json, write))
    }
}
