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

    /// Filters of the four shapes, drawn from what the prepared events contain.
    static func filters(events: [PreparedEvent], authors: [Bytes32], runTag: String) -> [[UInt8]] {
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
