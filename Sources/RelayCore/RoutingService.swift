import EventStorage
import NostrCore

/// Where an accepted event goes, decided once by kind and carried as it is to the writer and
/// the store (NIP-01 kind classes, NIP-09, NIP-42, NIP-62).
public enum Route: Sendable, Equatable {
    /// Stored by the writer with this action, then delivered to live subscribers.
    case store(WriteAction)
    /// Ephemeral: delivered to live subscribers, never stored.
    case broadcast
    case refuse(Rejection)

    public var isRefusal: Bool {
        if case .refuse = self { return true }
        return false
    }
}

/// Routing: kind-based dispatch.
public struct RoutingService: Sendable {
    /// The relay's public URL, to tell whether a request to vanish (NIP-62) names this relay.
    public let relayURL: String

    public init(relayURL: String = "") {
        self.relayURL = relayURL
    }

    public func route(_ event: Event) -> Route {
        switch event.kind {
        case Kinds.auth: return .refuse(.invalid("kind 22242 events are only accepted in AUTH messages"))
        case Kinds.deletion: return .store(.delete)
        case Kinds.vanish where namesThisRelay(event): return .store(.vanish)
        default: break
        }
        switch event.kindClass {
        case .regular: return .store(.insert)
        case .replaceable, .addressable: return .store(.replace(Address(of: event)))
        case .ephemeral: return .broadcast
        }
    }

    /// NIP-62: a request to vanish applies here when a `relay` tag names this relay (by host, as
    /// NIP-42 compares them) or says `ALL_RELAYS`; otherwise it is stored as a regular event.
    func namesThisRelay(_ event: Event) -> Bool {
        event.tags.contains { tag in
            guard tag.count >= 2, tag.field(0, equals: "relay") else { return false }
            let value = tag[1]
            return value == "ALL_RELAYS" || AuthorizationService.sameRelay(value, relayURL)
        }
    }
}
