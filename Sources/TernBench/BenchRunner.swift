import NIOCore
import NIOPosix
import NostrCore
import RelayClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs one `tern bench` scenario against a relay and reports what it measured. Events are
/// generated and signed before any timing starts; the load generator watches its own CPU use and
/// says so when it, rather than the relay, may have been the limit.
public final class BenchRunner {
    let options: BenchOptions
    let log: (String) -> Void
    let group: MultiThreadedEventLoopGroup
    let runTag: String
    let factory: EventFactory

    public init(options: BenchOptions, log: @escaping (String) -> Void) {
        self.options = options
        self.log = log
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        let seed = options.seed ?? UInt64.random(in: 1...UInt64.max / 2)
        runTag = "bench-" + String(seed, radix: 36)
        factory = EventFactory(authors: options.authors, seed: seed, runTag: runTag)
    }

    deinit { try? group.syncShutdownGracefully() }

    public func run() throws -> BenchReport {
        var report = BenchReport()
        report.scenario = options.scenario.rawValue
        report.url = options.address.description
        log("signing \(options.events) events from \(options.authors) authors…")
        let events = factory.make(count: options.events, now: Int64(time(nil)))
        switch options.scenario {
        case .ingest: try ingest(events, into: &report)
        case .query: try query(events, into: &report)
        case .fanout: try fanout(events, into: &report)
        case .mixed: try mixed(events, into: &report)
        case .fairness: try fairness(events, into: &report)
        }
        return report
    }

    // MARK: Scenarios

    func ingest(_ events: [PreparedEvent], into report: inout BenchReport) throws {
        let connections = try open(options.connections)
        defer { connections.forEach { $0.close() } }
        let meter = Meter(pid: options.relayPID, disk: options.disk)
        let drivers = ingestDrivers(events, connections, sendTimes: nil)
        drivers.forEach { $0.start() }
        try waitAll(drivers.map(\.done.futureResult), seconds: 600, what: "ingest")
        let elapsed = meter.elapsed
        addIngest(drivers, elapsed: elapsed, to: &report)
        if options.settle > 0 {
            log("waiting \(options.settle) s for the relay to settle…")
            usleep(UInt32(options.settle * 1e6))
            report.add("settle_seconds", .number(options.settle))
        }
        meter.report(into: &report, events: events.count, threads: options.threads)
        meter.reportDisk(into: &report, accepted: drivers.reduce(0) { $0 + $1.accepted })
    }

    func query(_ events: [PreparedEvent], into report: inout BenchReport) throws {
        let connections = try open(options.connections)
        defer { connections.forEach { $0.close() } }
        if !options.prefilled {
            log("storing \(events.count) events before querying…")
            let loaders = ingestDrivers(events, connections, sendTimes: nil)
            loaders.forEach { $0.start() }
            try waitAll(loaders.map(\.done.futureResult), seconds: 600, what: "prefill")
            report.add("stored_events", .int(loaders.reduce(0) { $0 + $1.accepted }))
            if options.settle > 0 {
                log("waiting \(options.settle) s for the relay to settle…")
                usleep(UInt32(options.settle * 1e6))
            }
        }
        // The unit for the relay's CPU per query, measured here before the load (with --pid).
        let verify = options.relayPID.map { _ in VerifyCost.measure(count: 1000) }
        log("querying for \(options.duration) s (\(options.mix.rawValue) mix)…")
        let meter = Meter(pid: options.relayPID)
        let drivers = queryDrivers(events, connections, deadline: nowNanos() + UInt64(options.duration * 1e9))
        drivers.forEach { $0.start() }
        try waitAll(drivers.map(\.done.futureResult), seconds: options.duration + 60, what: "queries")
        report.add("query_mix", .text(options.mix.rawValue))
        addQueries(drivers, elapsed: meter.elapsed, to: &report)
        meter.report(into: &report, events: nil, threads: options.threads)
        let queries = drivers.reduce(0) { $0 + $1.latencies.samples.count }
        if let verify, queries > 0, let cpu = meter.relayCPUSeconds() {
            let perQuery = cpu * 1e6 / Double(queries)
            report.add("relay_cpu_us_per_query", .number((perQuery * 10).rounded() / 10))
            report.add("schnorr_verify_us", .number((verify * 100).rounded() / 100))
            report.add("relay_cpu_per_query_in_verifications", .number((perQuery / verify * 100).rounded() / 100))
        }
    }

