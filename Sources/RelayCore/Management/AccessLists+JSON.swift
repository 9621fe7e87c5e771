import NostrCore

/// The lists as the store keeps them: one JSON object, written whole after each change.
extension AccessLists {
    static let settingKey = "nip86_lists"

    var json: JSONValue {
        func reasons<K>(_ map: [K: String], _ name: String, _ key: (K) -> String) -> JSONValue {
            .array(
                map.map { ($0, $1) }.sorted { key($0.0) < key($1.0) }.map {
                    .object([(name, .string(key($0.0))), ("reason", .string($0.1))])
                })
        }
        var members: [(String, JSONValue)] = [
            ("banned_pubkeys", reasons(bannedPubkeys, "pubkey", \.hex)),
            ("allowed_pubkeys", reasons(allowedPubkeys, "pubkey", \.hex)),
            ("banned_events", reasons(bannedEvents, "id", \.hex)),
            ("allowed_kinds", .array(allowedKinds.sorted().map { .integer(Int64($0)) })),
            ("disallowed_kinds", .array(disallowedKinds.sorted().map { .integer(Int64($0)) })),
            ("blocked_ips", reasons(blockedIPs, "ip", { $0 })),
        ]
        if let name { members.append(("name", .string(name))) }
        if let description { members.append(("description", .string(description))) }
        if let icon { members.append(("icon", .string(icon))) }
        return .object(members)
    }

    /// Reads what `json` wrote; nil when the stored value is not such an object.
    init?(json value: JSONValue) {
        self.init()
        guard case .object = value else { return nil }
        func entries(_ name: String, _ key: String) -> [(String, String)]? {
            guard let items = value[name]?.array else { return nil }
            var out: [(String, String)] = []
            for item in items {
                guard let k = item[key]?.string else { return nil }
                out.append((k, item["reason"]?.string ?? ""))
            }
            return out
        }
        func kinds(_ name: String) -> Set<UInt16>? {
            guard let items = value[name]?.array else { return nil }
            var out = Set<UInt16>()
            for item in items {
                guard let i = item.integer, let kind = UInt16(exactly: i) else { return nil }
                out.insert(kind)
            }
            return out
        }
        func keyed(_ pairs: [(String, String)]) -> [Bytes32: String]? {
            var out: [Bytes32: String] = [:]
            for (hex, reason) in pairs {
                guard let key = Bytes32(hex: Array(hex.utf8)) else { return nil }
                out[key] = reason
            }
            return out
        }
        guard let banned = entries("banned_pubkeys", "pubkey").flatMap(keyed),
            let allowed = entries("allowed_pubkeys", "pubkey").flatMap(keyed),
            let events = entries("banned_events", "id").flatMap(keyed),
            let ips = entries("blocked_ips", "ip"),
            let allowedKinds = kinds("allowed_kinds"), let disallowedKinds = kinds("disallowed_kinds")
        else { return nil }
        bannedPubkeys = banned
        allowedPubkeys = allowed
        bannedEvents = events
        blockedIPs = Dictionary(ips, uniquingKeysWith: { $1 })
        self.allowedKinds = allowedKinds
        self.disallowedKinds = disallowedKinds
        name = value["name"]?.string
        description = value["description"]?.string
        icon = value["icon"]?.string
    }
}
