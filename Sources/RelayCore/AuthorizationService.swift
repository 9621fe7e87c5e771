import EventStorage
import NIOConcurrencyHelpers
import NostrCore

#if canImport(Glibc)
    import Glibc
#endif

/// The answer of the authorization service to an event.
public enum Decision: Sendable, Equatable {
    case allow
    case deny(Rejection)
}

/// The answer of the authorization service to a REQ: serve it within a scope, or refuse it.
public enum ReadDecision: Sendable, Equatable {
    case serve(ReadScope)
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

/// Authorization: who may write and read what. It holds the policy in force (a
/// `PolicySnapshot`, replaced whole on a reload, a NIP-86 change or a new admin contact list)
/// and checks each event against its write rules and each REQ against its read rules. NIP-42
/// AUTH verification lives here too.
public final class AuthorizationService: Sendable {
    public let limits: Limits
    public let relayURL: String
    private let current: NIOLockedValueBox<PolicySnapshot>
    /// Serializes the building of new snapshots (readers only take `current`).
    private let changes = NIOLock()
    /// Each admin's newest contact list (kind 3): its created_at and the pubkeys it follows.
    private let contactLists = NIOLockedValueBox<[Bytes32: (createdAt: Int64, follows: Set<Bytes32>)]>([:])
    private let monotonic: @Sendable () -> UInt64

    public init(
        policy: Policy, lists: AccessLists = AccessLists(), limits: Limits, relayURL: String,
        monotonic: @escaping @Sendable () -> UInt64 = AuthorizationService.monotonicNanoseconds
    ) {
        self.limits = limits
        self.relayURL = relayURL
        self.monotonic = monotonic
        current = NIOLockedValueBox(
            PolicySnapshot(
                policy: policy, lists: lists, follows: [],
                limiters: PolicySnapshot.Limiters(policy.rateLimits, reusing: nil, clock: monotonic)))
    }

    /// The policy in force now.
    public var snapshot: PolicySnapshot { current.withLockedValue { $0 } }

    public func authorizeWrite(_ event: Event, _ context: WriteContext) -> Decision {
        if let rejection = snapshot.check(event, context) { return .deny(rejection) }
        return .allow
    }

    /// Checks a REQ: AUTH when the relay requires it for reads, the REQ buckets, and whether a
    /// filter asks only for what this connection may not see (it should AUTH first).
    public func authorizeRead(_ filters: [Filter], auth: AuthState, address: String = "") -> ReadDecision {
        let snapshot = snapshot
        if snapshot.policy.authRequiredForReads && !auth.isAuthenticated {
            return .deny(.authRequired("this relay only serves authenticated users"))
        }
        if let perIP = snapshot.limiters.reqsPerIP, !perIP.take(address) {
            return .deny(.rateLimited("you are asking too fast from your address, slow down"))
        }
        if let perPubkey = snapshot.limiters.reqsPerPubkey {
            for pubkey in auth.pubkeys where !perPubkey.take(pubkey) {
                return .deny(.rateLimited("you are asking too fast, slow down"))
            }
        }
        let scope = snapshot.readScope(authenticatedAs: auth.pubkeys)
        if filters.contains(where: scope.excludesAll) {
            return .deny(.authRequired("these events are only served to authenticated users they are addressed to"))
        }
        return .serve(scope)
    }

    /// Puts `policy` in force for new events and REQs; the NIP-86 lists and follows stay.
    public func reload(_ policy: Policy) {
        rebuild { $0.policy = policy }
    }

    /// Applies a NIP-86 change and puts it in force; returns the lists as they now are.
    @discardableResult
    public func updateLists(_ change: (inout AccessLists) -> Void) -> AccessLists {
        rebuild { change(&$0.lists) }.lists
    }

    /// A committed event: when it is an admin's newer contact list, the follows change.
    public func committed(_ event: Event) {
        guard event.kind == 3 else { return }
        guard snapshot.policy.admins.contains(event.pubkey) else { return }
        if adopt(event) { rebuild { _ in } }
    }

    /// Reads the admins' contact lists from `storage` (at start, and when the admins change).
    public func loadContactLists(from storage: any EventStorage, now: Int64) throws {
        let admins = snapshot.policy.admins
        contactLists.withLockedValue { lists in lists = lists.filter { admins.contains($0.key) } }
        if !admins.isEmpty {
            for stored in try storage.fetch([Filter(authors: admins, kinds: [3])], defaultLimit: admins.count, now: now)
            {
                if let event = stored.event { _ = adopt(event) }
            }
        }
        rebuild { _ in }
    }

    /// Keeps `event` as its admin's contact list if it is newer; true when it was.
    private func adopt(_ event: Event) -> Bool {
        var follows = Set<Bytes32>()
        for tag in event.tags where tag.count >= 2 && tag.field(0, equals: "p") {
            if let pubkey = tag.withField(1, { Bytes32(hex: $0) }) { follows.insert(pubkey) }
        }
        return contactLists.withLockedValue { lists in
            if let old = lists[event.pubkey], old.createdAt >= event.createdAt { return false }
            lists[event.pubkey] = (event.createdAt, follows)
            return true
        }
    }

    /// Builds and installs a new snapshot from the current one changed by `change`.
    @discardableResult
    private func rebuild(_ change: (inout (policy: Policy, lists: AccessLists)) -> Void) -> PolicySnapshot {
        changes.withLock {
            let old = snapshot
            var parts = (policy: old.policy, lists: old.lists)
            change(&parts)
            let admins = Set(parts.policy.admins)
            let follows = contactLists.withLockedValue { lists in
                lists.filter { admins.contains($0.key) }.values.reduce(into: Set<Bytes32>()) {
                    $0.formUnion($1.follows)
                }
            }
            let new = PolicySnapshot(
                policy: parts.policy, lists: parts.lists, follows: follows,
                limiters: PolicySnapshot.Limiters(parts.policy.rateLimits, reusing: old.limiters, clock: monotonic))
            current.withLockedValue { $0 = new }
            return new
        }
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

    @Sendable public static func monotonicNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}
