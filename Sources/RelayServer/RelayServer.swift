import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import RelayCore
import Synchronization

/// The relay's network front: one TCP port serving HTTP (NIP-11, page, health) and WebSocket
/// upgrades at `/`, on a SwiftNIO event loop group with one loop per core.
public final class RelayServer: Sendable {
    public let relay: Relay
    private let group: MultiThreadedEventLoopGroup
    private let registry: ConnectionRegistry
    private let ledger: OutboundLedger
    private let nextConnectionID = Atomic<UInt64>(1)
    private let serverChannel = NIOLockedValueBox<Channel?>(nil)
    private let metricsChannel = NIOLockedValueBox<Channel?>(nil)
    private let sampler = NIOLockedValueBox<RepeatedTask?>(nil)
    private let stopped = Atomic<Bool>(false)
    private let history: StatusHistory
    /// permessage-deflate: the settings, the loops' shared zlib streams, the compressed
    /// connections' count.
    private let compression: CompressionPool
    private let logger: Logger
    /// The metrics backend's text (Prometheus'), when the operator wants `/metrics`.
    private let metricsText: (@Sendable () -> [UInt8])?
    /// `/metrics` on the relay's port (else only on the port `startMetrics` opens).
    private let metricsOnRelayPort: Bool

    /// `metricsText` renders the metrics (the relay's gauges are sampled just before);
    /// `metricsOnRelayPort` serves them at `/metrics` on the relay's port too.
    public init(
        relay: Relay, threads: Int = System.coreCount, metricsText: (@Sendable () -> [UInt8])? = nil,
        metricsOnRelayPort: Bool = true, compression: CompressionSettings = CompressionSettings()
    ) {
        self.compression = CompressionPool(settings: compression)
        self.relay = relay
        var logger = relay.logger
        logger[metadataKey: "module"] = "server"
        self.logger = logger
        self.metricsText = metricsText
        self.metricsOnRelayPort = metricsOnRelayPort
        self.history = StatusHistory(now: relay.clock())
        self.registry = ConnectionRegistry(
            maxConnections: relay.limits.maxConnections, maxConnectionsPerAddress: relay.limits.maxConnectionsPerIP)
        self.ledger = OutboundLedger(budget: relay.limits.outboundBudgetTotal)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    }

