import CompressNIO
import NIOCore
import NIOWebSocket

/// Inflates a client's compressed messages (permessage-deflate: RSV1 on a message's first frame)
/// before NIO's frame aggregator and the relay see them; uncompressed messages and control frames
/// pass as they are. A compressed message is bounded twice: its compressed fragments together,
/// and what it inflates to (a small message that inflates past the limit, a "zip bomb", is
/// refused without inflating the rest): both by the relay's maximum message length.
final class MessageInflater: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let inflater: ZlibDecompressor
    private let maxMessageLength: Int
    private var collecting: ByteBuffer?
    private var opcode: WebSocketOpcode = .text
    private var failed = false

    /// The empty stored block a sync flush ends with, which the sender left off (RFC 7692 §7.2.2).
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    init(inflater: ZlibDecompressor, maxMessageLength: Int) {
        self.inflater = inflater
        self.maxMessageLength = maxMessageLength
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            guard collecting == nil else {
                return fail(context, .protocolError, "a new message inside a fragmented one")
            }
            guard frame.rsv1 else { return context.fireChannelRead(data) }
            opcode = frame.opcode
            collecting = frame.unmaskedData
            if frame.fin { finish(context) } else { checkSize(context) }
        case .continuation:
            guard collecting != nil else { return context.fireChannelRead(data) }
            guard !frame.rsv1 else { return fail(context, .protocolError, "RSV1 on a continuation frame") }
            var payload = frame.unmaskedData
            collecting!.writeBuffer(&payload)
            if frame.fin { finish(context) } else { checkSize(context) }
        default:
            context.fireChannelRead(data)
        }
    }

    private func checkSize(_ context: ChannelHandlerContext) {
        if let collecting, collecting.readableBytes > maxMessageLength {
            fail(context, .messageTooLarge, "message too large")
        }
    }

    private func finish(_ context: ChannelHandlerContext) {
        guard var compressed = collecting else { return }
        collecting = nil
        if compressed.readableBytes > maxMessageLength { return fail(context, .messageTooLarge, "message too large") }
        compressed.writeBytes(Self.tail)
        // One byte more than allowed: filling it means the message is too large.
        var out = context.channel.allocator.buffer(
            capacity: min(maxMessageLength + 1, 4 * compressed.readableBytes + 4096))
        do {
            try inflater.reset()
            while true {
                do {
                    try inflater.inflate(from: &compressed, to: &out)
                    break
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    // Out of room: grow up to the limit, or refuse.
                    guard out.capacity <= maxMessageLength else {
                        return fail(context, .messageTooLarge, "message too large once inflated")
                    }
                    out.reserveCapacity(min(maxMessageLength + 1, out.capacity * 2))
                } catch let error as CompressNIOError where error == .inputBufferOverflow {
                    break  // all input used: the message is complete
                }
            }
        } catch {
            return fail(context, .dataInconsistentWithMessage, "the compressed message does not inflate")
        }
        if out.readableBytes > maxMessageLength { return fail(context, .messageTooLarge, "message too large") }
        context.fireChannelRead(wrapInboundOut(WebSocketFrame(fin: true, opcode: opcode, data: out)))
    }

    /// Closes the connection with `code` (RFC 6455 §7.4); nothing more is read.
    private func fail(_ context: ChannelHandlerContext, _ code: WebSocketErrorCode, _ reason: String) {
        failed = true
        collecting = nil
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in channel.close(promise: nil) }
    }
}
