#if Postgres
    import Dispatch
    import NIOConcurrencyHelpers

    /// A fixed number of connections for the readers' threads: a thread takes one, uses it and
    /// gives it back; with none free it waits (bounded), then fails.
    final class PGPool: @unchecked Sendable {
        private let free: NIOLockedValueBox<[PGConnection]>
        private let all: [PGConnection]
        private let available: DispatchSemaphore
        static let waitSeconds = 30.0

        init(size: Int, make: () -> PGConnection) {
            all = (0..<size).map { _ in make() }
            free = NIOLockedValueBox(all)
            available = DispatchSemaphore(value: size)
        }

        func with<R>(_ body: (PGConnection) throws -> R) throws -> R {
            guard available.wait(timeout: .now() + Self.waitSeconds) == .success else {
                throw PGFailure(message: "no database connection came free in \(Int(Self.waitSeconds)) s")
            }
            let connection = free.withLockedValue { $0.removeLast() }
            defer {
                free.withLockedValue { $0.append(connection) }
                available.signal()
            }
            return try body(connection)
        }

        func close() {
            for connection in all { connection.close() }
        }
    }
#endif
