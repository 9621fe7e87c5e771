import CompressNIO
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Compresses one connection's outgoing messages (permessage-deflate), on its event loop: the
/// payload deflated with a sync flush, the flush's empty block (`00 00 ff ff`) left off, as
/// RFC 7692 §7.2.1 says. Loop-confined.
final class MessageDeflater {
    private let compressor: ZlibCompressor
    /// No context takeover: the compressor (shared by the loop's connections) starts afresh for
    /// each message.
    private let resetEachMessage: Bool
    let minimumSize: Int

    init(compressor: ZlibCompressor, resetEachMessage: Bool, minimumSize: Int) {
        self.compressor = compressor
        self.resetEachMessage = resetEachMessage
        self.minimumSize = minimumSize
    }

    /// The payload compressed into a new buffer with `headroom` bytes before it. Throws when zlib
    /// fails: with context takeover the connection cannot go on (the client's window would
    /// no longer match).
    func compress(_ payload: inout ByteBuffer, headroom: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        if resetEachMessage { try compressor.reset() }
        var out = allocator.buffer(capacity: headroom + compressor.maxSize(from: payload))
        out.moveWriterIndex(forwardBy: headroom)
        out.moveReaderIndex(forwardBy: headroom)
        try compressor.deflate(from: &payload, to: &out, flush: .sync)
        guard out.readableBytes >= 4, out.getInteger(at: out.writerIndex - 4, as: UInt32.self) == 0x0000_FFFF else {
            throw CompressNIOError.internalError
        }
        out.moveWriterIndex(to: out.writerIndex - 4)
        return out
    }
}

/// The compressors and inflaters of each event loop, shared by its connections when no context
/// is kept between messages, and the count of compressed connections against the limit.
final class CompressionPool: Sendable {
    let settings: CompressionSettings
    private let shared = NIOLockedValueBox<[ObjectIdentifier: LoopState]>([:])
    private let open = Atomic<Int>(0)

    /// A loop's zlib streams; used on that loop only.
    final class LoopState: @unchecked Sendable {
        var compressors: [Int: ZlibCompressor] = [:]
        var inflater: ZlibDecompressor?
    }

    init(settings: CompressionSettings) {
        self.settings = settings
    }

    var compressedConnections: Int { open.load(ordering: .relaxed) }

    /// Takes one of the compressed connections' places; false when all are taken.
    func admit() -> Bool {
        while true {
            let now = open.load(ordering: .relaxed)
            guard now < settings.maxConnections else { return false }
            if open.compareExchange(expected: now, desired: now + 1, ordering: .relaxed).exchanged { return true }
        }
    }

    func release() { open.subtract(1, ordering: .relaxed) }

    private func state(for loop: EventLoop) -> LoopState {
        shared.withLockedValue { states in
            if let state = states[ObjectIdentifier(loop)] { return state }
            let state = LoopState()
            states[ObjectIdentifier(loop)] = state
            return state
        }
    }

    private func makeCompressor(windowBits: Int) throws -> ZlibCompressor {
        try ZlibCompressor(
            algorithm: .deflate,
            configuration: ZlibConfiguration(
                windowSize: Int32(windowBits), compressionLevel: Int32(settings.level),
                memoryLevel: Int32(settings.memoryLevel)))
    }

    /// The deflater of a connection on `loop` with `parameters`. Call on `loop`.
    func deflater(for parameters: DeflateParameters, on loop: EventLoop) throws -> MessageDeflater {
        if parameters.serverContextTakeover {
            return MessageDeflater(
                compressor: try makeCompressor(windowBits: parameters.serverWindowBits), resetEachMessage: false,
                minimumSize: settings.minimumSize)
        }
        let state = state(for: loop)
        let compressor: ZlibCompressor
        if let known = state.compressors[parameters.serverWindowBits] {
            compressor = known
        } else {
            compressor = try makeCompressor(windowBits: parameters.serverWindowBits)
            state.compressors[parameters.serverWindowBits] = compressor
        }
        return MessageDeflater(compressor: compressor, resetEachMessage: true, minimumSize: settings.minimumSize)
    }

    /// The loop's inflater (clients keep no context between messages). Call on `loop`.
    func inflater(on loop: EventLoop) throws -> ZlibDecompressor {
        let state = state(for: loop)
        if let inflater = state.inflater { return inflater }
        let inflater = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
        state.inflater = inflater
        return inflater
    }
}
