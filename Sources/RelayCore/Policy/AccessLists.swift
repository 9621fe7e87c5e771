import NostrCore

/// What the operator changes while the relay runs, through NIP-86 or `tern admin`: bans and
/// allowances, each with its reason, and the relay's name, description and icon. Kept in the
/// store (`ManagementStore`) so that it survives restarts, and applied at once to new events.
public struct AccessLists: Sendable, Equatable {
    public var bannedPubkeys: [Bytes32: String] = [:]
    public var allowedPubkeys: [Bytes32: String] = [:]
    /// A banned event is deleted and refused from then on.
    public var bannedEvents: [Bytes32: String] = [:]
    /// Added to the file's `allow_kinds`: when both are empty, every kind is allowed.
    public var allowedKinds: Set<UInt16> = []
    public var disallowedKinds: Set<UInt16> = []
    public var blockedIPs: [String: String] = [:]
    public var name: String?
    public var description: String?
    public var icon: String?

    public init() {}

    public mutating func banPubkey(_ pubkey: Bytes32, reason: String) {
        bannedPubkeys[pubkey] = reason
        allowedPubkeys[pubkey] = nil
    }

    public mutating func allowPubkey(_ pubkey: Bytes32, reason: String) {
        allowedPubkeys[pubkey] = reason
        bannedPubkeys[pubkey] = nil
    }

    public mutating func allowKind(_ kind: UInt16) {
        allowedKinds.insert(kind)
        disallowedKinds.remove(kind)
    }

    public mutating func disallowKind(_ kind: UInt16) {
        allowedKinds.remove(kind)
        disallowedKinds.insert(kind)
    }

    /// The relay's information with the names changed here.
    public func applied(to info: RelayInfo) -> RelayInfo {
        var info = info
        if let name { info.name = name }
        if let description { info.description = description }
        if let icon { info.icon = icon }
        return info
    }
}
