import CompressNIO
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import NostrCore
import XCTest

/// What a test client receives.
enum Received: Equatable {
    case text(String)
    case binary
    case ping
    case pong
    case close(UInt16?)
    case disconnected
}

struct TimedOut: Error {}

/// A WebSocket client for end-to-end tests: masked frames out, a mailbox of frames in, and
/// `next()` that waits for the next frame (with a deadline, so a broken relay fails the test
/// instead of hanging it).
final class TestClient: @unchecked Sendable {
    let channel: Channel
    private let mailbox: Mailbox

    private init(channel: Channel, mailbox: Mailbox) {
        self.channel = channel
        self.mailbox = mailbox
    }

    /// `receiveBuffer` fixes SO_RCVBUF (turning off the kernel's autotuning), for clients that
    /// are meant to stop reading.
    /// `extensions`: a `Sec-WebSocket-Extensions` offer (permessage-deflate); what the relay
    /// agreed is in `agreedExtensions`, and compressed messages are inflated as they come.
    static func connect(
        port: Int, group: EventLoopGroup, path: String = "/", maxFrameSize: Int = 1 << 24, receiveBuffer: Int? = nil,
        extensions: String? = nil
    ) async throws -> TestClient {
        let mailbox = Mailbox()
        let upgraded = group.next().makePromise(of: Void.self)
        var bootstrap = ClientBootstrap(group: group)
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(
                ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        bootstrap =
            bootstrap
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(
                    maxFrameSize: maxFrameSize, automaticErrorHandling: false,
                    upgradePipelineHandler: { channel, response in
                        if let agreed = response.headers["sec-websocket-extensions"].first {
                            mailbox.agreedExtensions = agreed
                            mailbox.inflater = try? ZlibDecompressor(algorithm: .deflate, windowSize: 15)
                            mailbox.resetEachMessage = agreed.contains("server_no_context_takeover")
                        }
                        return channel.eventLoop.makeCompletedFuture {
                            let sync = channel.pipeline.syncOperations
                            sync.removeHandler(try sync.handler(type: UpgradeRequester.self), promise: nil)
                            try sync.addHandler(Collector(mailbox: mailbox))
                            upgraded.succeed()
                        }
                    })
                return channel.pipeline.addHTTPClientHandlers(
                    leftOverBytesStrategy: .forwardBytes,
                    withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in })
                ).flatMap {
                    channel.pipeline.addHandler(UpgradeRequester(path: path, failed: upgraded, extensions: extensions))
                }
            }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        mailbox.loop = channel.eventLoop
        try await upgraded.futureResult.get()
        return TestClient(channel: channel, mailbox: mailbox)
    }

    func send(_ text: String) {
        sendFrame(.text, Array(text.utf8))
    }

    /// Records every text message this client receives in `log`, tagged with `name`, as it
    /// arrives. Clients on one event loop (`TestRelay.clientGroup` has one) record in the order
    /// their messages arrived, across connections.
    func record(into log: ArrivalLog, as name: String) async throws {
        try await channel.eventLoop.submit { self.mailbox.onText = { log.append(name, $0) } }.get()
    }

    func sendFrame(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, rsv1: Bool = false) {
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let frame = WebSocketFrame(fin: fin, rsv1: rsv1, opcode: opcode, maskKey: .random(), data: buffer)
        channel.writeAndFlush(frame, promise: nil)
    }

    /// `text` deflated as permessage-deflate sends it (raw deflate, sync flush, tail left off), in
    /// a frame with RSV1; `fragments` > 1 splits it over continuation frames.
    func sendCompressed(_ text: String, fragments: Int = 1) throws {
        let bytes = try Self.deflate(Array(text.utf8))
        let size = max(1, (bytes.count + fragments - 1) / fragments)
        var offset = 0
        var first = true
        while offset < bytes.count {
            let end = min(bytes.count, offset + size)
            sendFrame(first ? .text : .continuation, Array(bytes[offset..<end]), fin: end == bytes.count, rsv1: first)
            first = false
            offset = end
        }
    }

    static func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
        let compressor = try ZlibCompressor(algorithm: .deflate)
        var input = ByteBuffer(bytes: bytes)
        var output = ByteBuffer()
        output.reserveCapacity(compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        return Array(output.readableBytesView.dropLast(4))
    }

    /// What the relay agreed to (its `Sec-WebSocket-Extensions`), and the compressed and wire
    /// bytes of what it sent.
    var agreedExtensions: String? { mailbox.agreedExtensions }
    var received: (frames: Int, compressedFrames: Int, payloadBytes: Int, inflatedBytes: Int) {
        get async throws {
            try await channel.eventLoop.submit {
                (
                    self.mailbox.frames, self.mailbox.compressedFrames, self.mailbox.payloadBytes,
                    self.mailbox.inflatedBytes
                )
            }.get()
        }
    }

    /// The next frame, or TimedOut after `seconds`.
    func next(seconds: Int64 = 10) async throws -> Received {
        let promise = channel.eventLoop.makePromise(of: Received.self)
        channel.eventLoop.execute { self.mailbox.take(promise, timeout: .seconds(seconds)) }
        return try await promise.futureResult.get()
    }

    /// The next text message, parsed as a JSON array. A ping that comes first is answered, as
    /// any client does (a slow answer, under a sanitizer, can take longer than the relay's ping
    /// interval); tests of pings read them with `next`.
    func nextMessage(seconds: Int64 = 10, file: StaticString = #filePath, line: UInt = #line) async throws -> [Any] {
        var received = try await next(seconds: seconds)
        while case .ping = received {
            sendFrame(.pong, [])
            received = try await next(seconds: seconds)
        }
        guard case .text(let text) = received else {
            XCTFail("expected a text message, got \(received)", file: file, line: line)
            throw TimedOut()
        }
        return try XCTUnwrap(JSON.parse(text) as? [Any], "not a JSON array: \(text)", file: file, line: line)
    }

    /// Messages until (and including) the first whose verb is `verb`.
    func messages(until verb: String, seconds: Int64 = 10) async throws -> [[Any]] {
        var out: [[Any]] = []
        while true {
            let m = try await nextMessage(seconds: seconds)
            out.append(m)
            if m.first as? String == verb { return out }
        }
    }

    /// True when nothing arrives within `seconds` (used only to check that something is NOT sent).
    func receivesNothing(seconds: Int64 = 1) async throws -> Bool {
        do {
            let unexpected = try await next(seconds: seconds)
            print("unexpectedly received: \(unexpected)")
            return false
        } catch is TimedOut {
            return true
        }
    }

    func close() {
        channel.close(promise: nil)
    }

    /// Publishes `event` and returns its OK answer (accepted, message), checking that the answer
    /// is an OK for this event.
    func publish(_ event: Event, file: StaticString = #filePath, line: UInt = #line) async throws -> (Bool, String) {
        send(event.message)
        let m = try await nextMessage(file: file, line: line)
        XCTAssertEqual(m.first as? String, "OK", file: file, line: line)
        XCTAssertEqual(m.count > 1 ? m[1] as? String : nil, event.id.hex, file: file, line: line)
        guard m.count == 4, let accepted = m[2] as? Bool, let message = m[3] as? String else {
            XCTFail("not an OK answer: \(m)", file: file, line: line)
            return (false, "")
        }
        return (accepted, message)
    }

    /// The reason text of the close frame the relay sent, if any.
    func closeReason() async throws -> String? {
        try await channel.eventLoop.submit { self.mailbox.closeReason }.get()
    }

    /// Received frames, confined to the channel's event loop.
    final class Mailbox: @unchecked Sendable {
        var loop: EventLoop?
        var closeReason: String?
        var onText: ((String) -> Void)?
        var agreedExtensions: String?
        var inflater: ZlibDecompressor?
        var resetEachMessage = true
        var frames = 0
        var compressedFrames = 0
        var payloadBytes = 0
        var inflatedBytes = 0
        private var buffered: [Received] = []
        private var waiter: (EventLoopPromise<Received>, Scheduled<Void>)?

        func push(_ r: Received) {
            if let (promise, timer) = waiter {
                waiter = nil
                timer.cancel()
                promise.succeed(r)
            } else {
                buffered.append(r)
            }
        }

        func take(_ promise: EventLoopPromise<Received>, timeout: TimeAmount) {
            if !buffered.isEmpty {
                promise.succeed(buffered.removeFirst())
                return
            }
            let timer = loop!.scheduleTask(in: timeout) {
                self.waiter = nil
                promise.fail(TimedOut())
            }
            waiter = (promise, timer)
        }
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        let mailbox: Mailbox
        init(mailbox: Mailbox) { self.mailbox = mailbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            var data = frame.unmaskedData
            mailbox.frames += 1
            mailbox.payloadBytes += data.readableBytes
            if frame.rsv1 {
                // permessage-deflate: the relay sends each message in one frame.
                mailbox.compressedFrames += 1
                guard let inflater = mailbox.inflater, frame.fin else { return mailbox.push(.binary) }
                data.writeBytes([0x00, 0x00, 0xFF, 0xFF])
                var out = ByteBuffer()
                out.reserveCapacity(1 << 24)
                do {
                    if mailbox.resetEachMessage { try inflater.reset() }
                    try inflater.inflate(from: &data, to: &out)
                } catch {
                    return mailbox.push(.binary)  // not what the test expects: fails it
                }
                mailbox.inflatedBytes += out.readableBytes
                data = out
            }
            switch frame.opcode {
            case .text:
                let text = data.readString(length: data.readableBytes) ?? ""
                mailbox.onText?(text)
                mailbox.push(.text(text))
            case .binary: mailbox.push(.binary)
            case .ping: mailbox.push(.ping)
            case .pong: mailbox.push(.pong)
            case .connectionClose:
                let code = data.readInteger(as: UInt16.self)
                mailbox.closeReason = data.readString(length: data.readableBytes)
                mailbox.push(.close(code))
            default: break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            mailbox.push(.disconnected)
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            context.close(promise: nil)
        }
    }

    /// Sends the HTTP request that the upgrader turns into a WebSocket handshake.
    final class UpgradeRequester: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        let path: String
        let failed: EventLoopPromise<Void>
        let extensions: String?
        init(path: String, failed: EventLoopPromise<Void>, extensions: String? = nil) {
            self.path = path
            self.failed = failed
            self.extensions = extensions
        }

        func channelActive(context: ChannelHandlerContext) {
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: "127.0.0.1")
            if let extensions { headers.add(name: "Sec-WebSocket-Extensions", value: extensions) }
            headers.add(name: "Content-Length", value: "0")
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            // A plain HTTP response means the upgrade was refused.
            if case .head(let head) = unwrapInboundIn(data) {
                failed.fail(UpgradeRefused(status: head.status.code))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            failed.fail(error)
            context.close(promise: nil)
        }
    }

    struct UpgradeRefused: Error { let status: UInt }
}

/// Text messages of several clients in the order they arrived: (client name, message).
final class ArrivalLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(String, String)] = []
    func append(_ name: String, _ text: String) { lock.withLock { entries.append((name, text)) } }
    var all: [(String, String)] { lock.withLock { entries } }
    /// The position of the first message of `name` that starts with `prefix`.
    func first(_ name: String, _ prefix: String) -> Int? {
        first { $0.0 == name && $0.1.hasPrefix(prefix) }
    }

    func first(where match: ((String, String)) -> Bool) -> Int? { all.firstIndex(where: match) }
}

enum JSON {
    static func parse(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }
}