    /// Binds and starts accepting. Returns the bound port (useful with port 0).
    @discardableResult
    public func start(host: String, port: Int) throws -> Int {
        let relay = relay
        let registry = registry
        let ledger = ledger
        let limits = relay.limits
        let compression = compression
        let httpRoutes = routes(metricsOnly: false)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                let connectionID = nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    let http = HTTPHandler(relay: relay, routes: httpRoutes)
                    let httpOnLoop = NIOLoopBound(http, eventLoop: channel.eventLoop)
                    // What permessage-deflate this connection agreed, between the two closures.
                    let agreed = NIOLoopBoundBox<DeflateParameters?>(nil, eventLoop: channel.eventLoop)
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: limits.maxMessageLength,
                        automaticErrorHandling: false,
                        shouldUpgrade: { channel, head in
                            let path = head.uri.split(separator: "?", maxSplits: 1).first ?? "/"
                            guard path == "/" else { return channel.eventLoop.makeSucceededFuture(nil) }
                            var headers = HTTPHeaders()
                            if compression.settings.enabled,
                                let parameters = DeflateParameters.negotiate(
                                    head.headers, settings: compression.settings),
                                compression.admit()
                            {
                                agreed.value = parameters
                                headers.add(name: "Sec-WebSocket-Extensions", value: parameters.responseHeader)
                                channel.closeFuture.whenComplete { _ in compression.release() }
                            }
                            return channel.eventLoop.makeSucceededFuture(headers)
                        },
                        upgradePipelineHandler: { channel, head in
                            let address = Self.clientAddress(
                                peer: channel.remoteAddress?.ipAddress ?? "unknown", head: head,
                                trusted: limits.trustedProxies)
                            return channel.eventLoop.makeCompletedFuture {
                                let sync = channel.pipeline.syncOperations
                                var deflater: MessageDeflater?
                                if let parameters = agreed.value {
                                    deflater = try compression.deflater(for: parameters, on: channel.eventLoop)
                                    try sync.addHandler(
                                        MessageInflater(
                                            inflater: try compression.inflater(on: channel.eventLoop),
                                            maxMessageLength: limits.maxMessageLength))
                                }
                                try sync.addHandler(
                                    NIOWebSocketFrameAggregator(
                                        minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024,
                                        maxAccumulatedFrameSize: limits.maxMessageLength))
                                try sync.addHandler(
                                    WebSocketHandler(
                                        relay: relay, connectionID: connectionID, registry: registry, ledger: ledger,
                                        address: address, deflater: deflater))
                            }
                        })
                    try sync.addHandler(IdleStateHandler(readTimeout: .seconds(limits.pingInterval)))
                    try sync.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                context.pipeline.syncOperations.removeHandler(httpOnLoop.value, promise: nil)
                            }
                        ))
                    try sync.addHandler(http)
                }
            }
        let channel = try bootstrap.bind(host: host, port: port).wait()
        serverChannel.withLockedValue { $0 = channel }
        let bound = channel.localAddress?.port ?? port
        let interval = TimeAmount.seconds(StatusHistory.interval)
        let task = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: interval) { [self] _ in
            history.record(now: relay.clock(), connections: registry.count, totals: relay.metrics.totals)
        }
        sampler.withLockedValue { $0 = task }
        logger.info("listening", metadata: ["address": "\(host):\(bound)"])
        return bound
    }

    /// Serves `/metrics` (only) on a port of its own, for a scraper on a private address.
    /// Returns the bound port.
    @discardableResult
    public func startMetrics(host: String, port: Int) throws -> Int {
        let routes = routes(metricsOnly: true)
        let relay = relay
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: .seconds(30)))
                    try sync.configureHTTPServerPipeline()
                    try sync.addHandler(HTTPHandler(relay: relay, routes: routes))
                }
            }
        let channel = try bootstrap.bind(host: host, port: port).wait()
        metricsChannel.withLockedValue { $0 = channel }
        let bound = channel.localAddress?.port ?? port
        logger.info("metrics listening", metadata: ["address": "\(host):\(bound)"])
        return bound
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the last address
    /// its `X-Forwarded-For` adds (the one it saw; earlier ones come from the client and prove
    /// nothing), else its `X-Real-IP`.
    static func clientAddress(peer: String, head: HTTPRequestHead, trusted: [String]) -> String {
        guard trusted.contains(peer) else { return peer }
        if let forwarded = head.headers["x-forwarded-for"].last,
            let last = forwarded.split(separator: ",").last.map({ $0.filter { $0 != " " } }), !last.isEmpty
        {
            return last
        }
        if let real = head.headers["x-real-ip"].first?.filter({ $0 != " " }), !real.isEmpty { return real }
        return peer
    }

    private func routes(metricsOnly: Bool) -> HTTPRoutes {
        let relay = relay
        let registry = registry
        let ledger = ledger
        let history = history
        let metrics = metricsText.map { text in
            { @Sendable () -> [UInt8] in
                relay.sampleMetrics(connections: registry.count, outboundBytes: ledger.queued)
                return text()
            }
        }
        return HTTPRoutes(
            healthy: { [self] in !stopped.load(ordering: .relaxed) && relay.storage.checkHealth() },
            stats: {
                history.json(
                    name: relay.currentInfo.name, now: relay.clock(), connections: registry.count,
                    events: relay.storage.count, storeBytes: relay.storage.storedBytes)
            },
            figures: {
                StatusPage.Figures(
                    connections: registry.count, events: relay.storage.count, storeBytes: relay.storage.storedBytes)
            },
            metrics: metricsOnly || metricsOnRelayPort ? metrics : nil,
            metricsOnly: metricsOnly)
    }

    public var connectionCount: Int { registry.count }

    /// Connections that agreed permessage-deflate.
    public var compressedConnectionCount: Int { compression.compressedConnections }

    /// Succeeds once no WebSocket connection is open (its resources freed); fails with
    /// `ConnectionsStillOpen` when that takes longer than `timeout`.
    public func whenNoConnections(within timeout: TimeAmount) -> EventLoopFuture<Void> {
        let loop = group.next()
        let promise = loop.makePromise(of: Void.self)
        let deadline = loop.scheduleTask(in: timeout) { promise.fail(ConnectionsStillOpen()) }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        registry.whenEmpty(promise)
        return promise.futureResult
    }

    /// Bytes queued for all clients together, as the outbound ledger counts them.
    public var queuedOutboundBytes: Int { ledger.queued }

    /// Graceful shutdown: stop accepting, stop reading, let the writer commit and the matcher
    /// answer what they hold, stop the readers, then close every connection with a close frame.
    public func shutdown() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        logger.info("shutting down", metadata: ["connections": "\(registry.count)"])
        if let channel = serverChannel.withLockedValue({ $0 }) { try? channel.close().wait() }
        if let channel = metricsChannel.withLockedValue({ $0 }) { try? channel.close().wait() }
        sampler.withLockedValue { $0 }?.cancel()
        let connections = registry.all
        for transport in connections {
            try? transport.loop.submit { transport.setReading(false) }.wait()
        }
        relay.shutdown()
        for transport in connections {
            let closed = transport.loop.submit { () -> EventLoopFuture<Void> in
                transport.close(code: .goingAway, reason: "relay shutting down")
                return transport.channel.closeFuture
            }.flatMap { $0 }
            _ = try? closed.wait()
        }
        try? group.syncShutdownGracefully()
        relay.storage.close()
        logger.info("stopped")
    }
}

/// `RelayServer.whenNoConnections(within:)` timed out.
public struct ConnectionsStillOpen: Error {}
