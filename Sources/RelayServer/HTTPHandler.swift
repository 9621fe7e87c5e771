import NIOCore
import NIOHTTP1
import RelayCore

/// What the HTTP routes read: the server's state besides the relay's.
struct HTTPRoutes: Sendable {
    let healthy: @Sendable () -> Bool
    /// `/stats`: the status page's live figures, as JSON.
    let stats: @Sendable () -> [UInt8]
    let figures: @Sendable () -> StatusPage.Figures
    /// `/metrics` in Prometheus' text format; nil where it is not served.
    let metrics: (@Sendable () -> [UInt8])?
    /// Only `/metrics` (a port of its own for it).
    let metricsOnly: Bool
}

/// Plain HTTP on the relay's port: the NIP-11 document, the status page and its `/stats`,
/// `/health`, `/metrics`, and NIP-86 management (a POST to `/` with `Content-Type:
/// application/nostr+json+rpc`).
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let relay: Relay
    private let routes: HTTPRoutes
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyTooLarge = false

    init(relay: Relay, routes: HTTPRoutes) {
        self.relay = relay
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
            bodyTooLarge = false
        case .body(var buffer):
            if body.count + buffer.readableBytes > ManagementService.maxBody {
                bodyTooLarge = true
            } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body.append(contentsOf: bytes)
            }
        case .end:
            if let head { respond(context: context, head: head) }
            head = nil
            body = []
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
        headers.add(name: "Access-Control-Allow-Headers", value: "Authorization, Content-Type, *")
        headers.add(name: "Access-Control-Allow-Methods", value: "GET, HEAD, POST, OPTIONS")
        let status: HTTPResponseStatus
        var body: [UInt8]
        if routes.metricsOnly && path != "/metrics" {
            headers.add(name: "Content-Type", value: "text/plain")
            return send(
                context: context, head: head, status: .notFound, headers: headers, body: Array("not found\n".utf8))
        }
        switch (head.method, path) {
        case (.GET, "/metrics") where routes.metrics != nil, (.HEAD, "/metrics") where routes.metrics != nil:
            status = .ok
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            body = routes.metrics?() ?? []
        case (.GET, "/stats"), (.HEAD, "/stats"):
            status = .ok
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Cache-Control", value: "no-store")
            body = routes.stats()
        case (.POST, "/")
        where head.headers[canonicalForm: "content-type"].contains {
            $0.lowercased().hasPrefix("application/nostr+json+rpc")
        }:
            if bodyTooLarge {
                return send(
                    context: context, head: head, status: .payloadTooLarge, headers: headers,
                    body: Array("request body over \(ManagementService.maxBody) bytes\n".utf8))
            }
            let request = HTTPAuth.Request(
                method: "POST", host: head.headers["host"].first, authorization: head.headers["authorization"].first,
                body: self.body)
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            let common = headers
            relay.management.handle(request) { response in
                loop.execute {
                    let (handler, context) = bound.value
                    var headers = common
                    headers.add(name: "Content-Type", value: "application/json")
                    handler.send(
                        context: context, head: head, status: HTTPResponseStatus(statusCode: response.status),
                        headers: headers, body: response.body)
                }
            }
            return
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
                let info = relay.currentInfo
                let address = !info.url.isEmpty ? info.url : Self.address(of: head) ?? "this server's address"
                body = Array(StatusPage.render(info: info, address: address, figures: routes.figures()).utf8)
            }
        case (.GET, "/health"), (.HEAD, "/health"):
            let ok = routes.healthy()
            status = ok ? .ok : .serviceUnavailable
            headers.add(name: "Content-Type", value: "text/plain")
            body = Array((ok ? "ok\n" : "unavailable\n").utf8)
        default:
            status = .notFound
            headers.add(name: "Content-Type", value: "text/plain")
            body = Array("not found\n".utf8)
        }
        send(context: context, head: head, status: status, headers: headers, body: body)
    }

    /// `ws://HOST` for the `Host` the request named (`wss://` behind a proxy that says the client
    /// came over TLS); nil without a usable `Host`.
    static func address(of head: HTTPRequestHead) -> String? {
        guard let host = head.headers["host"].first, !host.isEmpty,
            host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") })
        else { return nil }
        let tls = head.headers["x-forwarded-proto"].first?.lowercased() == "https"
        return (tls ? "wss://" : "ws://") + host
    }

    private func send(
        context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, headers: HTTPHeaders,
        body: [UInt8]
    ) {
        var headers = headers
        var body = body
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
