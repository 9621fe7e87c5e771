/// NIP-01 kind classes, which decide how a relay stores an event.
public enum KindClass: Sendable, Equatable {
    case regular
    case replaceable
    case ephemeral
    case addressable

    public init(kind: UInt16) {
        switch kind {
        case 0, 3, 10000..<20000: self = .replaceable
        case 20000..<30000: self = .ephemeral
        case 30000..<40000: self = .addressable
        default: self = .regular
        }
    }
}

public enum Kinds {
    public static let deletion: UInt16 = 5
    /// NIP-62 request to vanish.
    public static let vanish: UInt16 = 62
    /// NIP-59 gift wrap.
    public static let giftWrap: UInt16 = 1059
    public static let auth: UInt16 = 22242
}
