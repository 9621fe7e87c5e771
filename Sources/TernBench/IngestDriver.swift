import NIOCore
import NostrCore
import RelayClient

/// Publishes a slice of prepared events on one connection, keeping `window` in flight, and times
/// each OK. Lives on its connection's event loop.
final class IngestDriver: @unchecked Sendable {
    private let connection: RelayConnection
    private let events: ArraySlice<PreparedEvent>
    private let window: Int
    private let sendTimes: SendTimes?
    private var next: Int
    private var inFlight = 0
    private var answered = 0
    private var sentAt: [Bytes32: UInt64] = [:]
    private(set) var latencies = Latencies()
    private(set) var accepted = 0
    private(set) var rejected = 0
    private(set) var firstRejection = ""
    let done: EventLoopPromise<Void>

    init(connection: RelayConnection, events: ArraySlice<PreparedEvent>, window: Int, sendTimes: SendTimes? = nil) {
        self.connection = connection
        self.events = events
        self.window = max(1, window)
        self.sendTimes = sendTimes
        self.next = events.startIndex
        self.done = connection.loop.makePromise()
        sentAt.reserveCapacity(self.window * 2)
        latencies.samples.reserveCapacity(events.count)
    }

    func start() {
        connection.loop.execute { [self] in
            connection.onMessage = { [self] in handle($0) }
            connection.onClose = { [self] in done.fail(BenchError.timedOut("connection closed by the relay")) }
            if events.isEmpty { done.succeed() } else { fill() }
        }
    }

    private func fill() {
        var sent = false
        while inFlight < window && next < events.endIndex {
            let event = events[next]
            let t = nowNanos()
            sentAt[event.id] = t
            sendTimes?.record(index: next, at: t)
            connection.send(event.message, flush: false)
            next += 1
            inFlight += 1
            sent = true
        }
        if sent { connection.flush() }
    }

    private func handle(_ buffer: ByteBuffer) {
        let reply = RelayReply(buffer)
        guard reply.verb == .ok, let id = Bytes32(hex: reply.first), let t0 = sentAt.removeValue(forKey: id) else {
            return
        }
        latencies.add(nowNanos() - t0)
        inFlight -= 1
        answered += 1
        if reply.accepted {
            accepted += 1
        } else {
            rejected += 1
            if firstRejection.isEmpty { firstRejection = String(decoding: reply.message, as: UTF8.self) }
        }
        if answered == events.count {
            done.succeed()
        } else {
            fill()
        }
    }
}

/// When each event was sent, by its index in the prepared list (for fan-out latency).
final class SendTimes: @unchecked Sendable {
    let times: UnsafeMutableBufferPointer<UInt64>

    init(count: Int) {
        times = .allocate(capacity: count)
        times.initialize(repeating: 0)
    }

    deinit { times.deallocate() }

    func record(index: Int, at t: UInt64) { times[index] = t }
}
