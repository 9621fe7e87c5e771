import NIOCore
import NostrCore
import RelayClient

/// A live subscriber: subscribes to the run's tag, reports EOSE, then records when each of the
/// run's events arrives, until it has all of them.
final class SubscriberDriver: @unchecked Sendable {
    private let connection: RelayConnection
    private let runTag: String
    private let index: [Bytes32: Int]
    private var received: [UInt64]
    private(set) var count = 0
    private var expected = Int.max
    let subscribed: EventLoopPromise<Void>
    let complete: EventLoopPromise<Void>

    init(connection: RelayConnection, runTag: String, index: [Bytes32: Int]) {
        self.connection = connection
        self.runTag = runTag
        self.index = index
        self.received = Array(repeating: 0, count: index.count)
        self.subscribed = connection.loop.makePromise()
        self.complete = connection.loop.makePromise()
    }

    func start() {
        connection.loop.execute { [self] in
            connection.onMessage = { [self] in handle($0) }
            connection.onClose = { [self] in
                subscribed.fail(BenchError.timedOut("subscriber closed by the relay"))
                complete.fail(BenchError.timedOut("subscriber closed by the relay"))
            }
            connection.send(Array(##"["REQ","live",{"#t":["\##(runTag)"],"limit":0}]"##.utf8))
        }
    }

    private func handle(_ buffer: ByteBuffer) {
        let reply = RelayReply(buffer)
        switch reply.verb {
        case .eose:
            subscribed.succeed()
        case .event:
            let t = nowNanos()
            guard let id = reply.eventID, let i = index[id], received[i] == 0 else { return }
            received[i] = t
            count += 1
            if count == expected { complete.succeed() }
        default:
            break
        }
    }

    /// Completes once `n` events (those the relay accepted) have arrived.
    func expect(_ n: Int) {
        connection.loop.execute { [self] in
            expected = n
            if count >= n { complete.succeed() }
        }
    }

    /// Delivery latencies against the publisher's send times, read after the run.
    func latencies(sendTimes: SendTimes) -> Latencies {
        var out = Latencies()
        out.samples.reserveCapacity(count)
        for (i, t) in received.enumerated() where t != 0 && sendTimes.times[i] != 0 {
            out.add(t &- sendTimes.times[i])
        }
        return out
    }
}
