import NIOCore
import NIOHTTP1
import RelayCore

/// Plain HTTP on the relay's port: the NIP-11 document, an HTML page, and `/health`.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let relay: Relay
    private let healthy: @Sendable () -> Bool
    private var head: HTTPRequestHead?

    init(relay: Relay, healthy: @escaping @Sendable () -> Bool) {
        self.relay = relay
        self.healthy = healthy
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            if let head { respond(context: context, head: head) }
            head = nil
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Idle before the WebSocket upgrade (a slow or stalled client): close.
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var headers = HTTPHeaders()
        headers.add(name: "Access-Control-Allow-Origin", value: "*")
        headers.add(name: "Access-Control-Allow-Headers", value: "*")
        headers.add(name: "Access-Control-Allow-Methods", value: "GET, HEAD, OPTIONS")
        let status: HTTPResponseStatus
        var body: [UInt8]
        switch (head.method, path) {
        case (.OPTIONS, _):
            status = .noContent
            body = []
        case (.GET, "/"), (.HEAD, "/"):
            status = .ok
            if head.headers[canonicalForm: "accept"].contains(where: {
                $0.lowercased().contains("application/nostr+json")
            }) {
                headers.add(name: "Content-Type", value: "application/nostr+json")
                body = relay.informationDocument
            } else {
                headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
                body = Array(relay.currentInfo.page(limits: relay.limits).utf8)
            }
        case (.GET, "/health"), (.HEAD, "/health"):
            let ok = healthy()
            status = ok ? .ok : .serviceUnavailable
            headers.add(name: "Content-Type", value: "text/plain")
            body = Array((ok ? "ok\n" : "unavailable\n").utf8)
        default:
            status = .notFound
            headers.add(name: "Content-Type", value: "text/plain")
            body = Array("not found\n".utf8)
        }
        headers.add(name: "Content-Length", value: "\(body.count)")
        if head.method == .HEAD { body = [] }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        if !body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
