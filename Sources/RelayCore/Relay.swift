import EventStorage
import Logging
import NostrCore

/// Everything the connections share: limits, policy, the four services, the store, and the
/// stages of the pipeline (readers, writer, matcher, live subscription index). Built once at
/// start-up and passed to each session.
public final class Relay: Sendable {
    /// The operator's information as configured (NIP-86 changes are in `currentInfo`).
    public let info: RelayInfo
    public let limits: Limits
    public let storage: any EventStorage
    public let writer: EventWriter
    public let matcher: Matcher
    public let readers: ReaderPool
    public let subscriptions: SubscriptionIndex
    public let validation: ValidationService
    public let authorization: AuthorizationService
    public let routing: RoutingService
    public let processing: ProcessingService
    public let management: ManagementService
    public let plugin: WritePolicyPlugin
    public let clock: UnixClock
    public let logger: Logger
    public let parseLimits: ParseLimits
    public let metrics: RelayMetrics

    /// `writerCapacity`: writes the writer's inbox holds (tests make it small). `writeGatherSeconds`:
    /// how long the writer lets writes gather into one commit when several are waiting
    /// (`EventWriter.init`, `gatherSeconds`).
    public init(
        info: RelayInfo, limits: Limits, policy: Policy, storage: any EventStorage, writerCapacity: Int = 4096,
        writeGatherSeconds: Double = 0, clock: @escaping UnixClock, logger: Logger,
        metrics: RelayMetrics = RelayMetrics()
    ) {
        self.metrics = metrics
        self.info = info
        self.limits = limits
        self.storage = storage
        self.clock = clock
        self.logger = logger
        let authorization = AuthorizationService(policy: policy, limits: limits, relayURL: info.url)
        self.authorization = authorization
        subscriptions = SubscriptionIndex()
        matcher = Matcher(subscriptions: subscriptions, onSaved: { authorization.committed($0) })
        func module(_ name: String) -> Logger {
            var l = logger
            l[metadataKey: "module"] = "\(name)"
            return l
        }
        writer = EventWriter(
            storage: storage, sink: matcher, capacity: writerCapacity, gatherSeconds: writeGatherSeconds, clock: clock,
            logger: module("writer"),
            observer: { metrics.committed(events: $0, nanoseconds: $1) })
        readers = ReaderPool(threads: limits.readerThreads, queueDepth: limits.readerQueueDepth)
        validation = ValidationService(limits: limits)
        routing = RoutingService(relayURL: info.url)
        processing = ProcessingService(writer: writer, matcher: matcher, feed: storage.sharedFeed)
        plugin = WritePolicyPlugin(processing: processing, logger: module("plugin"))
        plugin.configure(policy.plugin)
        management = ManagementService(
            authorization: authorization, writer: writer,
            httpAuth: HTTPAuth(relayURL: info.url, validation: validation), clock: clock, logger: module("nip86"))
        parseLimits = ParseLimits(
            maxSubscriptionIDLength: limits.maxSubscriptionIDLength, maxFilters: limits.maxFilters,
            maxFilterValues: limits.maxFilterValues, maxLimit: limits.maxLimit)
    }

    /// Reads the NIP-86 lists and the admins' contact lists, then starts the writer and the
    /// matcher.
    public func start() {
        do {
            if let lists = try ManagementService.loadLists(from: storage) { authorization.updateLists { $0 = lists } }
        } catch {
            logger.error("cannot read the stored NIP-86 lists; starting without them", metadata: ["error": "\(error)"])
        }
        loadContactLists()
        matcher.start()
        writer.start()
        plugin.start()
        storage.sharedFeed?.start { [matcher] items in matcher.remote(items) }
    }

    /// Puts a new policy in force (SIGHUP): new events and REQs see it at once, open
    /// connections and subscriptions stay.
    public func reload(_ policy: Policy) {
        let adminsChanged = Set(policy.admins) != Set(authorization.snapshot.policy.admins)
        authorization.reload(policy)
        plugin.configure(policy.plugin)
        if adminsChanged { loadContactLists() }
    }

    private func loadContactLists() {
        do {
            try authorization.loadContactLists(from: storage, now: clock())
        } catch {
            logger.error("cannot read the admins' contact lists", metadata: ["error": "\(error)"])
        }
    }

    /// The relay's information with the NIP-86 changes.
    public var currentInfo: RelayInfo { authorization.snapshot.lists.applied(to: info) }

    /// Commits and answers what the writer holds, delivers what the matcher holds, and stops
    /// the readers. The store stays open (`storage.close()` after).
    public func shutdown() {
        plugin.shutdown()
        writer.shutdown()
        processing.feed?.stop()
        matcher.shutdown()
        readers.shutdown()
    }

    /// Reads the queue depths and the store's size into the metrics' gauges (at a scrape).
    public func sampleMetrics(connections: Int, outboundBytes: Int) {
        metrics.sample(
            connections: connections, writerQueue: writer.queued, readerQueue: readers.pending,
            matcherQueue: matcher.queued, outboundBytes: outboundBytes, storeBytes: storage.storedBytes,
            events: storage.count)
    }

    public var informationDocument: [UInt8] {
        let snapshot = authorization.snapshot
        return snapshot.lists.applied(to: info).document(limits: limits, policy: snapshot.policy)
    }
}
