/// Every reason the relay refuses or qualifies something, mapped to the NIP-01 / NIP-42
/// machine-readable prefixes in exactly one place.
public enum Rejection: Error, Sendable, Equatable {
    case duplicate(String)
    case pow(String)
    case blocked(String)
    case rateLimited(String)
    case invalid(String)
    case restricted(String)
    case mute(String)
    case authRequired(String)
    case unsupported(String)
    case error(String)

    public var prefix: String {
        switch self {
        case .duplicate: "duplicate"
        case .pow: "pow"
        case .blocked: "blocked"
        case .rateLimited: "rate-limited"
        case .invalid: "invalid"
        case .restricted: "restricted"
        case .mute: "mute"
        case .authRequired: "auth-required"
        case .unsupported: "unsupported"
        case .error: "error"
        }
    }

    public var detail: String {
        switch self {
        case .duplicate(let m), .pow(let m), .blocked(let m), .rateLimited(let m), .invalid(let m),
            .restricted(let m), .mute(let m), .authRequired(let m), .unsupported(let m), .error(let m):
            m
        }
    }

    /// The full `prefix: message` text of an OK or CLOSED answer.
    public var message: String { "\(prefix): \(detail)" }
}
