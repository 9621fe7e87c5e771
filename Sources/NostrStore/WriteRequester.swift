import NostrCore

/// Who is told the outcome of a write queued on the `EventWriter`. It is an object, not a
/// closure, so that queueing an event allocates nothing for its completion: a closure that
/// captures state is one heap allocation per event, while a reference to the requester (a
/// connection's session, say) is stored in the job as it is.
public protocol WriteRequester: AnyObject, Sendable {
    /// Called exactly once per queued event, on the writer's thread, after the event's
    /// transaction committed (`.saved` means durably on disk) or failed.
    func written(_ event: Event, json: [UInt8], outcome: WriteOutcome)
}

/// A requester that calls a closure: for callers that write rarely (tests, tools), where one
/// allocation per event does not matter.
final class CompletionRequester: WriteRequester {
    let completion: EventWriter.Completion

    init(_ completion: @escaping EventWriter.Completion) {
        self.completion = completion
    }

    func written(_ event: Event, json: [UInt8], outcome: WriteOutcome) {
        completion(outcome)
    }
}
