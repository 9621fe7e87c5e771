import NostrCore

/// What the operator says about the relay: NIP-11 fields and the address clients use.
public struct RelayInfo: Sendable, Equatable {
    public var name = "tern"
    public var description = "A Nostr relay written in Swift."
    public var pubkey: String?
    public var contact: String?
    public var icon: String?
    /// The public WebSocket URL (used to check NIP-42 `relay` tags); empty: any host is accepted.
    public var url = ""
    /// Where the relay's software lives (NIP-11 `software`); left out when not set.
    public var software: String?
    public static let version = "0.1.0"
    /// Exactly the NIPs implemented.
    public static let supportedNIPs = [1, 9, 11, 13, 40, 42, 45, 50, 62, 70, 77, 86]

    public init() {}

    /// The NIP-11 relay information document.
    public func document(limits: Limits, policy: Policy) -> [UInt8] {
        var o = ObjectWriter()
        o.string("name", name)
        o.string("description", description)
        if let pubkey { o.string("pubkey", pubkey) }
        if let contact { o.string("contact", contact) }
        if let icon { o.string("icon", icon) }
        o.raw("supported_nips", "[" + Self.supportedNIPs.map { "\($0)" }.joined(separator: ",") + "]")
        if let software { o.string("software", software) }
        o.string("version", Self.version)
        var l = ObjectWriter()
        l.raw("max_message_length", "\(limits.maxMessageLength)")
        l.raw("max_subscriptions", "\(limits.maxSubscriptions)")
        l.raw("max_filters", "\(limits.maxFilters)")
        l.raw("max_limit", "\(limits.maxLimit)")
        l.raw("default_limit", "\(limits.defaultLimit)")
        l.raw("max_subid_length", "\(limits.maxSubscriptionIDLength)")
        l.raw("max_event_tags", "\(limits.maxEventTags)")
        l.raw("max_content_length", "\(limits.maxContentLength)")
        l.raw("auth_required", policy.authRequiredForReads || policy.authRequiredForWrites ? "true" : "false")
        l.raw("payment_required", "false")
        l.raw("restricted_writes", policy.restrictsWrites ? "true" : "false")
        if policy.minPowDifficulty > 0 { l.raw("min_pow_difficulty", "\(policy.minPowDifficulty)") }
        if limits.createdAtLowerLimit > 0 { l.raw("created_at_lower_limit", "\(limits.createdAtLowerLimit)") }
        l.raw("created_at_upper_limit", "\(limits.createdAtUpperLimit)")
        // Not NIP-11 fields (clients ignore what they do not know): how REQs are read.
        l.raw("reader_threads", "\(limits.readerThreads)")
        l.raw("reader_queue_depth", "\(limits.readerQueueDepth)")
        // NIP-77: the bounds of negentropy sessions.
        l.raw("max_negentropy_sessions", "\(limits.maxNegentropySessions)")
        l.raw("max_sync_events", "\(limits.maxSyncEvents)")
        l.raw("negentropy_frame_size", "\(limits.negentropyFrameSize)")
        o.raw("limitation", l.finish())
        return Array(o.finish().utf8)
    }
}

/// Builds a JSON object from keys and pre-rendered values.
struct ObjectWriter {
    private var out: [UInt8] = [UInt8(ascii: "{")]

    mutating func raw(_ key: String, _ json: String) {
        if out.count > 1 { out.append(UInt8(ascii: ",")) }
        JSONWriter.appendString(key, to: &out, mode: .output)
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: Array(json.utf8))
    }

    mutating func string(_ key: String, _ value: String) {
        var v: [UInt8] = []
        JSONWriter.appendString(value, to: &v, mode: .output)
        raw(key, String(decoding: v, as: UTF8.self))
    }

    mutating func finish() -> String {
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
