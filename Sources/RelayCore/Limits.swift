#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The limits the relay enforces and advertises in NIP-11 under `limitation`.
public struct Limits: Sendable, Equatable {
    /// Largest WebSocket message accepted, in bytes.
    public var maxMessageLength = 131_072
    /// Largest event accepted, in bytes of its JSON.
    public var maxEventSize = 65_536
    /// Largest `content`, in unicode characters.
    public var maxContentLength = 65_536
    public var maxSubscriptions = 32
    public var maxFilters = 16
    /// Largest number of values in one filter list.
    public var maxFilterValues = 1000
    /// Each filter's `limit` is clamped to this.
    public var maxLimit = 500
    /// Used when a filter has no `limit`.
    public var defaultLimit = 100
    public var maxSubscriptionIDLength = 64
    public var maxEventTags = 2000
    /// Seconds an event's created_at may lie in the future.
    public var createdAtUpperLimit: Int64 = 900
    /// Seconds an event's created_at may lie in the past; 0 means no limit.
    public var createdAtLowerLimit: Int64 = 0
    /// Seconds of silence before the relay pings a client; a client that does not answer the
    /// ping within another interval is disconnected.
    public var pingInterval: Int64 = 30
    /// Seconds without any message from a client before it is disconnected.
    public var idleTimeout: Int64 = 600
    /// Bytes the relay may hold queued for one client that does not read; past it, it is closed.
    public var outboundBudget = 4 << 20
    /// Bytes the relay may hold queued for all clients together; past it, each client that still
    /// holds more than its share (this divided by the open connections, at least 16 KiB) after a
    /// flush is closed.
    public var outboundBudgetTotal = 64 << 20
    /// Events one connection may have waiting for the writer before the relay stops reading it.
    public var maxEventsInFlight = 256
    /// Open WebSocket connections the relay accepts in all; past it, new ones are refused.
    public var maxConnections = 10_000
    /// Open WebSocket connections from one IP address.
    public var maxConnectionsPerIP = 256
    /// Seconds an AUTH event's created_at may differ from now (NIP-42).
    public var authWindow: Int64 = 600
    /// Threads that read the store for REQs (never the event loops).
    public var readerThreads = max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// REQs queued or being read, in all; past it a REQ gets `CLOSED rate-limited:`.
    public var readerQueueDepth = 1024
    /// Proxies (their IP addresses) whose `X-Forwarded-For` names the client: per-address limits
    /// and bans then apply to the client, not to the proxy.
    public var trustedProxies: [String] = []
    /// NIP-77: negentropy reconciliations one connection may have open at once.
    public var maxNegentropySessions = 8
    /// NIP-77: events one reconciliation may cover (each holds 40 bytes while it is open);
    /// past it, NEG-OPEN gets `NEG-ERR blocked:`.
    public var maxSyncEvents = 500_000
    /// NIP-77: the longest negentropy message the relay writes, in bytes before hex (the
    /// NEG-MSG is about twice as long: 60,000 keeps it under the 128 KiB message limit common
    /// among relays and clients).
    public var negentropyFrameSize = 60_000
    /// NIP-77: seconds a reconciliation may wait for the client's next message before the relay
    /// closes it with `NEG-ERR closed:`.
    public var negentropyIdleTimeout: Int64 = 60

    public init() {}
}
