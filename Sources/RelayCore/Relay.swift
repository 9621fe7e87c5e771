import EventStorage
import Logging
import NostrCore

/// Everything the connections share: limits, policy, the four services, the store, and the
/// stages of the pipeline (readers, writer, matcher, live subscription index). Built once at
/// start-up and passed to each session.
public final class Relay: Sendable {
    public let info: RelayInfo
    public let limits: Limits
    public let policy: Policy
    public let storage: any EventStorage
    public let writer: EventWriter
    public let matcher: Matcher
    public let readers: ReaderPool
    public let subscriptions: SubscriptionIndex
    public let validation: ValidationService
    public let authorization: AuthorizationService
    public let routing: RoutingService
    public let processing: ProcessingService
    public let clock: UnixClock
    public let logger: Logger
    public let parseLimits: ParseLimits

    /// `writerCapacity`: writes the writer's inbox holds (tests make it small).
    public init(
        info: RelayInfo, limits: Limits, policy: Policy, storage: any EventStorage, writerCapacity: Int = 4096,
        clock: @escaping UnixClock, logger: Logger
    ) {
        self.info = info
        self.limits = limits
        self.policy = policy
        self.storage = storage
        self.clock = clock
        self.logger = logger
        subscriptions = SubscriptionIndex()
        matcher = Matcher(subscriptions: subscriptions)
        writer = EventWriter(storage: storage, sink: matcher, capacity: writerCapacity, clock: clock, logger: logger)
        readers = ReaderPool(threads: limits.readerThreads, queueDepth: limits.readerQueueDepth)
        validation = ValidationService(limits: limits)
        authorization = AuthorizationService(policy: policy, limits: limits, relayURL: info.url)
        routing = RoutingService(relayURL: info.url)
        processing = ProcessingService(writer: writer, matcher: matcher)
        parseLimits = ParseLimits(
            maxSubscriptionIDLength: limits.maxSubscriptionIDLength, maxFilters: limits.maxFilters,
            maxFilterValues: limits.maxFilterValues, maxLimit: limits.maxLimit)
    }

    /// Starts the writer and the matcher.
    public func start() {
        matcher.start()
        writer.start()
    }

    /// Commits and answers what the writer holds, delivers what the matcher holds, and stops
    /// the readers. The store stays open (`storage.close()` after).
    public func shutdown() {
        writer.shutdown()
        matcher.shutdown()
        readers.shutdown()
    }

    public var informationDocument: [UInt8] { info.document(limits: limits, policy: policy) }
}
