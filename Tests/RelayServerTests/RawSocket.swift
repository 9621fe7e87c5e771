import NIOCore
import NIOPosix

/// Sends `request` on a plain TCP connection to 127.0.0.1:`port` and returns every byte the
/// relay sends until it closes the connection (closed by us after `seconds` at the latest).
func rawExchange(port: Int, request: String, group: EventLoopGroup, seconds: Int64 = 10) async throws -> [UInt8] {
    final class Collect: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var bytes: [UInt8] = []
        let done: EventLoopPromise<[UInt8]>
        init(done: EventLoopPromise<[UInt8]>) { self.done = done }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            bytes += b.readBytes(length: b.readableBytes) ?? []
        }
        func channelInactive(context: ChannelHandlerContext) { done.succeed(bytes) }
    }
    let done = group.next().makePromise(of: [UInt8].self)
    let channel = try await ClientBootstrap(group: group)
        .channelInitializer { $0.pipeline.addHandler(Collect(done: done)) }
        .connect(host: "127.0.0.1", port: port).get()
    try await channel.writeAndFlush(ByteBuffer(string: request)).get()
    let timeout = group.next().scheduleTask(in: .seconds(seconds)) { channel.close(promise: nil) }
    defer { timeout.cancel() }
    return try await done.futureResult.get()
}
