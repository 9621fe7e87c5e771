import CoreMetrics
import EventStorage
import NostrCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The relay's metrics, through swift-metrics (the operator's backend, Prometheus in `tern
/// serve`, is chosen at start-up). Every metric object is made once here, so counting on a hot
/// path is an atomic add and never a lookup. docs/OPERATING.md lists them.
///
/// A few totals are also kept here as plain atomics, for the status page's figures.
public final class RelayMetrics: Sendable {
    /// Client message verbs (NIP-01, NIP-42, NIP-45, NIP-77), and `invalid` for what does not parse.
    public enum Inbound: Int, CaseIterable, Sendable {
        case event, req, close, auth, invalid, count, negOpen, negMsg, negClose
        var label: String {
            ["EVENT", "REQ", "CLOSE", "AUTH", "invalid", "COUNT", "NEG-OPEN", "NEG-MSG", "NEG-CLOSE"][rawValue]
        }
    }

    /// Relay message verbs.
    public enum Outbound: Int, CaseIterable, Sendable {
        case event, ok, eose, closed, notice, auth, count, negMsg, negErr
        var label: String {
            ["EVENT", "OK", "EOSE", "CLOSED", "NOTICE", "AUTH", "COUNT", "NEG-MSG", "NEG-ERR"][rawValue]
        }
    }

    /// Why events were refused, by the prefix of their OK message.
    static let rejectionPrefixes = [
        "invalid", "blocked", "rate-limited", "auth-required", "restricted", "pow", "duplicate", "error", "mute",
        "unsupported",
    ]

    private let messagesIn: [Counter]
    private let messagesOut: [Counter]
    private let stored: Counter
    private let duplicates: Counter
    private let broadcast: Counter
    private let rejected: [String: Counter]
    private let okLatency: CoreMetrics.Timer
    private let queryLatency: CoreMetrics.Timer
    private let batchSize: Recorder
    private let commitTime: CoreMetrics.Timer
    private let slowClients: Counter
    private let connectionsGauge: Gauge
    private let writerQueue: Gauge
    private let readerQueue: Gauge
    private let matcherQueue: Gauge
    private let outboundBytes: Gauge
    private let storeBytes: Gauge
    private let storedEvents: Gauge

    /// Totals for the status page.
    private let acceptedTotal = Atomic<Int>(0)
    private let queriesTotal = Atomic<Int>(0)

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        messagesIn = Inbound.allCases.map {
            Counter(label: "tern_messages_in_total", dimensions: [("verb", $0.label)], factory: factory)
        }
        messagesOut = Outbound.allCases.map {
            Counter(label: "tern_messages_out_total", dimensions: [("verb", $0.label)], factory: factory)
        }
        stored = Counter(label: "tern_events_accepted_total", dimensions: [("as", "stored")], factory: factory)
        duplicates = Counter(label: "tern_events_accepted_total", dimensions: [("as", "duplicate")], factory: factory)
        broadcast = Counter(label: "tern_events_accepted_total", dimensions: [("as", "ephemeral")], factory: factory)
        var rejected: [String: Counter] = [:]
        for prefix in Self.rejectionPrefixes {
            rejected[prefix] = Counter(
                label: "tern_events_rejected_total", dimensions: [("reason", prefix)], factory: factory)
        }
        self.rejected = rejected
        okLatency = CoreMetrics.Timer(label: "tern_ok_latency_seconds", factory: factory)
        queryLatency = CoreMetrics.Timer(label: "tern_query_seconds", factory: factory)
        batchSize = Recorder(label: "tern_writer_batch_events", factory: factory)
        commitTime = CoreMetrics.Timer(label: "tern_writer_commit_seconds", factory: factory)
        slowClients = Counter(label: "tern_slow_clients_dropped_total", factory: factory)
        connectionsGauge = Gauge(label: "tern_connections", factory: factory)
        writerQueue = Gauge(label: "tern_queue_depth", dimensions: [("queue", "writer")], factory: factory)
        readerQueue = Gauge(label: "tern_queue_depth", dimensions: [("queue", "readers")], factory: factory)
        matcherQueue = Gauge(label: "tern_queue_depth", dimensions: [("queue", "matcher")], factory: factory)
        outboundBytes = Gauge(label: "tern_outbound_queued_bytes", factory: factory)
        storeBytes = Gauge(label: "tern_store_bytes", factory: factory)
        storedEvents = Gauge(label: "tern_events_stored", factory: factory)
    }

    /// Monotonic nanoseconds, for the latencies.
    public static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    public func received(_ verb: Inbound) { messagesIn[verb.rawValue].increment() }

    public func sent(_ verb: Outbound, count: Int = 1) { messagesOut[verb.rawValue].increment(by: count) }

    /// An event's OK answer, `started` nanoseconds (monotonic) after it arrived.
    public func answered(_ outcome: Outcome, started: UInt64) {
        switch outcome {
        case .saved:
            stored.increment()
            acceptedTotal.add(1, ordering: .relaxed)
        case .duplicate: duplicates.increment()
        case .broadcast: broadcast.increment()
        case .rejected(let rejection): rejected[rejection.prefix]?.increment()
        }
        okLatency.recordNanoseconds(Int64(Self.now() &- started))
    }

    /// A REQ's EOSE, `started` nanoseconds (monotonic) after the REQ arrived.
    public func queryAnswered(started: UInt64) {
        queriesTotal.add(1, ordering: .relaxed)
        queryLatency.recordNanoseconds(Int64(Self.now() &- started))
    }

    /// One writer transaction of `events` writes that took `nanoseconds`.
    public func committed(events: Int, nanoseconds: UInt64) {
        batchSize.record(events)
        commitTime.recordNanoseconds(Int64(nanoseconds))
    }

    public func droppedSlowClient() { slowClients.increment() }

    /// The gauges, read when metrics are scraped.
    public func sample(
        connections: Int, writerQueue: Int, readerQueue: Int, matcherQueue: Int, outboundBytes: Int, storeBytes: Int,
        events: Int
    ) {
        connectionsGauge.record(connections)
        self.writerQueue.record(writerQueue)
        self.readerQueue.record(readerQueue)
        self.matcherQueue.record(matcherQueue)
        self.outboundBytes.record(outboundBytes)
        self.storeBytes.record(storeBytes)
        storedEvents.record(events)
    }

    /// Events stored and REQs answered since start (the status page's rates).
    public var totals: (accepted: Int, queries: Int) {
        (acceptedTotal.load(ordering: .relaxed), queriesTotal.load(ordering: .relaxed))
    }
}
