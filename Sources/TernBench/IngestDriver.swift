import NIOCore
import NostrCore
import RelayClient

/// Publishes a slice of prepared events on one connection, keeping `window` in flight (and, with
/// an `interval`, sending the n-th event no sooner than n intervals after the start), and times
/// each OK. Lives on its connection's event loop.
final class IngestDriver: @unchecked Sendable {
    private let connection: RelayConnection
    private let events: ArraySlice<PreparedEvent>
    private let window: Int
    private let sendTimes: SendTimes?
    /// Nanoseconds between two sends (a paced run), or nil.
    private let interval: UInt64?
    private var started: UInt64 = 0
    private var wakeScheduled = false
    private var next: Int
    private var inFlight = 0
    private var answered = 0
    private var sentAt: [Bytes32: UInt64] = [:]
    private(set) var latencies = Latencies()
    private(set) var accepted = 0
    private(set) var rejected = 0
    private(set) var firstRejection = ""
    let done: EventLoopPromise<Void>

    init(
        connection: RelayConnection, events: ArraySlice<PreparedEvent>, window: Int, sendTimes: SendTimes? = nil,
        interval: UInt64? = nil
    ) {
        self.connection = connection
        self.interval = interval
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
            started = nowNanos()
            if events.isEmpty { done.succeed() } else { fill() }
        }
    }

    private func fill() {
        var sent = false
        while inFlight < window && next < events.endIndex {
            let event = events[next]
            let t = nowNanos()
            if let interval {
                let due = started + UInt64(next - events.startIndex) * interval
                if t < due {
                    wake(in: due - t)
                    break
                }
            }
            sentAt[event.id] = t
            sendTimes?.record(index: next, at: t)
            connection.send(event.message, flush: false)
            next += 1
            inFlight += 1
            sent = true
        }
        if sent { connection.flush() }
    }

    /// A paced run: fills again once the next event is due.
    private func wake(in nanos: UInt64) {
        guard !wakeScheduled else { return }
        wakeScheduled = true
        connection.loop.scheduleTask(in: .nanoseconds(Int64(nanos))) { [self] in
            wakeScheduled = false
            fill()
        }
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
