import NIOConcurrencyHelpers
import NIOCore
import NostrCore

/// `tern stream`: keeps a live copy between two relays. Each direction is a pump from a source
/// relay to a sink relay: it asks the sink for the newest event it holds that matches the
/// filter, subscribes to the source from that `since`, checks each event (id, signature,
/// filter) and publishes it to the sink. A pump that loses either connection reconnects with
/// back-off (1 s, doubling to 60 s) and resumes from the sink's newest event again. An id
/// forwarded once, in either direction, is never forwarded again (so events do not echo back).
public final class RelayStream: @unchecked Sendable {
    public struct Pump: Sendable {
        public let name: String
        public let source: RelayAddress
        public let sink: RelayAddress

        public init(name: String, source: RelayAddress, sink: RelayAddress) {
            self.name = name
            self.source = source
            self.sink = sink
        }
    }

    /// What each pump did so far.
    public struct Tally: Sendable {
        public var forwarded = 0
        public var accepted = 0
        public var duplicate = 0
        public var rejected = 0
        public var refused = 0
        public var connections = 0

        public init() {}
    }

    let pumps: [Pump]
    let filter: Filter
    let group: EventLoopGroup
    let idleTimeout: Int64
    let log: @Sendable (String) -> Void
    private let state = NIOLockedValueBox(State())

    struct State {
        /// Ids forwarded in either direction, oldest first: bounded.
        var seen = Set<Bytes32>()
        var order: [Bytes32] = []
        var tallies: [String: Tally] = [:]
    }

    static let rememberedIDs = 200_000

    public init(
        pumps: [Pump], filter: Filter, group: EventLoopGroup, idleTimeout: Int64 = 300,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.pumps = pumps
        self.filter = filter
        self.group = group
        self.idleTimeout = idleTimeout
        self.log = log
    }

    public var tallies: [String: Tally] { state.withLockedValue { $0.tallies } }

    /// Runs every pump until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { tasks in
            for pump in pumps { tasks.addTask { await self.keepRunning(pump) } }
        }
    }

    private func keepRunning(_ pump: Pump) async {
        var backoff: UInt64 = 1
        while !Task.isCancelled {
            do {
                try await runOnce(pump) { backoff = 1 }
            } catch {
                if Task.isCancelled { return }
                log("stream \(pump.name): \(error); reconnecting in \(backoff) s")
            }
            try? await Task.sleep(nanoseconds: backoff * 1_000_000_000)
            backoff = min(backoff * 2, 60)
        }
    }

    /// Claims `id` for forwarding: false when it was forwarded already (either way).
    private func claim(_ id: Bytes32) -> Bool {
        state.withLockedValue { s in
            guard s.seen.insert(id).inserted else { return false }
            s.order.append(id)
            if s.order.count > Self.rememberedIDs {
                let old = s.order.prefix(s.order.count - Self.rememberedIDs)
                for id in old { s.seen.remove(id) }
                s.order.removeFirst(old.count)
            }
            return true
        }
    }

    private func count(_ pump: Pump, _ change: (inout Tally) -> Void) {
        state.withLockedValue { change(&$0.tallies[pump.name, default: Tally()]) }
    }

    private func runOnce(_ pump: Pump, connected: () -> Void) async throws {
        let sink = try await RelayConnection.open(pump.sink, group: group).get()
        defer { sink.close() }
        let source = try await RelayConnection.open(pump.source, group: group).get()
        defer { source.close() }
        count(pump) { $0.connections += 1 }
        let sinkReplies = Replies(sink.messages(idleTimeout: idleTimeout).makeAsyncIterator())
        let sourceReplies = Replies(source.messages(idleTimeout: idleTimeout).makeAsyncIterator())

        // The newest event the sink holds for the filter: the source is asked from there.
        let newest = try await Self.newest(sink, sinkReplies, filter: filter)
        var resumed = filter
        resumed.limit = nil
        if let newest { resumed.since = max(filter.since ?? 0, newest) }
        source.sendText(Array(#"["REQ","tern-stream",\#(resumed.json)]"#.utf8))
        // Live events may be older than `since` (a backdated event): checked against the filter.
        var wanted = filter
        wanted.limit = nil
        let check = wanted
        connected()
        log("stream \(pump.name): connected, from \(newest.map { "created_at \($0)" } ?? "the beginning")")

        // The sink's answers (OKs) are read beside the source's events.
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [self] in
                while let bytes = try await sinkReplies.iterator.next() {
                    guard case .ok(_, let accepted, let message) = RelayReply.read(bytes) else { continue }
                    count(pump) { t in
                        if !accepted {
                            t.rejected += 1
                        } else if message.hasPrefix("duplicate:") {
                            t.duplicate += 1
                        } else {
                            t.accepted += 1
                        }
                    }
                }
                throw RelayConnectionError.closed
            }
            tasks.addTask { [self] in
                var scratch: [UInt8] = []
                var keys = Schnorr.PublicKeyCache(capacity: 4096)
                while let bytes = try await sourceReplies.iterator.next() {
                    switch RelayReply.read(bytes) {
                    case .event("tern-stream", .success(let event)):
                        guard EventID.compute(event, scratch: &scratch) == event.id,
                            Schnorr.verify(event, cache: &keys),
                            check.matches(event)
                        else {
                            count(pump) { $0.refused += 1 }
                            continue
                        }
                        guard claim(event.id) else { continue }
                        sink.sendText(Array(#"["EVENT",\#(event.json)]"#.utf8))
                        count(pump) { $0.forwarded += 1 }
                    case .event("tern-stream", .failure):
                        count(pump) { $0.refused += 1 }
                    case .closed("tern-stream", let message):
                        throw RelayStreamError.closed(message)
                    default:
                        continue
                    }
                }
                throw RelayConnectionError.closed
            }
            try await tasks.next()
            tasks.cancelAll()
        }
    }

    /// Asks `connection` for its newest event matching the filter; its created_at, or nil.
    static func newest(
        _ connection: RelayConnection, _ replies: Replies,
        filter: Filter
    ) async throws -> Int64? {
        var newestOnly = filter
        newestOnly.limit = 1
        connection.sendText(Array(#"["REQ","tern-stream-newest",\#(newestOnly.json)]"#.utf8))
        var newest: Int64?
        while let bytes = try await replies.iterator.next() {
            switch RelayReply.read(bytes) {
            case .event("tern-stream-newest", .success(let event)):
                newest = max(newest ?? event.createdAt, event.createdAt)
            case .eose("tern-stream-newest"):
                connection.sendText(Array(#"["CLOSE","tern-stream-newest"]"#.utf8))
                return newest
            case .closed("tern-stream-newest", let message): throw RelayStreamError.closed(message)
            default: continue
            }
        }
        throw RelayConnectionError.closed
    }
}

/// One connection's message iterator, handed to the one task that reads it.
final class Replies: @unchecked Sendable {
    var iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator
    init(_ iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator) { self.iterator = iterator }
}

public enum RelayStreamError: Error, CustomStringConvertible {
    case closed(String)

    public var description: String {
        switch self {
        case .closed(let message): "the relay closed the subscription: \(message)"
        }
    }
}
