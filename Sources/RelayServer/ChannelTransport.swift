import NIOCore
import NIOWebSocket
import RelayCore

/// Sends a session's messages on its channel. A client whose backlog (bytes written but not yet
/// taken by the kernel) passes the outbound budget is disconnected.
final class ChannelTransport: ConnectionTransport, @unchecked Sendable {
    let channel: Channel
    let loop: EventLoop
    let budget: Int
    // Loop-confined state.
    private var batching = false
    private var needsFlush = false
    private var flushScheduled = false
    private(set) var closing = false

    init(channel: Channel, budget: Int) {
        self.channel = channel
        self.loop = channel.eventLoop
        self.budget = budget
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
        guard !closing else { return }
        channel.setOption(ChannelOptions.autoRead, value: enabled).whenFailure { _ in }
        if enabled { channel.read() }
    }

    /// While a batch of reads is handled, writes are flushed once at its end.
    func beginBatch() { batching = true }

    func endBatch() {
        batching = false
        if needsFlush {
            needsFlush = false
            channel.flush()
        }
    }

    func sendEvent(prefix: [UInt8], eventJSON: [UInt8]) {
        guard !closing else { return }
        var buffer = channel.allocator.buffer(capacity: prefix.count + eventJSON.count + 1)
        buffer.writeBytes(prefix)
        buffer.writeBytes(eventJSON)
        buffer.writeInteger(UInt8(ascii: "]"))
        write(buffer)
    }

    private func write(_ text: [UInt8]) {
        guard !closing else { return }
        var buffer = channel.allocator.buffer(capacity: text.count)
        buffer.writeBytes(text)
        write(buffer)
    }

    private func write(_ buffer: ByteBuffer) {
        // The bytes NIO holds for this channel that the kernel has not taken: a client that does
        // not read lets them pile up; past the budget it is dropped at once (it would not read a
        // close frame either).
        let backlog = (try? channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
        if backlog + buffer.readableBytes > budget {
            closing = true
            channel.close(promise: nil)
            return
        }
        channel.write(WebSocketFrame(fin: true, opcode: .text, data: buffer), promise: nil)
        if batching {
            needsFlush = true
        } else if !flushScheduled {
            // Answers and live events arrive from other threads in bursts (a writer commit, a
            // fan-out): flush once after the tasks already queued on this loop, not per message.
            flushScheduled = true
            loop.execute {
                self.flushScheduled = false
                self.channel.flush()
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