    func fanout(_ events: [PreparedEvent], into report: inout BenchReport) throws {
        let subscribers = try subscribe(options.subscribers, events)
        defer { subscribers.forEach { $0.1.close() } }
        let publishers = try open(options.connections)
        defer { publishers.forEach { $0.close() } }
        // The unit for the relay's CPU per delivery, measured here before the load (with --pid).
        let verify = options.relayPID.map { _ in VerifyCost.measure(count: 1000) }
        let meter = Meter(pid: options.relayPID, disk: options.disk)
        let sendTimes = SendTimes(count: events.count)
        let drivers = ingestDrivers(events, publishers, sendTimes: sendTimes)
        drivers.forEach { $0.start() }
        try waitAll(drivers.map(\.done.futureResult), seconds: 600, what: "publishing")
        let accepted = drivers.reduce(0) { $0 + $1.accepted }
        subscribers.forEach { $0.0.expect(accepted) }
        // Wait (bounded) for every subscriber to hold every event.
        _ = try? waitAll(subscribers.map(\.0.complete.futureResult), seconds: 30, what: "deliveries")
        let elapsed = meter.elapsed
        addIngest(drivers, elapsed: elapsed, to: &report)
        addDeliveries(subscribers.map(\.0), accepted: accepted, sendTimes: sendTimes, elapsed: elapsed, to: &report)
        meter.report(into: &report, events: events.count, threads: options.threads)
        meter.reportDisk(into: &report, accepted: accepted)
        let deliveries = subscribers.reduce(0) { $0 + $1.0.count }
        if let verify, deliveries > 0, let cpu = meter.relayCPUSeconds() {
            // All of the relay's CPU in the phase (the publishing too) over the deliveries.
            let perDelivery = cpu * 1e6 / Double(deliveries)
            report.add("relay_cpu_us_per_delivery", .number((perDelivery * 100).rounded() / 100))
            report.add("schnorr_verify_us", .number((verify * 100).rounded() / 100))
            report.add(
                "relay_cpu_per_delivery_in_verifications", .number((perDelivery / verify * 1000).rounded() / 1000))
        }
    }

    func mixed(_ events: [PreparedEvent], into report: inout BenchReport) throws {
        let subscribers = try subscribe(options.subscribers, events)
        defer { subscribers.forEach { $0.1.close() } }
        let publishers = try open(options.connections)
        let readers = try open(options.connections)
        defer { (publishers + readers).forEach { $0.close() } }
        let meter = Meter(pid: options.relayPID)
        let sendTimes = SendTimes(count: events.count)
        let ingest = ingestDrivers(events, publishers, sendTimes: sendTimes)
        let queries = queryDrivers(events, readers, deadline: nowNanos() + UInt64(options.duration * 1e9))
        ingest.forEach { $0.start() }
        queries.forEach { $0.start() }
        try waitAll(ingest.map(\.done.futureResult), seconds: 600, what: "publishing")
        try waitAll(queries.map(\.done.futureResult), seconds: options.duration + 60, what: "queries")
        let accepted = ingest.reduce(0) { $0 + $1.accepted }
        subscribers.forEach { $0.0.expect(accepted) }
        _ = try? waitAll(subscribers.map(\.0.complete.futureResult), seconds: 30, what: "deliveries")
        let elapsed = meter.elapsed
        addIngest(ingest, elapsed: elapsed, to: &report)
        addQueries(queries, elapsed: elapsed, to: &report)
        addDeliveries(subscribers.map(\.0), accepted: accepted, sendTimes: sendTimes, elapsed: elapsed, to: &report)
        meter.report(into: &report, events: events.count, threads: options.threads)
    }

