import NIOCore
import NIOPosix

/// Sends `request` on a plain TCP connection to 127.0.0.1:`port` and returns every byte the
/// relay sends until it closes the connection (closed by us after `seconds` at the latest).
func rawExchange(port: Int, request: String, group: EventLoopGroup, seconds: Int64 = 10) async throws -> [UInt8] {
    try await rawConnection(port: port, request: request, group: group, seconds: seconds).bytes
}

/// What a plain TCP connection received, and whether the relay closed it (rather than our
/// deadline).
struct RawReply {
    var bytes: [UInt8]
    var closedByRelay: Bool
}

func rawConnection(port: Int, request: String, group: EventLoopGroup, seconds: Int64) async throws -> RawReply {
    /// Confined to the connection's event loop.
    final class Collect: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var reply = RawReply(bytes: [], closedByRelay: true)
        let done: EventLoopPromise<RawReply>
        init(done: EventLoopPromise<RawReply>) { self.done = done }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            reply.bytes += b.readBytes(length: b.readableBytes) ?? []
        }
        func channelInactive(context: ChannelHandlerContext) { done.succeed(reply) }
    }
    let done = group.next().makePromise(of: RawReply.self)
    let collect = Collect(done: done)
    let channel = try await ClientBootstrap(group: group)
        .channelInitializer { $0.pipeline.addHandler(collect) }
        .connect(host: "127.0.0.1", port: port).get()
    if !request.isEmpty { try await channel.writeAndFlush(ByteBuffer(string: request)).get() }
    let timeout = channel.eventLoop.scheduleTask(in: .seconds(seconds)) {
        collect.reply.closedByRelay = false
        channel.close(promise: nil)
    }
    defer { timeout.cancel() }
    return try await done.futureResult.get()
}
