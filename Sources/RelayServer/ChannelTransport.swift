import NIOCore
import NIOWebSocket
import RelayCore

/// Sends a session's messages on its channel. It counts the bytes written but not yet handed to
/// the kernel; a client whose backlog passes the outbound budget is disconnected.
final class ChannelTransport: ConnectionTransport, @unchecked Sendable {
    let channel: Channel
    let loop: EventLoop
    let budget: Int
    // Loop-confined state.
    private var queuedBytes = 0
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

    private func write(_ text: [UInt8]) {
        guard !closing else { return }
        let size = text.count
        queuedBytes += size
        if queuedBytes > budget {
            // The peer is not reading, so it would not read a close frame either: drop it now.
            closing = true
            channel.close(promise: nil)
            return
        }
        var buffer = channel.allocator.buffer(capacity: size)
        buffer.writeBytes(text)
        let promise = loop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in self.queuedBytes -= size }
        let frame = WebSocketFrame(fin: true, opcode: .text, data: buffer)
        channel.write(frame, promise: promise)
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
