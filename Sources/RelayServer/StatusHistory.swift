import NIOConcurrencyHelpers
import NostrCore
import RelayCore

/// The status page's live figures: a sample every few seconds of the connections and of the
/// relay's totals, kept for the last minutes, with the rates between samples. Served as JSON at
/// `/stats` (which the page polls) and drawn by the page as a small chart.
final class StatusHistory: Sendable {
    struct Sample {
        /// Seconds since the relay started.
        let at: Int64
        let connections: Int
        let accepted: Int
        let queries: Int
    }

    /// Seconds between samples and how many are kept (10 minutes).
    static let interval: Int64 = 5
    static let kept = 120

    private let samples = NIOLockedValueBox<[Sample]>([])
    private let started: Int64

    init(now: Int64) {
        started = now
    }

    /// Takes a sample (the server's timer calls it every `interval` seconds).
    func record(now: Int64, connections: Int, totals: (accepted: Int, queries: Int)) {
        let sample = Sample(
            at: now - started, connections: connections, accepted: totals.accepted, queries: totals.queries)
        samples.withLockedValue { list in
            list.append(sample)
            if list.count > Self.kept { list.removeFirst(list.count - Self.kept) }
        }
    }

    /// `{"name":…,"connections":…,"events":…,"store_bytes":…,"uptime_seconds":…,
    /// "ingest_per_second":…,"queries_per_second":…,"history":[[t,connections,ingest/s,queries/s],…]}`.
    func json(name: String, now: Int64, connections: Int, events: Int, storeBytes: Int) -> [UInt8] {
        let list = samples.withLockedValue { $0 }
        var history: [String] = []
        var ingest = 0.0
        var queries = 0.0
        for (previous, sample) in zip(list, list.dropFirst()) {
            let seconds = Double(max(1, sample.at - previous.at))
            ingest = Double(sample.accepted - previous.accepted) / seconds
            queries = Double(sample.queries - previous.queries) / seconds
            history.append("[\(sample.at),\(sample.connections),\(Self.rate(ingest)),\(Self.rate(queries))]")
        }
        var name8: [UInt8] = []
        JSONWriter.appendString(name, to: &name8, mode: .output)
        let text =
            #"{"name":\#(String(decoding: name8, as: UTF8.self)),"connections":\#(connections),"events":\#(events),"#
            + #""store_bytes":\#(storeBytes),"uptime_seconds":\#(now - started),"#
            + #""ingest_per_second":\#(Self.rate(ingest)),"queries_per_second":\#(Self.rate(queries)),"#
            + #""sample_seconds":\#(Self.interval),"history":[\#(history.joined(separator: ","))]}"#
        return Array(text.utf8)
    }

    /// A rate with one decimal.
    static func rate(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
