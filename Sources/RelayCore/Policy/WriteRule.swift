import NostrCore

/// What a write rule may look at besides the event: who the connection proved to be, where it
/// comes from, and the time.
public struct WriteContext: Sendable {
    public var auth: AuthState
    /// The client's IP address, as text ("" when not known: imports, tests).
    public var address: String
    public var now: Int64

    public init(auth: AuthState, address: String = "", now: Int64) {
        self.auth = auth
        self.address = address
        self.now = now
    }
}

/// One small rule of the write policy: nil lets the event through to the next rule, a
/// rejection refuses it with its own NIP-01 prefix. Rules hold no lock of their own; each
/// sees one immutable `PolicySnapshot`.
public protocol WriteRule: Sendable {
    func check(_ event: Event, _ context: WriteContext) -> Rejection?
}
