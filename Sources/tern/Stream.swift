import ArgumentParser
import Dispatch
import NIOPosix
import NostrCore
import RelayClient

#if canImport(Glibc)
    import Glibc
#endif

struct Stream: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keep a live copy between this relay and another one.",
        discussion: """
            Each direction subscribes to one relay from the newest event the other holds \
            (`since`), checks each event's id, signature and filter, and publishes it to the \
            other relay, which applies its own rules. A lost connection is retried with back-off \
            (1 s, doubling to 60 s), resuming from the newest event again. No event is forwarded \
            twice, so in both directions nothing echoes back. Runs until SIGINT or SIGTERM, then \
            prints what each direction forwarded. Plain ws:// only (put a TLS tunnel in front for \
            wss://).
            """
    )

    @Option(help: "The other relay, ws://HOST:PORT[/PATH].")
    var url: String

    @Option(help: "This relay, as `tern serve` listens.")
    var local: String = "ws://127.0.0.1:7447"

    @Option(help: "down: from the other relay to this one; up: from this one to the other; both.")
    var dir: NegentropySync.Direction = .down

    @Option(help: "Stream only the events matching this NIP-01 filter (JSON).")
    var filter: String = "{}"

    func run() throws {
        guard let remote = RelayAddress(url) else { throw ValidationError("--url must look like ws://HOST:PORT") }
        guard let here = RelayAddress(local) else { throw ValidationError("--local must look like ws://HOST:PORT") }
        let parsed = try parseFilter(filter)
        var pumps: [RelayStream.Pump] = []
        if dir != .up { pumps.append(.init(name: "down", source: remote, sink: here)) }
        if dir != .down { pumps.append(.init(name: "up", source: here, sink: remote)) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let stream = RelayStream(pumps: pumps, filter: parsed, group: group) { Progress.write($0 + "\n") }
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            await stream.run()
            done.signal()
        }
        var sources: [any DispatchSourceSignal] = []
        for signal in [SIGINT, SIGTERM] {
            Glibc.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler { task.cancel() }
            source.resume()
            sources.append(source)
        }
        Progress.write("stream: \(pumps.map { "\($0.name) \($0.source) -> \($0.sink)" }.joined(separator: ", "))\n")
        done.wait()
        for pump in pumps {
            let t = stream.tallies[pump.name] ?? RelayStream.Tally()
            print(
                "\(pump.name): forwarded \(t.forwarded) (accepted \(t.accepted), duplicate \(t.duplicate), "
                    + "rejected \(t.rejected)), refused \(t.refused), connections \(t.connections)")
        }
        _ = sources
    }
}
