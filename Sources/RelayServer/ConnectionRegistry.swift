import NIOCore
import Synchronization

/// The open WebSocket connections, so that shutdown can pause and close each one.
final class ConnectionRegistry: Sendable {
    private let connections = Mutex<[UInt64: ChannelTransport]>([:])

    func add(_ id: UInt64, _ transport: ChannelTransport) {
        connections.withLock { $0[id] = transport }
    }

    func remove(_ id: UInt64) {
        _ = connections.withLock { $0.removeValue(forKey: id) }
    }

    var count: Int { connections.withLock { $0.count } }

    var all: [ChannelTransport] { connections.withLock { Array($0.values) } }
}
