import NostrCore

/// The policy in force at one moment, compiled: the file's `Policy`, the NIP-86 `AccessLists`
/// and the admins' follows, turned into the list of write rules that apply (only those the
/// operator configured) and the read rules. Immutable: a reload or a NIP-86 change builds a
/// new one, and each event is checked against one snapshot from start to end.
public final class PolicySnapshot: Sendable {
    public let policy: Policy
    public let lists: AccessLists
    /// Pubkeys the admins' contact lists follow (the `follows` mode's members, less admins).
    public let follows: Set<Bytes32>
    let rules: [any WriteRule]
    let limiters: Limiters
    let blockedAddresses: Set<String>
    /// Kinds whose readers are limited (private to their parties, or behind AUTH), sorted.
    let restrictedReadKinds: [UInt16]
    /// The scope of a connection that has proved no pubkey: the same for all of them, so built
    /// once here rather than for each REQ.
    let anonymousScope: ReadScope

    /// The buckets, kept from one snapshot to the next while their rates stay the same.
    struct Limiters: Sendable {
        var eventsPerIP: RateLimiter<String>?
        var eventsPerPubkey: RateLimiter<Bytes32>?
        var reqsPerIP: RateLimiter<String>?
        var reqsPerPubkey: RateLimiter<Bytes32>?

        init(_ rates: RateLimits, reusing old: Limiters?, clock: @escaping @Sendable () -> UInt64) {
            func make<K>(_ rate: RateLimits.Rate, _ old: RateLimiter<K>?) -> RateLimiter<K>? {
                guard rate.isOn else { return nil }
                if let old, old.rate == rate { return old }
                return RateLimiter(rate: rate, clock: clock)
            }
            eventsPerIP = make(rates.eventsPerIP, old?.eventsPerIP)
            eventsPerPubkey = make(rates.eventsPerPubkey, old?.eventsPerPubkey)
            reqsPerIP = make(rates.reqsPerIP, old?.reqsPerIP)
            reqsPerPubkey = make(rates.reqsPerPubkey, old?.reqsPerPubkey)
        }
    }

    init(policy: Policy, lists: AccessLists, follows: Set<Bytes32>, limiters: Limiters) {
        self.policy = policy
        self.lists = lists
        self.follows = follows
        self.limiters = limiters
        blockedAddresses = Set(lists.blockedIPs.keys)
        var rules: [any WriteRule] = []
        if !blockedAddresses.isEmpty { rules.append(BlockedAddresses(addresses: blockedAddresses)) }
        if !lists.bannedEvents.isEmpty { rules.append(BannedEvents(ids: Set(lists.bannedEvents.keys))) }
        let denied = Set(policy.denyPubkeys).union(lists.bannedPubkeys.keys)
        if !denied.isEmpty { rules.append(DeniedPubkeys(pubkeys: denied)) }
        let allowedKinds = Set(policy.allowKinds).union(lists.allowedKinds)
        let deniedKinds = Set(policy.denyKinds).union(lists.disallowedKinds).subtracting(lists.allowedKinds)
        if !allowedKinds.isEmpty || !deniedKinds.isEmpty {
            rules.append(KindList(allowed: allowedKinds.isEmpty ? nil : allowedKinds, denied: deniedKinds))
        }
        if policy.authRequiredForWrites { rules.append(AuthToWrite()) }
        switch policy.mode {
        case .open: break
        case .allowlist:
            let members = Set(policy.allowPubkeys).union(lists.allowedPubkeys.keys).union(policy.admins)
            rules.append(Members(members: members, mode: .allowlist))
        case .follows:
            // The allow lists add to the follows: an admin may let in someone no admin follows.
            let members = follows.union(policy.admins).union(policy.allowPubkeys).union(lists.allowedPubkeys.keys)
            rules.append(Members(members: members, mode: .follows))
        }
        rules.append(ProtectedEvents(accept: policy.acceptProtectedEvents))
        if !policy.kindLimits.isEmpty { rules.append(KindLimits(limits: policy.kindLimits)) }
        if policy.minPowDifficulty > 0 { rules.append(ProofOfWork(minimum: policy.minPowDifficulty)) }
        if limiters.eventsPerIP != nil || limiters.eventsPerPubkey != nil {
            rules.append(EventRate(perIP: limiters.eventsPerIP, perPubkey: limiters.eventsPerPubkey))
        }
        self.rules = rules
        var restricted = Set(policy.authRequiredKinds)
        if policy.protectDirectMessages { restricted.formUnion(Policy.directMessageKinds) }
        restrictedReadKinds = restricted.sorted()
        anonymousScope = Self.scope(policy, authenticatedAs: [])
    }

    /// The first rule that refuses `event`, or nil.
    public func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        for rule in rules {
            if let rejection = rule.check(event, context) { return rejection }
        }
        return nil
    }

    /// What a connection that proved `pubkeys` may read.
    public func readScope(authenticatedAs pubkeys: Set<Bytes32>) -> ReadScope {
        pubkeys.isEmpty ? anonymousScope : Self.scope(policy, authenticatedAs: pubkeys)
    }

    private static func scope(_ policy: Policy, authenticatedAs pubkeys: Set<Bytes32>) -> ReadScope {
        let hidden = pubkeys.isEmpty ? policy.authRequiredKinds : []
        let party = policy.protectDirectMessages ? Policy.directMessageKinds : []
        if hidden.isEmpty && party.isEmpty { return .everything }
        return ReadScope(hiddenKinds: hidden, partyKinds: party, parties: Array(pubkeys))
    }

    /// Whether a live `event` may go to a connection that proved `pubkeys`; the same rule as
    /// `readScope`, checked on the decoded event without building a scope.
    public func admitsLive(_ event: Event, authenticatedAs pubkeys: () -> Set<Bytes32>) -> Bool {
        guard Filter.contains(restrictedReadKinds, event.kind) else { return true }
        let pubkeys = pubkeys()
        if pubkeys.isEmpty { return false }
        guard policy.protectDirectMessages, Policy.directMessageKinds.contains(event.kind) else { return true }
        if pubkeys.contains(event.pubkey) { return true }
        for tag in event.tags where tag.count >= 2 && tag.field(0, equals: "p") {
            if let pubkey = tag.withField(1, { Bytes32(hex: $0) }), pubkeys.contains(pubkey) { return true }
        }
        return false
    }

    /// Whether connections from `address` are refused (NIP-86 `blockip`).
    public func isBlocked(_ address: String) -> Bool { blockedAddresses.contains(address) }
}
