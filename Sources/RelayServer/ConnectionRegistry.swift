import NIOConcurrencyHelpers
import NIOCore

/// The open WebSocket connections, so that shutdown can pause and close each one, and the
/// per-address and global connection limits can be enforced.
final class ConnectionRegistry: Sendable {
    enum Admission: Equatable {
        case admitted
        case tooManyFromAddress(Int)
        case tooMany(Int)
        /// The address is blocked (NIP-86 `blockip`).
        case blocked
    }

    private struct State {
        var connections: [UInt64: (ChannelTransport, String)] = [:]
        var perAddress: [String: Int] = [:]
        var emptyWaiters: [EventLoopPromise<Void>] = []
    }

    private let state = NIOLockedValueBox(State())
    let maxConnections: Int
    let maxConnectionsPerAddress: Int

    init(maxConnections: Int, maxConnectionsPerAddress: Int) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
    }

    /// Registers a connection from `address` unless a limit is reached.
    func admit(_ id: UInt64, _ transport: ChannelTransport, address: String) -> Admission {
        state.withLockedValue { s in
            if s.connections.count >= maxConnections { return .tooMany(maxConnections) }
            let fromAddress = s.perAddress[address, default: 0]
            if fromAddress >= maxConnectionsPerAddress { return .tooManyFromAddress(maxConnectionsPerAddress) }
            s.connections[id] = (transport, address)
            s.perAddress[address] = fromAddress + 1
            return .admitted
        }
    }

    func remove(_ id: UInt64) {
        let waiters = state.withLockedValue { s -> [EventLoopPromise<Void>] in
            guard let (_, address) = s.connections.removeValue(forKey: id) else { return [] }
            let left = s.perAddress[address, default: 1] - 1
            s.perAddress[address] = left > 0 ? left : nil
            guard s.connections.isEmpty else { return [] }
            defer { s.emptyWaiters = [] }
            return s.emptyWaiters
        }
        for waiter in waiters { waiter.succeed() }
    }

    /// Succeeds `promise` once no connection is registered: now, or when the last one goes.
    func whenEmpty(_ promise: EventLoopPromise<Void>) {
        let empty = state.withLockedValue { s -> Bool in
            if s.connections.isEmpty { return true }
            s.emptyWaiters.append(promise)
            return false
        }
        if empty { promise.succeed() }
    }

    var count: Int { state.withLockedValue { $0.connections.count } }

    var all: [ChannelTransport] { state.withLockedValue { $0.connections.values.map(\.0) } }
}
