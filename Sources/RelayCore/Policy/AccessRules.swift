import NostrCore

/// NIP-42: no event before AUTH.
struct AuthToWrite: WriteRule {
    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        context.auth.isAuthenticated
            ? nil : .authRequired("this relay only accepts events from authenticated users")
    }
}

/// NIP-70: a protected event (`["-"]`) only from its authenticated author, or never.
struct ProtectedEvents: WriteRule {
    let accept: Bool

    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        guard event.isProtected else { return nil }
        guard accept else { return .blocked("this relay does not accept protected events") }
        if !context.auth.isAuthenticated { return .authRequired("this event may only be published by its author") }
        if !context.auth.pubkeys.contains(event.pubkey) {
            return .restricted("this event may only be published by its author")
        }
        return nil
    }
}

/// The `allowlist` and `follows` modes: only members publish. An event passes when its author
/// is a member, or when the connection authenticated as one (a member publishing an event
/// signed by another key, such as a gift wrap).
struct Members: WriteRule {
    let members: Set<Bytes32>
    let mode: Policy.AccessMode

    func check(_ event: Event, _ context: WriteContext) -> Rejection? {
        if members.contains(event.pubkey) { return nil }
        for pubkey in context.auth.pubkeys where members.contains(pubkey) { return nil }
        switch mode {
        case .open: return nil
        case .allowlist: return .restricted("this relay only accepts events from pubkeys on its allow list")
        case .follows: return .restricted("this relay only accepts events from pubkeys its admins follow")
        }
    }
}
