import NIOCore
import NostrCore
import NostrTools
import RelayClient

/// Sends limit-50 REQs (by author, kind, tag and ids in turn) with `window` in flight on one
/// connection until `deadline`, timing each from REQ to EOSE and closing it after.
final class QueryDriver: @unchecked Sendable {
    private let connection: RelayConnection
    private let window: Int
    private let deadline: UInt64
    private let filters: [[UInt8]]
    private var sequence: Int
    private var inFlight: [String: UInt64] = [:]
    private(set) var latencies = Latencies()
    private(set) var eventsReceived = 0
    private(set) var closedByRelay = 0
    let done: EventLoopPromise<Void>

    init(connection: RelayConnection, window: Int, deadline: UInt64, filters: [[UInt8]], offset: Int) {
        self.connection = connection
        self.window = max(1, window)
        self.deadline = deadline
        self.filters = filters
        self.sequence = offset
        self.done = connection.loop.makePromise()
    }

    /// The filters a mix asks, in a fixed shuffled order, drawn from what the prepared events
    /// contain.
    static func filters(mix: BenchOptions.QueryMix, events: [PreparedEvent], authors: [Bytes32], runTag: String)
        -> [[UInt8]]
    {
        switch mix {
        case .simple: return simpleFilters(events: events, authors: authors, runTag: runTag)
        case .realistic: return realisticFilters(events: events, authors: authors)
        }
    }

    /// What a client's screens ask, by weight (of 100): a profile's notes by author, limit 50
    /// (20); the global feed of kind 1, limit 50 (15); a hashtag, limit 20 (15); 10 ids (10); a
    /// profile, kind 0 by author (10); a contact list, kind 3 by author (5); an hour of kind 1,
    /// limit 100 (5); the reactions to a note, kind 7 by `#e` (10); mentions, kind 1 by `#p`,
    /// limit 20 (5); an article, kind 30023 by author and `#d` (5).
    static func realisticFilters(events: [PreparedEvent], authors: [Bytes32]) -> [[UInt8]] {
        var rng = SplitMix64(seed: 98)
        func pick<T>(_ list: [T]) -> T { list[Int(rng.next() % UInt64(list.count))] }
        let reactions = events.compactMap(\.e)
        let mentions = events.compactMap(\.p)
        let articles = events.filter { $0.d != nil }
        let first = events.map(\.createdAt).min() ?? 0
        let last = events.map(\.createdAt).max() ?? 0
        let weighted: [(Int, () -> String)] = [
            (20, { #"{"authors":["\#(pick(authors).hex)"],"limit":50}"# }),
            (15, { #"{"kinds":[1],"limit":50}"# }),
            (15, { ##"{"#t":["\##(pick(EventFactory.topics))"],"limit":20}"## }),
            (
                10,
                {
                    let ids = (0..<10).map { _ in "\"" + pick(events).id.hex + "\"" }
                    return #"{"ids":[\#(ids.joined(separator: ","))]}"#
                }
            ),
            (10, { #"{"kinds":[0],"authors":["\#(pick(authors).hex)"],"limit":1}"# }),
            (5, { #"{"kinds":[3],"authors":["\#(pick(authors).hex)"],"limit":1}"# }),
            (
                5,
                {
                    let since = first + Int64(rng.next() % UInt64(max(1, last - first)))
                    return #"{"kinds":[1],"since":\#(since),"until":\#(since + 3600),"limit":100}"#
                }
            ),
            (
                10,
                { reactions.isEmpty ? #"{"kinds":[7],"limit":20}"# : ##"{"kinds":[7],"#e":["\##(pick(reactions))"]}"## }
            ),
            (
                5,
                {
                    mentions.isEmpty
                        ? #"{"kinds":[1],"limit":20}"# : ##"{"kinds":[1],"#p":["\##(pick(mentions))"],"limit":20}"##
                }
            ),
            (
                5,
                {
                    guard !articles.isEmpty else { return #"{"kinds":[30023],"limit":20}"# }
                    let article = pick(articles)
                    return
                        ##"{"kinds":[30023],"authors":["\##(authors[article.author].hex)"],"#d":["\##(article.d!)"]}"##
                }
            ),
        ]
        var out: [[UInt8]] = []
        for (weight, make) in weighted {
            for _ in 0..<(weight * 4) { out.append(Array(make().utf8)) }
        }
        // A fixed shuffle, so every connection meets every shape throughout the run.
        for i in stride(from: out.count - 1, to: 0, by: -1) { out.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return out
    }

    /// Filters of the four shapes of earlier sessions (author, kind, tag, 5 ids; limit 50).
    static func simpleFilters(events: [PreparedEvent], authors: [Bytes32], runTag: String) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var rng = SplitMix64(seed: 99)
        for i in 0..<256 {
            let json: String
            switch i % 4 {
            case 0: json = #"{"authors":["\#(authors[Int(rng.next() % UInt64(authors.count))].hex)"],"limit":50}"#
            case 1: json = #"{"kinds":[\#([1, 7, 0, 30023][Int(rng.next() % 4)])],"limit":50}"#
            case 2:
                json =
                    ##"{"#t":["\##(EventFactory.topics[Int(rng.next() % UInt64(EventFactory.topics.count))])"],"limit":50}"##
            default:
                let ids = (0..<5).map { _ in "\"" + events[Int(rng.next() % UInt64(events.count))].id.hex + "\"" }
                json = #"{"ids":[\#(ids.joined(separator: ","))],"limit":50}"#
            }
            out.append(Array(json.utf8))
        }
        return out
    }

    func start() {
        connection.loop.execute { [self] in
            connection.onMessage = { [self] in handle($0) }
            connection.onClose = { [self] in done.fail(BenchError.timedOut("connection closed by the relay")) }
            fill()
        }
    }

    private func fill() {
        let now = nowNanos()
        while inFlight.count < window && now < deadline {
            sequence += 1
            let id = "q\(sequence)"
            var message = Array(#"["REQ",""#.utf8) + Array(id.utf8) + Array(#"","#.utf8)
            message += filters[sequence % filters.count]
            message.append(UInt8(ascii: "]"))
            inFlight[id] = nowNanos()
            connection.send(message, flush: false)
        }
        connection.flush()
        if inFlight.isEmpty { done.succeed() }
    }

    private func handle(_ buffer: ByteBuffer) {
        let reply = RelayReply(buffer)
        switch reply.verb {
        case .event:
            eventsReceived += 1
        case .eose, .closed:
            let id = String(decoding: reply.first, as: UTF8.self)
            guard let t0 = inFlight.removeValue(forKey: id) else { return }
            if reply.verb == .eose {
                latencies.add(nowNanos() - t0)
                connection.send(Array(#"["CLOSE","\#(id)"]"#.utf8), flush: false)
            } else {
                closedByRelay += 1
            }
            fill()
        default:
            break
        }
    }
}
