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
    /// Where the connection is in its life.
    enum Lifecycle {
        case open
        /// A close frame was sent, or the client was dropped: nothing more is written.
        case closing
        /// The connection is gone and its backlog is off the ledger.
        case released
    }

    /// What waits to be flushed.
    enum Output {
        case idle
        /// Inside a batch (a read, or a mailbox burst): flushed once at its end if it wrote.
        case batch(wrote: Bool)
        /// A write outside a batch queued a flush task on the loop.
        case flushQueued
    }

    /// Why reading is paused: too many events in flight for the writer, or this client's
    /// backlog over half its budget (until it takes most of it).
    struct Pauses: OptionSet {
        let rawValue: UInt8
        static let bySession = Pauses(rawValue: 1)
        static let byBacklog = Pauses(rawValue: 2)
    }

    // Loop-confined state.
    private(set) var lifecycle = Lifecycle.open
    private var output = Output.idle
    private var pauses: Pauses = []
    /// Whether autoRead is on, as last set on the channel.
    private var reading = true
    /// This client's backlog as last reported to the ledger.
    private var accounted = 0
    /// Called once the backlog falls under an eighth of the budget (`whenDrained`).
    private var drained: (() -> Void)?

    /// The context that whole frames are written and flushed from: the handler nearest the
    /// socket, past NIO's WebSocket frame encoder (this transport writes text frames' headers
    /// itself; the encoder would write each header as a buffer of its own) and the handlers that
    /// only pass writes on. Nil: frames go through the whole pipeline and its encoder.
    private let frameSink: ChannelHandlerContext?

    /// Counts the clients dropped for not reading.
    private let metrics: RelayMetrics?

    /// permessage-deflate, when the client agreed it.
    private let deflater: MessageDeflater?

    init(
        channel: Channel, budget: Int, ledger: OutboundLedger, frameSink: ChannelHandlerContext? = nil,
        metrics: RelayMetrics? = nil, deflater: MessageDeflater? = nil
    ) {
        self.deflater = deflater
        self.metrics = metrics
        self.frameSink = frameSink
        self.channel = channel
        self.loop = channel.eventLoop
        self.budget = budget
        self.ledger = ledger
        ledger.opened()
    }

    /// The bytes written for this client that the kernel has not taken: NIO's and the frames
    /// not yet handed to it. Asking the channel costs a generic option lookup, so the count kept
    /// since the last one is used (and checked with the channel before it drops the client).
    private var backlog: Int {
        if let known = knownBacklog { return known }
        let held = (try? channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
        return held + (frames?.readableBytes ?? 0)
    }

    /// The backlog as last counted (after a write, or by a flush's `refresh`): an upper bound
    /// until the next refresh, since NIO's count only falls between them. Nil: ask the channel.
    private var knownBacklog: Int?

    /// Frames written since the last flush, whole (header and payload), one after the other:
    /// handed to the channel as one buffer before each flush, so a burst of messages costs one
    /// allocation and one pipeline write instead of one each.
    private var frames: ByteBuffer?

    /// The most `frames` holds before it is handed on without a flush (bounds its copies).
    static let framesLimit = 64 * 1024

    /// Reports this client's backlog after a flush (or when it became writable again), and drops
    /// the client if it holds more than its share while the relay is over its total budget.
    func refresh() {
        guard lifecycle != .released else { return }
        knownBacklog = nil  // after a flush or I/O: ask the channel
        let now = backlog
        // Until the next flush the channel's count can only fall: this bound saves asking again.
        knownBacklog = now
        let total = ledger.add(now - accounted)
        accounted = now
        if lifecycle == .open && ledger.isOverShare(now, total: total) { return drop() }
        // Back-pressure for clients that ask faster than they read (a REQ flood): stop reading
        // them until they have taken most of what is queued.
        let paused = pauses.contains(.byBacklog)
        let over = paused ? now > budget / 8 : now > budget / 2
        if over != paused {
            if over { pauses.insert(.byBacklog) } else { pauses.remove(.byBacklog) }
            applyReading()
        }
        if let body = drained, now <= budget / 8, lifecycle == .open {
            drained = nil
            body()
        }
    }

    func whenDrained(_ body: @escaping () -> Void) {
        drained = body
        if case .idle = output { refresh() }  // otherwise the coming flush refreshes
    }

    /// Takes this client's backlog off the ledger; called once, when the connection is gone.
    func release() {
        guard lifecycle != .released else { return }
        lifecycle = .released
        drained = nil  // it holds the session: no cycle outlives the connection
        frames = nil
        ledger.add(-accounted)
        accounted = 0
        ledger.closed()
    }

    /// Disconnects at once: a client that does not read would not read a close frame either.
    private func drop() {
        if lifecycle == .open {
            lifecycle = .closing
            metrics?.droppedSlowClient()
        }
        frames = nil
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
        if enabled { pauses.remove(.bySession) } else { pauses.insert(.bySession) }
        applyReading()
    }

    /// Half the budget or more is waiting for this client to read it.
    var isBacklogged: Bool { backlog > budget / 2 }

    private func applyReading() {
        let enabled = pauses.isEmpty
        guard lifecycle == .open, enabled != reading else { return }
        reading = enabled
        channel.setOption(ChannelOptions.autoRead, value: enabled).whenFailure { _ in }
        if enabled { channel.read() }
    }

    /// While a batch of reads is handled, writes are flushed once at its end. Writes still
    /// waiting for a queued flush are flushed with the batch.
    func beginBatch() {
        if case .flushQueued = output {
            output = .batch(wrote: true)
        } else {
            output = .batch(wrote: false)
        }
    }

    /// A session's burst of answers and live events: one flush at its end, in this task.
    func batch(_ body: () -> Void) {
        if case .batch = output { return body() }
        beginBatch()
        body()
        endBatch()
    }

    func endBatch() {
        let wrote: Bool
        if case .batch(let w) = output { wrote = w } else { wrote = false }
        output = .idle
        if wrote { flush() }
    }

    /// Hands the frames to the channel, flushes it, and reports the backlog.
    private func flush() {
        handOverFrames()
        if let frameSink { frameSink.flush() } else { channel.flush() }
        refresh()
    }

    /// Writes the frames gathered so far to the channel (without a flush).
    private func handOverFrames() {
        guard let buffer = frames else { return }
        frames = nil
        if let frameSink { frameSink.write(NIOAny(buffer), promise: nil) }
    }

    func sendEvent(prefix: [UInt8], eventJSON: [UInt8]) {
        sendText(length: prefix.count + eventJSON.count + 1) { buffer in
            buffer.writeBytes(prefix)
            buffer.writeBytes(eventJSON)
            buffer.writeInteger(UInt8(ascii: "]"))
        }
    }

    private func write(_ text: [UInt8]) {
        sendText(length: text.count) { $0.writeBytes(text) }
    }

    /// Sends a text message of `length` bytes that `fill` writes: into the frames buffer, or
    /// (compressed, or without a sink) into a buffer of its own.
    @inline(__always)
    private func sendText(length: Int, _ fill: (inout ByteBuffer) -> Void) {
        guard lifecycle == .open else { return }
        if packs(length) {
            guard admit(frame: length) else { return }
            var buffer = takeFrames(adding: length)
            fill(&buffer)
            frames = buffer
            return scheduleFlush()
        }
        var buffer = frameBuffer(payload: length)
        fill(&buffer)
        write(buffer)
    }

    /// Whether a message of `length` bytes goes into the frames buffer: not compressed, and
    /// there is a context to write the buffer from.
    private func packs(_ length: Int) -> Bool {
        guard frameSink != nil else { return false }
        guard let deflater else { return true }
        return length < deflater.minimumSize
    }

    /// Accounts for an uncompressed text frame of `length` payload bytes (its header too)
    /// before it is added to the frames; false when that dropped the client.
    private func admit(frame length: Int) -> Bool {
        account(adding: length + (length < 126 ? 2 : length <= 0xFFFF ? 4 : 10))
        return lifecycle == .open
    }

    /// The frames buffer, taken out of `frames` (so it is uniquely referenced while written), with
    /// the header of an uncompressed text frame of `length` bytes written, and room for them.
    private func takeFrames(adding length: Int) -> ByteBuffer {
        let needed = Self.frameHeadroom + length
        var buffer: ByteBuffer
        if var held = frames, held.readableBytes + needed <= Self.framesLimit {
            frames = nil
            // Doubling (up to the limit), so that a burst is copied a few times, not per frame.
            let required = held.writerIndex + needed
            if required > held.capacity {
                held.reserveCapacity(max(required, min(held.capacity * 2, Self.framesLimit)))
            }
            buffer = held
        } else {
            handOverFrames()
            buffer = channel.allocator.buffer(capacity: max(needed, 2048))
        }
        Self.writeTextFrameHeader(&buffer, length: length)
        return buffer
    }

    /// Writes the header of an unmasked, final, uncompressed text frame of `length` bytes.
    static func writeTextFrameHeader(_ buffer: inout ByteBuffer, length: Int) {
        if length < 126 {
            buffer.writeMultipleIntegers(UInt8(0x81), UInt8(length))
        } else if length <= 0xFFFF {
            buffer.writeMultipleIntegers(UInt8(0x81), UInt8(126), UInt16(length))
        } else {
            buffer.writeMultipleIntegers(UInt8(0x81), UInt8(127), UInt64(length))
        }
    }

    /// Adds `bytes` to this client's backlog (`frames` as it was before them); past the budget,
    /// the client is dropped.
    private func account(adding bytes: Int) {
        var queued = backlog + bytes
        if queued > budget && knownBacklog != nil {
            // The count kept since the last flush is an upper bound (NIO may have written
            // since): ask the channel before dropping anyone.
            knownBacklog = nil
            queued = backlog + bytes
        }
        if queued > budget { return drop() }
        ledger.add(queued - accounted)
        accounted = queued
        knownBacklog = queued
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
    static func prependTextFrameHeader(_ buffer: inout ByteBuffer, compressed: Bool = false) {
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
        // FIN, RSV1 when compressed (permessage-deflate), opcode 1 (text)
        buffer.setInteger(UInt8(compressed ? 0xC1 : 0x81), at: start)
        buffer.moveReaderIndex(to: start)
    }

    private func write(_ payload: ByteBuffer) {
        var buffer = payload
        var compressed = false
        if let deflater, buffer.readableBytes >= deflater.minimumSize {
            do {
                buffer = try deflater.compress(&buffer, headroom: Self.frameHeadroom, allocator: channel.allocator)
                compressed = true
            } catch {
                // The compressor's state is unknown: the client's would no longer match it.
                return close(code: .unexpectedServerError, reason: "compression failed")
            }
        }
        // The bytes NIO holds for this channel that the kernel has not taken: a client that does
        // not read lets them pile up; past the budget it is dropped at once.
        account(adding: buffer.readableBytes)
        guard lifecycle == .open else { return }
        handOverFrames()  // the frames before this one go first
        if let frameSink, buffer.readerIndex >= Self.frameHeadroom {
            var frame = buffer
            Self.prependTextFrameHeader(&frame, compressed: compressed)
            frameSink.write(NIOAny(frame), promise: nil)
        } else {
            channel.write(WebSocketFrame(fin: true, rsv1: compressed, opcode: .text, data: buffer), promise: nil)
        }
        scheduleFlush()
    }

    /// After a write: a batch flushes at its end; outside one, a flush is queued on the loop.
    private func scheduleFlush() {
        switch output {
        case .batch:
            output = .batch(wrote: true)
        case .flushQueued:
            break
        case .idle:
            // Answers and live events arrive from other threads in bursts (the matcher's outcomes
            // and deliveries, a reader's answer): flush once after the tasks already queued on
            // this loop, not per message.
            // A batch that starts first takes the flush over (see `beginBatch`).
            output = .flushQueued
            loop.execute {
                guard case .flushQueued = self.output else { return }
                self.output = .idle
                self.flush()
            }
        }
    }

    /// Sends a close frame with `code` and closes the connection.
    func close(code: WebSocketErrorCode, reason: String) {
        guard lifecycle == .open else { return }
        lifecycle = .closing
        handOverFrames()  // what was written before the close frame goes before it
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
