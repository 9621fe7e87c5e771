import ArgumentParser
import RelayClient
import TernBench

#if canImport(Glibc)
    import Glibc
#endif

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a relay (tern or any other) with pre-signed, pipelined load.",
        discussion: """
            ingest: publish --events over --connections, --window EVENTs in flight on each; OK latency.
            query:  store --events, then the --mix of REQs for --duration s; time to EOSE (with --pid, CPU per query).
            fanout: --subscribers live subscriptions, then publish --events; delivery latency and completeness.
            mixed:  subscribers, publishing and queries at the same time.
            fairness: store --events, time a one-id REQ alone, the --heavy REQ alone, then the one-id
                    REQ while --connections connections repeat the heavy one (--duration s).
            With --pid, the relay's CPU time and memory are read from /proc (same machine only); with
            --disk DEV, the bytes the kernel wrote to that device (after sync) per accepted event.
            """
    )

    @Argument(
        help:
            "ingest, query, fanout, mixed or fairness; corpus, which writes the events as JSONL to --out; verify, which prints the CPU time of one Schnorr verification here"
    )
    var scenario: String

    @Option(help: "The relay, ws://HOST:PORT")
    var url: String?

    @Option(help: "fanout, mixed: where the subscribers connect (another node on the same store), if not --url")
    var subscribeURL: String?

    @Option(help: "corpus: the JSONL file to write (- for standard output)")
    var out: String?

    @Option(help: "Events to publish")
    var events: Int = 20_000

    @Option(help: "Connections that publish (and, for query/mixed, that query)")
    var connections: Int = 8

    @Option(help: "Messages in flight per connection")
    var window: Int = 32

    @Option(help: "ingest, fanout, mixed: events per second over all connections (default: as fast as answered)")
    var rate: Double?

    @Option(help: "Live subscribers for fanout and mixed")
    var subscribers: Int = 200

    @Option(help: "Seconds of querying for query and mixed")
    var duration: Double = 10

    @Option(help: "Distinct authors of the generated events")
    var authors: Int = 500

    @Option(help: "Load generator threads")
    var threads: Int = 2

    @Option(
        help:
            "query, mixed: realistic (what clients ask, by weight: profiles' notes, the global feed, hashtags, ids, profiles, contact lists, a time window, reactions, mentions, articles) or simple (limit-50 REQs by author, kind, tag, ids)"
    )
    var mix: String = "realistic"

    @Option(help: "fairness: the heavy REQ's filter (JSON), or feed or sparse")
    var heavy: String = "feed"

    @Flag(help: "query, fairness: the store already holds this seed's events; do not publish them again")
    var prefilled = false

    @Option(help: "The relay's process id, to report its CPU time and memory")
    var pid: Int32?

    @Option(
        help:
            "ingest, fanout: a block device on this machine (vda, sda, mmcblk0) whose writes to count, per accepted event"
    )
    var disk: String?

    @Option(
        help:
            "ingest: seconds to wait after the last OK before reading the relay's CPU and the disk (so that its checkpoints count); query: between storing and querying (so that they do not)"
    )
    var settle: Double = 0

    @Option(help: "Seed for the generated keys (default: random, so runs do not collide)")
    var seed: UInt64?

    @Option(help: "verify: threads verifying at once (the unit for a figure that used that many cores)")
    var parallel: Int = 1

    @Flag(help: "Print one JSON object instead of a summary")
    var json = false

    func run() throws {
        if scenario == "verify" {
            let micros = VerifyCost.measure(parallel: parallel)
            print("schnorr_verify_us \((micros * 100).rounded() / 100)")
            return
        }
        if scenario == "corpus" {
            guard let out else { throw ValidationError("corpus needs --out FILE") }
            let fd: Int32 = out == "-" ? 1 : open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw ValidationError("cannot write \(out)") }
            defer { if fd != 1 { close(fd) } }
            try Corpus.write(
                count: events, authors: authors, seed: seed ?? UInt64(time(nil)), now: Int64(time(nil)), to: fd)
            return
        }
        guard let url else { throw ValidationError("--url is needed for \(scenario)") }
        guard let kind = BenchOptions.Scenario(rawValue: scenario) else {
            throw ValidationError("scenario must be one of ingest, query, fanout, mixed, fairness")
        }
        guard let address = RelayAddress(url) else { throw ValidationError("--url must look like ws://HOST:PORT") }
        guard events > 0, connections > 0, window > 0, subscribers >= 0, duration > 0, authors > 0, threads > 0 else {
            throw ValidationError("counts and durations must be positive")
        }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number") }
        guard let queryMix = BenchOptions.QueryMix(rawValue: mix) else {
            throw ValidationError("--mix must be realistic or simple")
        }
        var options = BenchOptions(scenario: kind, address: address)
        options.mix = queryMix
        if let subscribeURL {
            guard let other = RelayAddress(subscribeURL) else {
                throw ValidationError("--subscribe-url must look like ws://HOST:PORT")
            }
            options.subscribeAddress = other
        }
        options.events = events
        options.connections = connections
        options.window = window
        options.rate = rate
        options.subscribers = subscribers
        options.duration = duration
        options.authors = authors
        options.threads = threads
        options.relayPID = pid
        if let disk {
            guard DiskWrites.bytes(device: disk) != nil else {
                throw ValidationError("--disk: no block device \(disk) in /sys/block")
            }
            options.disk = disk
        }
        guard settle >= 0 && settle <= 600 else { throw ValidationError("--settle: 0 to 600 seconds") }
        options.settle = settle
        options.seed = seed
        options.heavyFilter = heavy
        options.prefilled = prefilled
        raiseFileLimit()
        let quiet = json
        let runner = BenchRunner(options: options) { line in
            if !quiet { print(line) }
        }
        let report = try runner.run()
        print(json ? report.json : report.human)
    }
}
