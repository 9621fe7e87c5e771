import Dispatch
import NostrCore

#if canImport(Glibc)
    import Glibc
#endif

/// A JSONL file of the benchmark's signed events (`tern bench corpus`), for `tern import`'s
/// measurements and tests: the same mix of kinds, tags and content the relay benchmarks publish.
public enum Corpus {
    /// Writes `count` events, oldest first, to `fd`; signed on all cores, 16,384 at a time.
    public static func write(count: Int, authors: Int, seed: UInt64, now: Int64, to fd: Int32) throws {
        let factory = EventFactory(authors: authors, seed: seed, runTag: "corpus\(seed)")
        let chunk = 16_384
        var start = 0
        while start < count {
            let n = min(chunk, count - start)
            let results = UnsafeMutableBufferPointer<[UInt8]>.allocate(capacity: n)
            results.initialize(repeating: [])
            let out = SendableBuffer(results)
            let first = start
            DispatchQueue.concurrentPerform(iterations: (n + 255) / 256) { c in
                for i in (c * 256)..<min(n, (c + 1) * 256) {
                    let prepared = factory.make(index: first + i, createdAt: now - Int64(count - first - i))
                    // The message is ["EVENT",{...}]: keep the object.
                    out.buffer[i] = Array(prepared.message[9..<(prepared.message.count - 1)]) + [0x0A]
                }
            }
            var bytes: [UInt8] = []
            for line in results { bytes += line }
            results.deinitialize()
            results.deallocate()
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw CorpusError(reason: String(cString: strerror(errno)))
                }
                offset += written
            }
            start += n
        }
    }
}

public struct CorpusError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "cannot write the corpus: \(reason)" }
}
