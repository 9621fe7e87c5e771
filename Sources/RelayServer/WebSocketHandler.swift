import Logging
import NIOCore
import NIOWebSocket
import NostrCore
import RelayCore

/// Frame I/O for one WebSocket connection: text frames go to the session in order; pings,
/// pongs and close frames are answered here; silence is met with a ping, and a peer that neither
/// answers nor speaks is disconnected.
final class WebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let relay: Relay
    private let connectionID: UInt64
    private let registry: ConnectionRegistry
    private let ledger: OutboundLedger
    private var transport: ChannelTransport?
    private var session: RelaySession?
    private var awaitingPong = false
    private var lastMessageAt: Int64 = 0

    /// The client's IP address (the proxy's client's, behind a trusted proxy).
    private let address: String

    /// Compresses what this connection sends, when it agreed permessage-deflate.
    private let deflater: MessageDeflater?

    init(
        relay: Relay, connectionID: UInt64, registry: ConnectionRegistry, ledger: OutboundLedger, address: String,
        deflater: MessageDeflater? = nil
    ) {
        self.deflater = deflater
        self.address = address
        self.relay = relay
        self.connectionID = connectionID
        self.registry = registry
        self.ledger = ledger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Whole frames are written and flushed from the handler nearest the socket (the idle
        // timer's, which only watches reads), past every handler that would just pass them on.
        let sync = context.pipeline.syncOperations
        let sink =
            (try? sync.context(handlerType: IdleStateHandler.self))
            ?? (try? sync.context(handlerType: WebSocketFrameEncoder.self))
        let transport = ChannelTransport(
            channel: context.channel, budget: relay.limits.outboundBudget, ledger: ledger, frameSink: sink,
            metrics: relay.metrics, deflater: deflater)
        let refusal: String
        var code = 1013
        switch relay.authorization.snapshot.isBlocked(address)
            ? .blocked : registry.admit(connectionID, transport, address: address)
        {
        case .admitted:
            let session = RelaySession(id: connectionID, relay: relay, transport: transport, address: address)
            self.transport = transport
            self.session = session
            lastMessageAt = relay.clock()
            session.start()
            return
        case .tooManyFromAddress(let max):
            refusal = "rate-limited: too many connections from your address (max \(max))"
        case .tooMany(let max):
            refusal = "rate-limited: the relay is at its connection limit (\(max)), try again later"
        case .blocked:
            refusal = "blocked: your address is blocked by this relay"
            code = 1008  // policy violation
        }
        // Refused: say why, then close with 1013 (try again later) or 1008 (blocked).
        transport.send(RelayMessage.notice(refusal))
        transport.close(code: .unknown(UInt16(code)), reason: code == 1013 ? "too many connections" : "blocked")
        transport.release()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { finish() }

    private func finish() {
        session?.close()
        session = nil
        transport?.release()
        registry.remove(connectionID)
    }

    /// The client took some of its backlog: report the smaller backlog to the ledger.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        transport?.refresh()
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        awaitingPong = false
        guard let transport, let session, transport.lifecycle == .open else { return }
        transport.beginBatch()
        switch frame.opcode {
        case .text:
            lastMessageAt = relay.clock()
            frame.unmaskedData.withUnsafeReadableBytes { raw in
                session.receive(raw.bindMemory(to: UInt8.self))
            }
        case .binary:
            lastMessageAt = relay.clock()
            session.notice("invalid: binary messages are not supported; send JSON text")
        case .ping:
            var data = frame.unmaskedData
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: data.readSlice(length: data.readableBytes)!)
            context.write(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode() ?? .normalClosure
            transport.close(code: code == .unknown(1005) ? .normalClosure : code, reason: "")
        default:
            break
        }
        transport.endBatch()
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent, let transport else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        session?.tick()  // negentropy sessions past their idle timeout end
        if awaitingPong {
            relay.logger.debug("no pong, closing", metadata: ["connection": "\(connectionID)"])
            transport.close(code: .goingAway, reason: "ping timeout")
        } else if relay.clock() - lastMessageAt >= relay.limits.idleTimeout {
            transport.close(code: .goingAway, reason: "idle timeout")
        } else {
            awaitingPong = true
            let ping = WebSocketFrame(fin: true, opcode: .ping, data: context.channel.allocator.buffer(capacity: 0))
            context.writeAndFlush(wrapOutboundOut(ping), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let transport else {
            context.close(promise: nil)
            return
        }
        switch error {
        case NIOWebSocketError.invalidFrameLength, NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge:
            session?.notice("invalid: message larger than \(relay.limits.maxMessageLength) bytes")
            transport.close(code: .messageTooLarge, reason: "message too large")
        case is NIOWebSocketError, is NIOWebSocketFrameAggregator.Error:
            transport.close(code: .protocolError, reason: "WebSocket protocol error")
        default:
            relay.logger.debug("connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }
}