    /// A small REQ (one id) timed alone, the heavy REQ timed alone, then the small REQ timed
    /// again while `connections` connections repeat the heavy one: how much one client's heavy
    /// scans slow everyone else down.
    func fairness(_ events: [PreparedEvent], into report: inout BenchReport) throws {
        let connections = try open(max(1, options.connections))
        defer { connections.forEach { $0.close() } }
        if !options.prefilled {
            log("storing \(events.count) events…")
            let loaders = ingestDrivers(events, connections, sendTimes: nil)
            loaders.forEach { $0.start() }
            try waitAll(loaders.map(\.done.futureResult), seconds: 600, what: "prefill")
            report.add("stored_events", .int(loaders.reduce(0) { $0 + $1.accepted }))
        }
        let heavy = [Array(heavyFilterJSON().utf8)]
        let small = [Array(#"{"ids":["\#(events[events.count / 2].id.hex)"]}"#.utf8)]
        report.add(
            "heavy_filter",
            .text(
                options.heavyFilter == "feed"
                    ? #"feed: {"authors":[all \#(factory.authorKeys.count)],"kinds":[1],"limit":500}"#
                    : heavyFilterJSON()))
        let victim = try open(1)[0]
        defer { victim.close() }
        let phase = options.duration / 3

        log("small REQ alone for \(phase) s…")
        let alone = QueryDriver(
            connection: victim, window: 1, deadline: nowNanos() + UInt64(phase * 1e9), filters: small, offset: 0)
        alone.start()
        try waitAll([alone.done.futureResult], seconds: phase + 60, what: "small REQs")
        report.add("small_alone_eose", alone.latencies.summary())

        log("heavy REQ alone for \(phase) s…")
        let heavyAlone = QueryDriver(
            connection: connections[0], window: 1, deadline: nowNanos() + UInt64(phase * 1e9), filters: heavy,
            offset: 0)
        heavyAlone.start()
        try waitAll([heavyAlone.done.futureResult], seconds: phase + 120, what: "heavy REQs")
        report.add("heavy_alone_eose", heavyAlone.latencies.summary())
        report.add(
            "heavy_events_per_answer", .int(heavyAlone.eventsReceived / max(1, heavyAlone.latencies.samples.count)))

        log("small REQ while \(connections.count) connections repeat the heavy one, for \(options.duration) s…")
        let meter = Meter(pid: options.relayPID)
        let deadline = nowNanos() + UInt64(options.duration * 1e9)
        let heavies = connections.enumerated().map { i, c in
            QueryDriver(connection: c, window: 1, deadline: deadline, filters: heavy, offset: 1000 * (i + 1))
        }
        let loaded = QueryDriver(connection: victim, window: 1, deadline: deadline, filters: small, offset: 500_000)
        heavies.forEach { $0.start() }
        loaded.start()
        try waitAll(
            heavies.map(\.done.futureResult) + [loaded.done.futureResult], seconds: options.duration + 120,
            what: "loaded REQs")
        report.add("small_loaded_eose", loaded.latencies.summary())
        var heavyLatencies = Latencies()
        heavies.forEach { heavyLatencies.merge($0.latencies) }
        report.add("heavy_loaded_eose", heavyLatencies.summary())
        report.add("heavy_loaded_per_second", .number(Double(heavyLatencies.samples.count) / meter.elapsed))
        report.add("queries_closed_by_relay", .int((heavies + [loaded]).reduce(0) { $0 + $1.closedByRelay }))
        meter.report(into: &report, events: nil, threads: options.threads)
    }

    /// The heavy filter of the fairness scenario.
    func heavyFilterJSON() -> String {
        switch options.heavyFilter {
        case "feed":
            let authors = factory.authorKeys.map { "\"\($0.hex)\"" }.joined(separator: ",")
            return #"{"authors":[\#(authors)],"kinds":[1],"limit":500}"#
        case "sparse":
            return ##"{"kinds":[3],"#t":["nostr","bitcoin","zap"]}"##
        default:
            return options.heavyFilter
        }
    }

    // MARK: Parts

    func ingestDrivers(_ events: [PreparedEvent], _ connections: [RelayConnection], sendTimes: SendTimes?)
        -> [IngestDriver]
    {
        let per = (events.count + connections.count - 1) / max(1, connections.count)
        return connections.enumerated().map { i, c in
            let lo = min(events.count, i * per)
            let hi = min(events.count, lo + per)
            return IngestDriver(
                connection: c, events: events[lo..<hi], window: options.window, sendTimes: sendTimes,
                interval: options.rate.map { UInt64(Double(connections.count) * 1e9 / $0) })
        }
    }

    func queryDrivers(_ events: [PreparedEvent], _ connections: [RelayConnection], deadline: UInt64) -> [QueryDriver] {
        let filters = QueryDriver.filters(mix: options.mix, events: events, authors: factory.authorKeys, runTag: runTag)
        return connections.enumerated().map { i, c in
            QueryDriver(connection: c, window: options.window, deadline: deadline, filters: filters, offset: i * 37)
        }
    }

    func subscribe(_ count: Int, _ events: [PreparedEvent]) throws -> [(SubscriberDriver, RelayConnection)] {
        log("opening \(count) subscribers…")
        var index: [Bytes32: Int] = [:]
        index.reserveCapacity(events.count)
        for (i, e) in events.enumerated() { index[e.id] = i }
        let connections = try open(count, at: options.subscribeAddress ?? options.address)
        let subscribers = connections.map { SubscriberDriver(connection: $0, runTag: runTag, index: index) }
        subscribers.forEach { $0.start() }
        try waitAll(subscribers.map(\.subscribed.futureResult), seconds: 60, what: "subscriptions")
        return Array(zip(subscribers, connections))
    }

    func addIngest(_ drivers: [IngestDriver], elapsed: Double, to report: inout BenchReport) {
        var latencies = Latencies()
        drivers.forEach { latencies.merge($0.latencies) }
        let answered = latencies.samples.count
        if let rate = options.rate { report.add("rate_asked_per_second", .number(rate)) }
        report.add("events_sent", .int(answered))
        report.add("events_accepted", .int(drivers.reduce(0) { $0 + $1.accepted }))
        report.add("events_rejected", .int(drivers.reduce(0) { $0 + $1.rejected }))
        if let why = drivers.first(where: { !$0.firstRejection.isEmpty })?.firstRejection {
            report.add("first_rejection", .text(why))
        }
        report.add("ingest_seconds", .number(elapsed))
        report.add("events_per_second", .number(Double(answered) / elapsed))
        report.add("ok_latency", latencies.summary())
    }

    func addQueries(_ drivers: [QueryDriver], elapsed: Double, to report: inout BenchReport) {
        var latencies = Latencies()
        drivers.forEach { latencies.merge($0.latencies) }
        report.add("queries", .int(latencies.samples.count))
        report.add("queries_per_second", .number(Double(latencies.samples.count) / elapsed))
        report.add("query_events_received", .int(drivers.reduce(0) { $0 + $1.eventsReceived }))
        report.add("queries_closed_by_relay", .int(drivers.reduce(0) { $0 + $1.closedByRelay }))
        report.add("eose", latencies.summary())
    }

    func addDeliveries(
        _ subscribers: [SubscriberDriver], accepted: Int, sendTimes: SendTimes, elapsed: Double,
        to report: inout BenchReport
    ) {
        var latencies = Latencies()
        subscribers.forEach { latencies.merge($0.latencies(sendTimes: sendTimes)) }
        let deliveries = latencies.samples.count
        report.add("subscribers", .int(subscribers.count))
        report.add("deliveries", .int(deliveries))
        report.add("deliveries_expected", .int(accepted * subscribers.count))
        report.add("every_subscriber_got_every_event", .flag(subscribers.allSatisfy { $0.count == accepted }))
        report.add("deliveries_per_second", .number(Double(deliveries) / elapsed))
        report.add("delivery_latency", latencies.summary())
    }

    /// Opens connections in batches (so that a few thousand do not overrun the listen backlog).
    func open(_ count: Int) throws -> [RelayConnection] { try open(count, at: options.address) }

    func open(_ count: Int, at address: RelayAddress) throws -> [RelayConnection] {
        var out: [RelayConnection] = []
        out.reserveCapacity(count)
        while out.count < count {
            let batch = (0..<min(256, count - out.count)).map { _ in RelayConnection.open(address, group: group)
            }
            for f in batch { out.append(try f.wait()) }
        }
        return out
    }

    func waitAll(_ futures: [EventLoopFuture<Void>], seconds: Double, what: String) throws {
        let loop = group.next()
        let all = EventLoopFuture.andAllSucceed(futures, on: loop)
        let result = loop.makePromise(of: Void.self)
        let settled = Atomic<Bool>(false)
        let timer = loop.scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
            if !settled.exchange(true, ordering: .relaxed) { result.fail(BenchError.timedOut(what)) }
        }
        all.whenComplete { r in
            timer.cancel()
            if !settled.exchange(true, ordering: .relaxed) { result.completeWith(r) }
        }
        try result.futureResult.wait()
    }
}

/// Wall time, the load generator's CPU time and the relay's, over one timed phase.
struct Meter {
    let start = nowNanos()
    let ownCPU = ownCPUSeconds()
    let pid: Int32?
    let relayStart: ProcessSample?
    let disk: String?
    let diskStart: UInt64?

