import NostrCore

/// Pubkeys refused in every mode: the file's `deny_pubkeys` and NIP-86 bans.
struct DeniedPubkeys: WriteRule {
    let pubkeys: Set<Bytes32>

    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        pubkeys.contains(event.pubkey) ? .blocked("this pubkey is banned from this relay") : nil
    }
}

/// Events banned through NIP-86: deleted, and refused if published again.
struct BannedEvents: WriteRule {
    let ids: Set<Bytes32>

    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        ids.contains(event.id) ? .blocked("this event is banned from this relay") : nil
    }
}

/// Kinds refused (`deny_kinds`, NIP-86 `disallowkind`), and when an allow list is set, every
/// kind not on it (`allow_kinds`, NIP-86 `allowkind`).
struct KindList: WriteRule {
    /// Nil: every kind not denied.
    let allowed: Set<UInt16>?
    let denied: Set<UInt16>

    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        if denied.contains(event.kind) { return .blocked("kind \(event.kind) is not accepted by this relay") }
        if let allowed, !allowed.contains(event.kind) {
            return .blocked("kind \(event.kind) is not accepted by this relay")
        }
        return nil
    }
}

/// Addresses blocked through NIP-86 (their connections are also refused when they open).
struct BlockedAddresses: WriteRule {
    let addresses: Set<String>

    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        addresses.contains(context.address) ? .blocked("your address is blocked by this relay") : nil
    }
}

/// Per-kind limits on content length and tag count, tighter than the relay-wide ones.
struct KindLimits: WriteRule {
    let limits: [UInt16: KindLimit]

    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        guard let limit = limits[event.kind] else { return nil }
        if let max = limit.maxTags, event.tags.count > max {
            return .invalid("too many tags for kind \(event.kind) (max \(max))")
        }
        if let max = limit.maxContentLength, event.content.unicodeScalars.count > max {
            return .invalid("content is longer than \(max) characters for kind \(event.kind)")
        }
        return nil
    }
}
