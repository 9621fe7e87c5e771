import NostrCore

/// Where an accepted event goes, by kind (NIP-01 kind classes, NIP-09, NIP-42).
public enum Route: Sendable, Equatable {
    case regular
    case replaceable
    case addressable
    /// Delivered to live subscribers, never stored.
    case ephemeral
    /// NIP-09 deletion request: stored, and deletes what it references.
    case deletion
    case refuse(Rejection)
}

/// Routing: kind-based dispatch.
public struct RoutingService: Sendable {
    public init() {}

    public func route(_ event: Event) -> Route {
        if event.kind == Kinds.auth {
            return .refuse(.invalid("kind 22242 events are only accepted in AUTH messages"))
        }
        if event.kind == Kinds.deletion { return .deletion }
        switch event.kindClass {
        case .regular: return .regular
        case .replaceable: return .replaceable
        case .addressable: return .addressable
        case .ephemeral: return .ephemeral
        }
    }
}
