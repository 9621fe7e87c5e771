import NostrCore

/// Who is told the outcome of a write queued on the `EventWriter`. It is an object, not a
/// closure, so that queueing an event allocates nothing for its completion: a reference to the
/// requester (a connection's session, say) is stored in the job as it is.
public protocol WriteRequester: AnyObject, Sendable {
    /// Called exactly once per queued write, after its transaction committed (`.saved` means
    /// durably on disk) or failed, by whatever consumes the writer's commits.
    func written(_ committed: Committed)
}

/// A requester that calls a closure: for callers that write rarely (tests, tools), where one
/// allocation per event does not matter.
public final class CompletionRequester: WriteRequester {
    let completion: @Sendable (WriteOutcome) -> Void

    public init(_ completion: @escaping @Sendable (WriteOutcome) -> Void) {
        self.completion = completion
    }

    public func written(_ committed: Committed) {
        completion(committed.outcome)
    }
}
