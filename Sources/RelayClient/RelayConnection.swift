import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A relay address `ws://host:port/path` (plain WebSocket; put TLS in front of the relay).
public struct RelayAddress: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let path: String

    public init?(_ url: String) {
        guard url.hasPrefix("ws://") else { return nil }
        var rest = url.dropFirst(5)
        var path = "/"
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let host = parts.first, !host.isEmpty else { return nil }
        let port = parts.count == 2 ? Int(parts[1]) : 80
        guard let port, (1...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
        self.path = path
    }

    public var description: String { "ws://\(host):\(port)\(path)" }
}

/// One WebSocket connection to a relay (`tern bench`'s load, `tern sync`). Received text
/// messages go to `onMessage` on the connection's event loop, where sends must happen too; or,
/// for async code, through `messages(idleTimeout:)` and `sendText`.
public final class RelayConnection: @unchecked Sendable {
    public let channel: Channel
    public var onMessage: (ByteBuffer) -> Void = { _ in }
    public var onClose: () -> Void = {}
    /// Bytes of text messages sent and received (for the sync's report). Event loop only.
    public private(set) var bytesSent = 0
    public private(set) var bytesReceived = 0

    private init(channel: Channel) {
        self.channel = channel
    }

    public var loop: EventLoop { channel.eventLoop }

    public static func open(_ address: RelayAddress, group: EventLoopGroup) -> EventLoopFuture<RelayConnection> {
        let upgraded = group.next().makePromise(of: RelayConnection.self)
        let connect = ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(
                    maxFrameSize: 1 << 24, automaticErrorHandling: true,
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            let connection = RelayConnection(channel: channel)
                            let sync = channel.pipeline.syncOperations
                            sync.removeHandler(try sync.handler(type: Requester.self), promise: nil)
                            try sync.addHandler(Receiver(connection: connection))
                            upgraded.succeed(connection)
                        }
                    })
                return channel.pipeline.addHTTPClientHandlers(
                    leftOverBytesStrategy: .forwardBytes,
                    withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in })
                ).flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(
                        Requester(host: address.host, path: address.path, result: upgraded))
                }
            }
            .connect(host: address.host, port: address.port)
        connect.whenFailure { upgraded.fail($0) }
        return upgraded.futureResult
    }

    /// Sends a text frame (client frames are masked). Event loop only.
    public func send(_ bytes: [UInt8], flush: Bool = true) {
        bytesSent += bytes.count
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: buffer)
        if flush {
            channel.writeAndFlush(frame, promise: nil)
        } else {
            channel.write(frame, promise: nil)
        }
    }

    public func flush() { channel.flush() }

    public func close() { channel.close(promise: nil) }

    /// Sends a text message from any thread.
    public func sendText(_ bytes: [UInt8]) {
        loop.execute { self.send(bytes) }
    }

    /// The text messages as they arrive, for async code. The stream fails with
    /// `RelayConnectionError.closed` when the connection closes, and with `.timedOut` when the
    /// relay sends nothing for `idleTimeout` seconds (every call to the outside has a timeout).
    public func messages(idleTimeout: Int64) -> AsyncThrowingStream<[UInt8], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        loop.execute { [self] in
            var last = NIODeadline.now()
            // Weak: the connection holds these closures; a strong reference back would keep it,
            // and the messages waiting in the stream, alive forever.
            onMessage = { [weak self] buffer in
                last = .now()
                self?.bytesReceived += buffer.readableBytes
                continuation.yield(Array(buffer.readableBytesView))
            }
            onClose = { [weak self] in
                continuation.finish(throwing: RelayConnectionError.closed)
                self?.onMessage = { _ in }
                self?.onClose = {}
            }
            let timer = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { task in
                if NIODeadline.now() - last > .seconds(idleTimeout) {
                    continuation.finish(
                        throwing: RelayConnectionError.timedOut("no message from the relay for \(idleTimeout) s"))
                    task.cancel()
                }
            }
            continuation.onTermination = { _ in timer.cancel() }
        }
        return stream
    }

    final class Receiver: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let connection: RelayConnection
        init(connection: RelayConnection) { self.connection = connection }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text:
                connection.onMessage(frame.unmaskedData)
            case .ping:
                var payload = frame.unmaskedData
                let pong = WebSocketFrame(
                    fin: true, opcode: .pong, maskKey: .random(),
                    data: payload.readSlice(length: payload.readableBytes)!)
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            case .connectionClose:
                context.close(promise: nil)
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            connection.onClose()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            context.close(promise: nil)
        }
    }

    final class Requester: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        let host: String
        let path: String
        let result: EventLoopPromise<RelayConnection>

        init(host: String, path: String, result: EventLoopPromise<RelayConnection>) {
            self.host = host
            self.path = path
            self.result = result
        }

        func channelActive(context: ChannelHandlerContext) {
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: host)
            headers.add(name: "Content-Length", value: "0")
            context.write(
                wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))),
                promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data) {
                result.fail(RelayConnectionError.upgradeRefused(Int(head.status.code)))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            result.fail(error)
            context.close(promise: nil)
        }
    }
}

public enum RelayConnectionError: Error, CustomStringConvertible {
    case upgradeRefused(Int)
    case timedOut(String)
    case closed

    public var description: String {
        switch self {
        case .upgradeRefused(let status): "the relay refused the WebSocket upgrade (HTTP \(status))"
        case .timedOut(let what): "timed out: \(what)"
        case .closed: "the relay closed the connection"
        }
    }
}
