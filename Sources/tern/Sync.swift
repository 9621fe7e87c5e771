import ArgumentParser
import Dispatch
import NIOPosix
import NostrCore
import RelayClient

#if canImport(Glibc)
    import Glibc
#endif

struct Sync: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconcile the store with another relay over NIP-77 and move only the differences.",
        discussion: """
            Negentropy (NIP-77) finds the events matching the filter that only one side has, \
            without sending the events themselves. Down fetches what the relay has and the store \
            lacks, checking each event's id and signature and applying the NIP rules as an import \
            does; up publishes what the store has and the relay lacks. A relay may be serving \
            from the same store meanwhile. The URL is plain ws:// (put a TLS tunnel in front for \
            a wss:// relay).
            """
    )

    @Option(help: "The other relay, ws://HOST:PORT[/PATH].")
    var url: String

    @Option(help: "Sync only the events matching this NIP-01 filter (JSON); its limit is ignored.")
    var filter: String = "{}"

    @Option(help: "down: fetch what the relay has; up: publish what the store has; both.")
    var dir: NegentropySync.Direction = .down

    @Option(
        help:
            "The longest negentropy message this side writes, in bytes (its hex must fit in the relay's largest message)."
    )
    var frameSize: Int = 60_000

    @Option(help: "Seconds to wait for the relay before giving up.")
    var timeout: Int64 = 60

    @OptionGroup var store: StoreAccess

    func run() throws {
        guard let address = RelayAddress(url) else { throw ValidationError("--url must look like ws://HOST:PORT") }
        guard frameSize >= 4096 else { throw ValidationError("--frame-size must be at least 4096") }
        let parsed = try parseFilter(filter)
        let storage = try store.open()
        defer { storage.close() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let connection: RelayConnection
        do {
            connection = try RelayConnection.open(address, group: group).wait()
        } catch {
            throw ToolError("cannot connect to \(address): \(error)")
        }
        let progress = SyncProgress()
        let sync = NegentropySync(
            storage: storage, connection: connection, filter: parsed, filterJSON: filter, direction: dir,
            frameSize: frameSize, now: Int64(time(nil)), idleTimeout: timeout, report: progress.report)
        let outcome = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { outcome.result = .success(try await sync.run()) } catch { outcome.result = .failure(error) }
            done.signal()
        }
        done.wait()
        progress.finish()
        switch outcome.result! {
        case .success(let summary): print(Self.report(summary, direction: dir, address: address), terminator: "")
        case .failure(let error): throw ToolError("sync failed: \(error)")
        }
    }

    static func report(_ s: NegentropySync.Summary, direction: NegentropySync.Direction, address: RelayAddress)
        -> String
    {
        var out = "synced with \(address) in \(Import.format(s.seconds)) s: \(s.rounds) negentropy rounds, "
        out += "\(Progress.grouped(s.bytesSent)) bytes sent, \(Progress.grouped(s.bytesReceived)) received\n"
        func row(_ name: String, _ n: Int, _ note: String = "") {
            let number = Progress.grouped(n)
            out += "  \(name.padding(12))\(String(repeating: " ", count: max(0, 12 - number.count)))\(number)"
            out += note.isEmpty ? "\n" : "  \(note)\n"
        }
        row("have", s.have, "only here")
        row("need", s.need, "only there")
        if direction != .up {
            row("stored", s.stored, "fetched, checked and stored")
            row("duplicate", s.duplicate, "stored meanwhile")
            row("not stored", s.notStored, "ephemeral, expired, superseded or deleted")
            row("missing", s.missing, "asked for, not sent")
            row("refused", s.refused.values.reduce(0, +), "not stored: failed the checks")
            for (reason, n) in s.refused.sorted(by: { $0.value > $1.value }) {
                out += "    \(Progress.grouped(n))  \(reason)\n"
            }
        }
        if direction != .down {
            row("uploaded", s.uploaded, "accepted by the relay")
            row("rejected", s.rejected.values.reduce(0, +), "refused by the relay")
            for (reason, n) in s.rejected.sorted(by: { $0.value > $1.value }) {
                out += "    \(Progress.grouped(n))  \(reason)\n"
            }
        }
        return out
    }
}

extension NegentropySync.Direction: ExpressibleByArgument {}

/// The sync's result, handed from its task to the command's thread (after the semaphore).
private final class ResultBox: @unchecked Sendable {
    var result: Result<NegentropySync.Summary, any Error>?
}

/// One progress display per phase of the sync.
private final class SyncProgress: @unchecked Sendable {
    private var current: (phase: String, bar: Progress)?

    func report(_ p: NegentropySync.Progress) {
        if current?.phase != p.phase {
            current?.bar.finish(done: 0, events: 0)
            let total = p.phase == "reconcile" ? nil : p.total
            let verb = p.phase == "reconcile" ? "sync reconcile" : "sync \(p.phase) (have \(p.have), need \(p.need))"
            current = (p.phase, Progress(verb: verb, total: total))
        }
        if p.phase == "reconcile" {
            current?.bar.update(done: 0, events: p.have + p.need)
        } else {
            current?.bar.update(done: p.done, events: p.done)
        }
    }

    func finish() { current?.bar.finish(done: 0, events: 0) }
}
