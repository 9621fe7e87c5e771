import NostrCore

/// NIP-13: the event id must have at least `minimum` leading zero bits, and a committed target
/// (the `nonce` tag's third value), when present, must not be below it: a spammer aiming lower
/// who got lucky is still refused.
struct ProofOfWork: WriteRule {
    let minimum: Int

    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        let bits = Self.difficulty(event.id)
        if bits < minimum { return .pow("difficulty \(bits) is less than \(minimum)") }
        for tag in event.tags where tag.count >= 3 && tag.field(0, equals: "nonce") {
            guard let target = Int(tag[2]) else { return .pow("the nonce tag's target difficulty is not a number") }
            if target < minimum { return .pow("committed target difficulty \(target) is less than \(minimum)") }
        }
        return nil
    }

    /// The number of leading zero bits of the id.
    static func difficulty(_ id: Bytes32) -> Int {
        if id.w0 != 0 { return id.w0.leadingZeroBitCount }
        if id.w1 != 0 { return 64 + id.w1.leadingZeroBitCount }
        if id.w2 != 0 { return 128 + id.w2.leadingZeroBitCount }
        return 192 + id.w3.leadingZeroBitCount
    }
}
