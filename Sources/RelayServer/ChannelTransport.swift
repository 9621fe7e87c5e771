import NIOCore
import NIOWebSocket
import RelayCore

/// Sends a session's messages on its channel. A client whose backlog (bytes written but not yet
/// taken by the kernel) passes the outbound budget is disconnected, and so is one that holds more
/// than its share when all clients' backlogs together pass the ledger's budget.
final class ChannelTransport: ConnectionTransport, @unchecked Sendable {
    let channel: Channel
    let loop: EventLoop
    let budget: Int
    let ledger: OutboundLedger
    // Loop-confined state.
    private var batching = false
    private var needsFlush = false
    private var flushScheduled = false
    private(set) var closing = false
    /// This client's backlog as last reported to the ledger.
    private var accounted = 0
    private var released = false
    /// Reading stops while the session has too many events in flight, or while this client's
    /// backlog is over half its budget (until it takes some of it).
    private var pausedBySession = false
    private var pausedByBacklog = false
    private var reading = true
    /// Called once the backlog falls under an eighth of the budget (`whenDrained`).
    private var drained: (() -> Void)?

    /// The context of NIO's WebSocket frame encoder: text frames, whose header this transport
    /// writes itself into room left before the payload, are written from there, past the
    /// encoder. (The encoder would write each header as a buffer of its own, because the
    /// payload buffer it is handed is not uniquely referenced.) Nil: frames go through it.
    private let frameSink: ChannelHandlerContext?

    init(channel: Channel, budget: Int, ledger: OutboundLedger, frameSink: ChannelHandlerContext? = nil) {
        self.frameSink = frameSink
        self.channel = channel
        self.loop = channel.eventLoop
        self.budget = budget
        self.ledger = ledger
        ledger.opened()
    }

    private var backlog: Int { (try? channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0 }

    /// Reports this client's backlog after a flush (or when it became writable again), and drops
    /// the client if it holds more than its share while the relay is over its total budget.
    func refresh() {
        guard !released else { return }
        let now = backlog
        let total = ledger.add(now - accounted)
        accounted = now
        if !closing && ledger.isOverShare(now, total: total) { return drop() }
        // Back-pressure for clients that ask faster than they read (a REQ flood): stop reading
        // them until they have taken most of what is queued.
        let over = pausedByBacklog ? now > budget / 8 : now > budget / 2
        if over != pausedByBacklog {
            pausedByBacklog = over
            applyReading()
        }
        if let body = drained, now <= budget / 8, !closing {
            drained = nil
            body()
        }
    }

    func whenDrained(_ body: @escaping () -> Void) {
        drained = body
        if !batching && !flushScheduled { refresh() }
    }

    /// Takes this client's backlog off the ledger; called once, when the connection is gone.
    func release() {
        guard !released else { return }
        released = true
        ledger.add(-accounted)
        accounted = 0
        ledger.closed()
    }

    /// Disconnects at once: a client that does not read would not read a close frame either.
    private func drop() {
        closing = true
        channel.close(promise: nil)
    }

    func send(_ text: [UInt8]) {
        if loop.inEventLoop {
            write(text)
        } else {
            loop.execute { self.write(text) }
        }
    }

    func execute(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    func setReading(_ enabled: Bool) {
        pausedBySession = !enabled
        applyReading()
    }

    /// Half the budget or more is waiting for this client to read it.
    var isBacklogged: Bool { backlog > budget / 2 }

    private func applyReading() {
        let enabled = !pausedBySession && !pausedByBacklog
        guard !closing, enabled != reading else { return }
        reading = enabled
        channel.setOption(ChannelOptions.autoRead, value: enabled).whenFailure { _ in }
        if enabled { channel.read() }
    }

    /// While a batch of reads is handled, writes are flushed once at its end.
    func beginBatch() { batching = true }

    /// A session's burst of answers and live events: one flush at its end, in this task.
    func batch(_ body: () -> Void) {
        if batching { return body() }
        beginBatch()
        body()
        endBatch()
    }

    func endBatch() {
        batching = false
        if needsFlush {
            needsFlush = false
            channel.flush()
            refresh()
        }
    }

    func sendEvent(prefix: [UInt8], eventJSON: [UInt8]) {
        guard !closing else { return }
        var buffer = frameBuffer(payload: prefix.count + eventJSON.count + 1)
        buffer.writeBytes(prefix)
        buffer.writeBytes(eventJSON)
        buffer.writeInteger(UInt8(ascii: "]"))
        write(buffer)
    }

    private func write(_ text: [UInt8]) {
        guard !closing else { return }
        var buffer = frameBuffer(payload: text.count)
        buffer.writeBytes(text)
        write(buffer)
    }

    /// The longest header of a frame the server sends (unmasked, 64-bit length).
    static let frameHeadroom = 10

    /// An empty buffer for one frame's payload with room before it for the frame header:
    /// NIO's WebSocket encoder writes the header there, so header and payload go out as one
    /// buffer instead of a separate header buffer per frame.
    private func frameBuffer(payload: Int) -> ByteBuffer {
        var buffer = channel.allocator.buffer(capacity: Self.frameHeadroom + payload)
        buffer.moveWriterIndex(forwardBy: Self.frameHeadroom)
        buffer.moveReaderIndex(forwardBy: Self.frameHeadroom)
        return buffer
    }

    /// Writes the header of an unmasked, final text frame (RFC 6455 §5.2) into the headroom
    /// before `buffer`'s payload, and moves the reader index back over it.
    static func prependTextFrameHeader(_ buffer: inout ByteBuffer) {
        let length = buffer.readableBytes
        var start = buffer.readerIndex
        if length < 126 {
            start -= 2
            buffer.setInteger(UInt8(length), at: start + 1)
        } else if length <= 0xFFFF {
            start -= 4
            buffer.setInteger(UInt8(126), at: start + 1)
            buffer.setInteger(UInt16(length), at: start + 2)
        } else {
            start -= 10
            buffer.setInteger(UInt8(127), at: start + 1)
            buffer.setInteger(UInt64(length), at: start + 2)
        }
        buffer.setInteger(UInt8(0x81), at: start)  // FIN, opcode 1 (text)
        buffer.moveReaderIndex(to: start)
    }

    private func write(_ buffer: ByteBuffer) {
        // The bytes NIO holds for this channel that the kernel has not taken: a client that does
        // not read lets them pile up; past the budget it is dropped at once.
        let queued = backlog + buffer.readableBytes
        if queued > budget { return drop() }
        if !released {
            ledger.add(queued - accounted)
            accounted = queued
        }
        if let frameSink, buffer.readerIndex >= Self.frameHeadroom {
            var frame = buffer
            Self.prependTextFrameHeader(&frame)
            frameSink.write(NIOAny(frame), promise: nil)
        } else {
            channel.write(WebSocketFrame(fin: true, opcode: .text, data: buffer), promise: nil)
        }
        if batching {
            needsFlush = true
        } else if !flushScheduled {
            // Answers and live events arrive from other threads in bursts (a writer commit, a
            // fan-out): flush once after the tasks already queued on this loop, not per message.
            flushScheduled = true
            loop.execute {
                self.flushScheduled = false
                self.channel.flush()
                self.refresh()
            }
        }
    }

    /// Sends a close frame with `code` and closes the connection.
    func close(code: WebSocketErrorCode, reason: String) {
        guard !closing else { return }
        closing = true
        var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
        let channel = channel
        channel.writeAndFlush(frame).whenComplete { _ in channel.close(promise: nil) }
        // A peer that does not read may never take the close frame: close regardless.
        loop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}
