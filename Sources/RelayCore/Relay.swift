import Logging
import NostrCore
import NostrStore

/// Everything the connections share: limits, policy, the four services, the store, the writer
/// and the live subscription index. Built once at start-up and passed to each session.
public final class Relay: Sendable {
    public let info: RelayInfo
    public let limits: Limits
    public let policy: Policy
    public let store: EventStore
    public let writer: EventWriter
    public let subscriptions: SubscriptionIndex
    public let validation: ValidationService
    public let authorization: AuthorizationService
    public let routing: RoutingService
    public let processing: ProcessingService
    public let clock: UnixClock
    public let logger: Logger
    public let parseLimits: ParseLimits

    public init(
        info: RelayInfo, limits: Limits, policy: Policy, store: EventStore, writer: EventWriter,
        clock: @escaping UnixClock, logger: Logger
    ) {
        self.info = info
        self.limits = limits
        self.policy = policy
        self.store = store
        self.writer = writer
        self.clock = clock
        self.logger = logger
        subscriptions = SubscriptionIndex()
        validation = ValidationService(limits: limits)
        authorization = AuthorizationService(policy: policy, limits: limits, relayURL: info.url)
        routing = RoutingService()
        processing = ProcessingService(writer: writer, subscriptions: subscriptions)
        parseLimits = ParseLimits(
            maxSubscriptionIDLength: limits.maxSubscriptionIDLength, maxFilters: limits.maxFilters,
            maxFilterValues: limits.maxFilterValues, maxLimit: limits.maxLimit)
    }

    public var informationDocument: [UInt8] { info.document(limits: limits, policy: policy) }
}
