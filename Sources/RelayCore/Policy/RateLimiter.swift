import NIOConcurrencyHelpers
import NostrCore

/// Token buckets, one per key (an IP address, a pubkey): each holds up to `capacity` tokens and
/// gains `perMinute / 60` a second; an action takes one token or is refused. Buckets are
/// created on first use and, when there are more than `maxKeys`, the full ones are forgotten
/// (a full bucket is the same as a new one).
public final class RateLimiter<Key: Hashable & Sendable>: Sendable {
    public let rate: RateLimits.Rate
    let maxKeys: Int
    /// Monotonic nanoseconds.
    let clock: @Sendable () -> UInt64
    private let buckets = NIOLockedValueBox<[Key: Bucket]>([:])

    struct Bucket {
        var tokens: Double
        var at: UInt64
    }

    public init(rate: RateLimits.Rate, maxKeys: Int = 100_000, clock: @escaping @Sendable () -> UInt64) {
        self.rate = rate
        self.maxKeys = maxKeys
        self.clock = clock
    }

    /// Takes a token for `key`; false when its bucket is empty.
    public func take(_ key: Key) -> Bool {
        let now = clock()
        let capacity = Double(rate.capacity)
        let perNanosecond = Double(rate.perMinute) / 60e9
        return buckets.withLockedValue { buckets in
            if buckets.count >= maxKeys, buckets[key] == nil {
                Self.forgetFull(&buckets, now, capacity, perNanosecond, maxKeys: maxKeys)
            }
            var bucket = buckets[key] ?? Bucket(tokens: capacity, at: now)
            if now > bucket.at {
                bucket.tokens = min(capacity, bucket.tokens + Double(now - bucket.at) * perNanosecond)
                bucket.at = now
            }
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return false
            }
            bucket.tokens -= 1
            buckets[key] = bucket
            return true
        }
    }

    private static func forgetFull(
        _ buckets: inout [Key: Bucket], _ now: UInt64, _ capacity: Double, _ rate: Double, maxKeys: Int
    ) {
        buckets = buckets.filter { _, b in b.tokens + Double(now &- b.at) * rate < capacity }
        // Still too many keys that are all busy: start over rather than grow without bound.
        if buckets.count >= maxKeys { buckets.removeAll() }
    }

    var keyCount: Int { buckets.withLockedValue { $0.count } }
}

/// The write rule of the event buckets: one per IP address and one per author.
struct EventRate: WriteRule {
    let perIP: RateLimiter<String>?
    let perPubkey: RateLimiter<Bytes32>?

    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        if let perIP, !perIP.take(context.address) {
            return .rateLimited("you are publishing too fast from your address, slow down")
        }
        if let perPubkey, !perPubkey.take(event.pubkey) {
            return .rateLimited("this pubkey is publishing too fast, slow down")
        }
        return nil
    }
}
