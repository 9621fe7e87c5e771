import NostrCore

/// The answer of the authorization service.
public enum Decision: Sendable, Equatable {
    case allow
    case deny(Rejection)
}

/// What one connection has proven about itself (NIP-42).
public struct AuthState: Sendable {
    public let challenge: String
    public private(set) var pubkeys: Set<Bytes32> = []

    public init(challenge: String) {
        self.challenge = challenge
    }

    public var isAuthenticated: Bool { !pubkeys.isEmpty }

    public mutating func add(_ pubkey: Bytes32) { pubkeys.insert(pubkey) }
}

/// Authorization: who may write and read what. NIP-42 AUTH verification and NIP-70 protected
/// events live here.
public struct AuthorizationService: Sendable {
    public let policy: Policy
    public let limits: Limits
    public let relayURL: String

    public init(policy: Policy, limits: Limits, relayURL: String) {
        self.policy = policy
        self.limits = limits
        self.relayURL = relayURL
    }

    public func authorizeWrite(_ event: Event, auth: AuthState) -> Decision {
        if policy.authRequiredForWrites && !auth.isAuthenticated {
            return .deny(.authRequired("this relay only accepts events from authenticated users"))
        }
        if event.isProtected {
            guard policy.acceptProtectedEvents else {
                return .deny(.blocked("this relay does not accept protected events"))
            }
            if !auth.isAuthenticated {
                return .deny(.authRequired("this event may only be published by its author"))
            }
            if !auth.pubkeys.contains(event.pubkey) {
                return .deny(.restricted("this event may only be published by its author"))
            }
        }
        return .allow
    }

    public func authorizeRead(_ filters: [Filter], auth: AuthState) -> Decision {
        if policy.authRequiredForReads && !auth.isAuthenticated {
            return .deny(.authRequired("this relay only serves authenticated users"))
        }
        return .allow
    }

    /// Checks a NIP-42 AUTH event (already validated for id and signature) and returns the
    /// pubkey it proves.
    public func verifyAuth(_ event: Event, auth: AuthState, now: Int64) -> Result<Bytes32, Rejection> {
        guard event.kind == Kinds.auth else { return .failure(.invalid("AUTH event must be of kind 22242")) }
        guard abs(event.createdAt - now) <= limits.authWindow else {
            return .failure(.invalid("AUTH event created_at is too far from the current time"))
        }
        let challenge = event.firstValue(ofTag: "challenge")
        guard challenge == auth.challenge else { return .failure(.invalid("AUTH challenge does not match")) }
        guard let relay = event.firstValue(ofTag: "relay") else {
            return .failure(.invalid("AUTH event has no relay tag"))
        }
        guard Self.sameRelay(relay, relayURL) else { return .failure(.invalid("AUTH relay tag is for another relay")) }
        return .success(event.pubkey)
    }

    /// Compares relay URLs by host and port, ignoring scheme, case and a trailing slash. An
    /// empty configured URL accepts any relay tag.
    static func sameRelay(_ tag: String, _ configured: String) -> Bool {
        guard !configured.isEmpty else { return true }
        return hostPart(tag) == hostPart(configured)
    }

    static func hostPart(_ url: String) -> String {
        var s = Substring(url.lowercased())
        if let range = s.firstRange(of: "://") { s = s[range.upperBound...] }
        if let slash = s.firstIndex(of: "/") { s = s[..<slash] }
        return String(s)
    }
}
