import NostrCore
import NostrStore

/// The stored events a tool's filter selects, newest first (or oldest first), from one snapshot:
/// every condition of the filter, its `limit` if it has one, and a walk that ends once `since`
/// (newest first) or `until` (oldest first) is passed. `body` gets each event's JSON.
func walk(
    _ store: EventStore, _ filter: Filter, oldestFirst: Bool = false,
    _ body: (UnsafeBufferPointer<UInt8>) throws -> Void
) throws -> Int {
    var matched = 0
    let limit = filter.limit ?? Int.max
    guard limit > 0, !filter.matchesNothing else { return 0 }
    try store.forEachEvent(oldestFirst: oldestFirst) { json in
        guard let (head, matches) = filter.matches(storedJSON: json) else { return true }
        if !oldestFirst, let since = filter.since, head.createdAt < since { return false }
        if oldestFirst, let until = filter.until, head.createdAt > until { return false }
        guard matches else { return true }
        try body(json)
        matched += 1
        return matched < limit
    }
    return matched
}

/// Buffered writes to a file descriptor (standard output or a file), flushed at 1 MiB.
final class OutputFile {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 20)
    }

    func write(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 20 { try flush() }
    }

    func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ToolError("write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
