import EventStorage
import NostrCore

/// `tern sync`: reconciles the local store with another relay over NIP-77 and moves only the
/// differences: down (the events the relay has and the store lacks, each checked before it is
/// stored), up (the store's events the relay lacks, published and acknowledged), or both.
public final class NegentropySync: @unchecked Sendable {
    public enum Direction: String, Sendable, CaseIterable {
        case down, up, both
    }

    /// Where the sync is, for a progress line.
    public struct Progress: Sendable {
        public var phase: String
        public var have = 0
        public var need = 0
        /// Events moved so far in this phase, and in all.
        public var done = 0
        public var total = 0
    }

    public struct Summary: Sendable {
        /// Ids only the store has, and only the relay has.
        public var have = 0
        public var need = 0
        public var rounds = 0
        /// Down: stored, already there, and refused (by reason).
        public var stored = 0
        public var duplicate = 0
        public var notStored = 0
        public var refused: [String: Int] = [:]
        /// Down: asked for and never sent (deleted on the relay meanwhile, or withheld).
        public var missing = 0
        /// Up: accepted by the relay (duplicates included), and rejected (by message).
        public var uploaded = 0
        public var rejected: [String: Int] = [:]
        public var bytesSent = 0
        public var bytesReceived = 0
        public var seconds = 0.0
    }

    public enum Failure: Error, CustomStringConvertible {
        case refused(String)
        case protocolError(String)

        public var description: String {
            switch self {
            case .refused(let reason): "the relay refused the sync: \(reason)"
            case .protocolError(let why): "the relay's answer could not be read: \(why)"
            }
        }
    }

    let storage: any EventStorage
    let connection: RelayConnection
    let filter: Filter
    let filterJSON: String
    let direction: Direction
    let frameSize: Int
    let batch: Int
    let window: Int
    let now: Int64
    let idleTimeout: Int64
    /// Threads that check downloaded events (ids and signatures) at once.
    let workers = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    let report: (Progress) -> Void
    private var incoming: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator

    public init(
        storage: any EventStorage, connection: RelayConnection, filter: Filter, filterJSON: String,
        direction: Direction, frameSize: Int = 60_000, batch: Int = 500, window: Int = 100, now: Int64,
        idleTimeout: Int64 = 60, report: @escaping (Progress) -> Void
    ) {
        self.storage = storage
        self.connection = connection
        self.filter = filter
        self.filterJSON = filterJSON
        self.direction = direction
        self.frameSize = frameSize
        self.batch = batch
        self.window = window
        self.now = now
        self.idleTimeout = idleTimeout
        self.report = report
        incoming = connection.messages(idleTimeout: idleTimeout).makeAsyncIterator()
    }

    /// The next message from the relay that is not a NOTICE or an AUTH challenge.
    private func next() async throws -> RelayReply {
        while true {
            guard let bytes = try await incoming.next() else { throw RelayConnectionError.closed }
            let reply = RelayReply.read(bytes)
            switch reply {
            case .notice, .auth, .other: continue
            default: return reply
            }
        }
    }

    public func run() async throws -> Summary {
        let started = Progress.clock()
        var summary = Summary()
        let (have, need) = try await reconcile(&summary)
        summary.have = have.count
        summary.need = need.count
        if direction != .up { try await download(need, &summary) }
        if direction != .down { try await upload(have, &summary) }
        let counts = try await connection.loop.submit { [connection] in
            (connection.bytesSent, connection.bytesReceived)
        }.get()
        (summary.bytesSent, summary.bytesReceived) = counts
        summary.seconds = Progress.clock() - started
        connection.close()
        return summary
    }