    init(pid: Int32?, disk: String? = nil) {
        self.disk = disk
        diskStart = disk.flatMap(DiskWrites.synced)
        self.pid = pid
        relayStart = pid.flatMap(ProcessSample.read)
    }

    /// The relay's CPU seconds since the start (with a pid).
    func relayCPUSeconds() -> Double? {
        guard let pid, let a = relayStart, let b = ProcessSample.read(pid: pid) else { return nil }
        return b.cpuSeconds - a.cpuSeconds
    }

    /// The disk's bytes written during the run, per accepted event (ingest, fanout, mixed).
    func reportDisk(into report: inout BenchReport, accepted: Int) {
        guard let disk, let a = diskStart, let b = DiskWrites.synced(device: disk) else { return }
        report.add("disk_device", .text(disk))
        report.add("disk_bytes_written", .int(Int(b &- a)))
        if accepted > 0 { report.add("disk_bytes_per_accepted_event", .int(Int(b &- a) / accepted)) }
    }

    var elapsed: Double { Double(nowNanos() - start) / 1e9 }

    func report(into report: inout BenchReport, events: Int?, threads: Int) {
        let wall = elapsed
        let cpu = ownCPUSeconds() - ownCPU
        let busy = cpu / wall / Double(threads)
        report.add("bench_cpu_seconds", .number(cpu))
        report.add("bench_cpu_busy_fraction", .number(busy))
        if busy > 0.9 {
            report.warnings.append(
                "the load generator kept its \(threads) threads \(Int(busy * 100))% busy: it may be the bottleneck, so these figures are a lower bound for the relay"
            )
        }
        if let pid, let a = relayStart, let b = ProcessSample.read(pid: pid) {
            report.add("relay_cpu_seconds", .number(b.cpuSeconds - a.cpuSeconds))
            if let events, events > 0 {
                report.add(
                    "relay_cpu_seconds_per_1000_events", .number((b.cpuSeconds - a.cpuSeconds) * 1000 / Double(events)))
                report.add("relay_cpu_us_per_event", .number((b.cpuSeconds - a.cpuSeconds) * 1e6 / Double(events)))
            }
            report.add("relay_rss_mb", .number(Double(b.rssKB) / 1024))
            report.add("relay_peak_rss_mb", .number(Double(b.peakRSSKB) / 1024))
            report.add("relay_rss_anonymous_mb", .number(Double(b.anonymousKB) / 1024))
            report.add("relay_rss_file_mapped_mb", .number(Double(b.fileKB) / 1024))
        }
    }
}
