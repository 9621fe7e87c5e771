import CompressNIO
import NIOCore
import NIOWebSocket

/// Inflates a client's compressed messages (permessage-deflate: RSV1 on a message's first frame)
/// before NIO's frame aggregator and the relay see them; uncompressed messages and control frames
/// pass as they are. A compressed message is bounded twice: its compressed fragments together,
/// and what it inflates to (a small message that inflates past the limit, a "zip bomb", is
/// refused without inflating the rest): both by the relay's maximum message length.
public final class MessageInflater: ChannelInboundHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = WebSocketFrame
    public typealias OutboundOut = WebSocketFrame

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

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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
        switch Self.inflate(&compressed, with: inflater, max: maxMessageLength, allocator: context.channel.allocator) {
        case .success(let out):
            context.fireChannelRead(wrapInboundOut(WebSocketFrame(fin: true, opcode: opcode, data: out)))
        case .failure(.tooLarge):
            fail(context, .messageTooLarge, "message too large once inflated")
        case .failure(.corrupt):
            fail(context, .dataInconsistentWithMessage, "the compressed message does not inflate")
        }
    }

    public enum InflateFailure: Error {
        case tooLarge
        case corrupt
    }

    /// One message's payload inflated (the sync flush's tail put back first), never past `max`
    /// bytes: the output grows as needed up to one byte more than allowed, and filling that
    /// refuses the message without inflating the rest.
    public static func inflate(
        _ compressed: inout ByteBuffer, with inflater: ZlibDecompressor, max: Int, allocator: ByteBufferAllocator
    ) -> Result<ByteBuffer, InflateFailure> {
        if compressed.readableBytes > max { return .failure(.tooLarge) }
        compressed.writeBytes(tail)
        var out = allocator.buffer(capacity: min(max + 1, 4 * compressed.readableBytes + 4096))
        do {
            try inflater.reset()
            while true {
                do {
                    try inflater.inflate(from: &compressed, to: &out)
                    break
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    // Out of room: grow up to the limit, or refuse.
                    guard out.capacity <= max else { return .failure(.tooLarge) }
                    out.reserveCapacity(min(max + 1, out.capacity * 2))
                } catch let error as CompressNIOError where error == .inputBufferOverflow {
                    break  // all input used: the message is complete
                }
            }
        } catch {
            return .failure(.corrupt)
        }
        return out.readableBytes > max ? .failure(.tooLarge) : .success(out)
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
