import Benchmark
import NostrCore
import NostrTools
import RelayCore

/// The write policy's cost per event, as a session pays it: take the snapshot in force, run
/// its rules. The default set (NIP-70 alone) and one with every cheap rule configured.
func policyBenchmarks() {
    let context = WriteContext(auth: AuthState(challenge: "c"), address: "127.0.0.1", now: Fixtures.note.createdAt)
    let cases: [(String, Policy)] = [
        ("authorize_event_default_policy", Policy()),
        ("authorize_event_every_rule_configured", PolicyBenchmarkFixtures.everyRule),
    ]
    for (name, policy) in cases {
        let service = AuthorizationService(policy: policy, limits: Limits(), relayURL: "")
        if name.hasSuffix("configured") {
            service.updateLists { lists in
                lists.banPubkey(Bytes32(w0: 9, w1: 9, w2: 9, w3: 9), reason: "")
                lists.bannedEvents[Bytes32(w0: 8, w1: 8, w2: 8, w3: 8)] = ""
                lists.blockedIPs["203.0.113.7"] = ""
            }
        }
        precondition(service.authorizeWrite(Fixtures.note, context) == .allow, "\(name) must let the note through")
        Benchmark(name) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(service.authorizeWrite(Fixtures.note, context))
            }
        }
    }
}

enum PolicyBenchmarkFixtures {
    /// Allowlist mode with 1,000 members (the note's author among them), 1,000 denied pubkeys,
    /// kind allow and deny lists, per-kind limits, and both event buckets (never empty here).
    static var everyRule: Policy {
        var policy = Policy()
        policy.mode = .allowlist
        policy.allowPubkeys = (0..<999).map { Bytes32(w0: UInt64($0), w1: 1, w2: 1, w3: 1) } + [Fixtures.note.pubkey]
        policy.denyPubkeys = (0..<1000).map { Bytes32(w0: UInt64($0), w1: 2, w2: 2, w3: 2) }
        policy.allowKinds = [0, 1, 3, 5, 6, 7, 1059, 30023]
        policy.denyKinds = [4]
        policy.kindLimits[1] = KindLimit(maxContentLength: 10_000, maxTags: 100)
        policy.rateLimits.eventsPerIP = RateLimits.Rate(perMinute: 1_000_000_000, burst: 1_000_000_000)
        policy.rateLimits.eventsPerPubkey = RateLimits.Rate(perMinute: 1_000_000_000, burst: 1_000_000_000)
        return policy
    }
}
