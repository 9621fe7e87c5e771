/// What `tern bench` was asked to do.
public struct BenchOptions: Sendable {
    public enum Scenario: String, Sendable, CaseIterable {
        case ingest, query, fanout, mixed
    }

    public var scenario: Scenario
    public var address: RelayAddress
    public var events = 20_000
    public var connections = 8
    public var window = 32
    public var subscribers = 200
    /// Seconds the query phase (and the mixed run's queries) lasts.
    public var duration = 10.0
    public var authors = 500
    public var threads = 2
    public var seed: UInt64?
    /// The relay's process id, to sample its CPU time and memory from /proc.
    public var relayPID: Int32?

    public init(scenario: Scenario, address: RelayAddress) {
        self.scenario = scenario
        self.address = address
    }
}
