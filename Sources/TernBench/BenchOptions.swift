import RelayClient

/// What `tern bench` was asked to do.
public struct BenchOptions: Sendable {
    public enum Scenario: String, Sendable, CaseIterable {
        case ingest, query, fanout, mixed, fairness
    }

    /// What query and mixed ask: `realistic` (what clients' screens ask, by weight: see
    /// `QueryDriver.realisticFilters`) or `simple` (limit-50 REQs by author, kind, tag and ids).
    public enum QueryMix: String, Sendable, CaseIterable {
        case realistic, simple
    }

    public var scenario: Scenario
    public var mix = QueryMix.realistic
    public var address: RelayAddress
    /// Where fanout's and mixed's subscribers connect (another node on the same store: the
    /// delivery latency across nodes); `address` when nil.
    public var subscribeAddress: RelayAddress?
    public var events = 20_000
    public var connections = 8
    public var window = 32
    /// ingest, fanout, mixed: events published per second over all connections (paced evenly,
    /// still at most `window` in flight on each); nil: as fast as the relay answers.
    public var rate: Double?
    public var subscribers = 200
    /// Seconds the query phase (and the mixed run's queries) lasts.
    public var duration = 10.0
    public var authors = 500
    public var threads = 2
    public var seed: UInt64?
    /// The relay's process id, to sample its CPU time and memory from /proc.
    public var relayPID: Int32?
    /// A block device (`vda`, `sda`, `mmcblk0`) whose writes are counted around the run (the
    /// relay's data on this machine): disk bytes written per accepted event.
    public var disk: String?
    /// ingest: seconds to wait after the last OK before the relay's CPU time and the disk are
    /// read, so that what a relay does later (a checkpoint of its log) is counted with the run;
    /// query: seconds to wait between storing the events and querying, so that it is not.
    public var settle: Double = 0
    /// fairness: the heavy REQ's filter, as JSON, or a preset: `feed` (every author's kind-1
    /// notes, limit 500: a home feed of many follows) or `sparse` (rare kind, common hashtags).
    public var heavyFilter = "feed"
    /// Whether the store already holds the events (query, fairness: skip the prefill of a store
    /// that an earlier run with the same seed filled).
    public var prefilled = false

    public init(scenario: Scenario, address: RelayAddress) {
        self.scenario = scenario
        self.address = address
    }
}