    /// NEG-OPEN and NEG-MSG until the client side has nothing more to ask.
    private func reconcile(_ summary: inout Summary) async throws -> (have: [Bytes32], need: [Bytes32]) {
        let items = try storage.items(filter, now: now, scope: .everything, max: .max)
        var session = NegentropySession(
            items: items.map { Negentropy.Item(timestamp: UInt64(max(0, $0.createdAt)), id: $0.id) },
            frameSizeLimit: frameSize)
        let id = "tern-sync"
        var message = session.initiate()
        connection.sendText(Array(#"["NEG-OPEN","\#(id)",\#(filterJSON),"\#(Hex.encode(message))"]"#.utf8))
        var have: [Bytes32] = []
        var need: [Bytes32] = []
        var progress = Progress(phase: "reconcile")
        report(progress)
        while true {
            switch try await next() {
            case .negMsg(id, let bytes?):
                do {
                    guard let next = try session.reconcile(bytes, have: &have, need: &need) else {
                        connection.sendText(Array(#"["NEG-CLOSE","\#(id)"]"#.utf8))
                        // With frame limits an id can be reported twice.
                        return (Self.unique(have), Self.unique(need))
                    }
                    message = next
                } catch {
                    throw Failure.protocolError("\(error)")
                }
                summary.rounds += 1
                progress.have = have.count
                progress.need = need.count
                report(progress)
                connection.sendText(Array(#"["NEG-MSG","\#(id)","\#(Hex.encode(message))"]"#.utf8))
            case .negMsg(id, nil):
                throw Failure.protocolError("NEG-MSG is not hex")
            case .negErr(id, let reason):
                throw Failure.refused(reason)
            default:
                continue
            }
        }
    }

    static func unique(_ ids: [Bytes32]) -> [Bytes32] {
        var seen = Set<Bytes32>()
        return ids.filter { seen.insert($0).inserted }
    }

    /// REQs by id, `batch` at a time; each event checked (`EventIntake`), each batch committed
    /// through the store's NIP rules in one transaction.
    private func download(_ need: [Bytes32], _ summary: inout Summary) async throws {
        var intake = EventIntake(wanted: Set(need), now: now)
        var progress = Progress(phase: "download", have: summary.have, need: summary.need, total: need.count)
        report(progress)
        var outcomes: [WriteOutcome] = []
        var sequences: [UInt64] = []
        for (n, start) in stride(from: 0, to: need.count, by: batch).enumerated() {
            let ids = need[start..<min(need.count, start + batch)]
            let sub = "tern-sync-\(n)"
            let list = ids.map { "\"\($0.hex)\"" }.joined(separator: ",")
            connection.sendText(Array(#"["REQ","\#(sub)",{"ids":[\#(list)],"limit":\#(ids.count)}]"#.utf8))
            var received: [Result<Event, EventReader.Failure>] = []
            reading: while true {
                switch try await next() {
                case .event(sub, let event):
                    received.append(event)
                case .eose(sub):
                    break reading
                case .closed(sub, let message):
                    summary.refused["CLOSED: \(message)", default: 0] += 1
                    break reading
                default:
                    continue
                }
            }
            connection.sendText(Array(#"["CLOSE","\#(sub)"]"#.utf8))
            var writes: [Write] = []
            for verdict in intake.take(batch: received, workers: workers) {
                switch verdict {
                case .write(let write): writes.append(write)
                case .skipped: summary.notStored += 1
                case .refused(let reason): summary.refused[reason, default: 0] += 1
                }
            }
            outcomes.removeAll(keepingCapacity: true)
            storage.commit(writes, outcomes: &outcomes, sequences: &sequences)
            for outcome in outcomes {
                switch outcome {
                case .saved, .replaced: summary.stored += 1
                case .duplicate: summary.duplicate += 1
                case .obsolete, .deleted: summary.notStored += 1
                case .failed(let why): throw Failure.refused("the local store failed: \(why)")
                }
            }
            progress.done += ids.count
            report(progress)
        }
        summary.missing = intake.wanted.count
    }

    /// The store's events the relay lacks, `window` in flight, each answered by its OK.
    private func upload(_ have: [Bytes32], _ summary: inout Summary) async throws {
        var progress = Progress(phase: "upload", have: summary.have, need: summary.need, total: have.count)
        report(progress)
        for start in stride(from: 0, to: have.count, by: window) {
            var pending = Set<Bytes32>()
            for id in have[start..<min(have.count, start + window)] {
                guard let stored = try storage.event(id: id) else { continue }  // deleted meanwhile
                pending.insert(id)
                connection.sendText(Array(#"["EVENT","#.utf8) + stored.json + [UInt8(ascii: "]")])
            }
            while !pending.isEmpty {
                guard case .ok(let id, let accepted, let message) = try await next(), pending.remove(id) != nil else {
                    continue
                }
                if accepted {
                    summary.uploaded += 1
                } else {
                    let prefix = message.split(separator: ":", maxSplits: 1).first.map(String.init) ?? message
                    summary.rejected[prefix, default: 0] += 1
                }
                progress.done += 1
            }
            report(progress)
        }
    }
}

extension NegentropySync.Progress {
    static func clock() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}

#if canImport(Glibc)
    import Glibc
#endif
