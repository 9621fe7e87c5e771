#if Postgres
    import Logging
    import NIOConcurrencyHelpers
    import NIOCore
    import NIOPosix
    import PostgresNIO

    /// One connection to the server, used from one thread at a time (the writer, a reader, the
    /// feed): each call blocks that thread (never an event loop) until the server answers or the
    /// call's timeout passes. A connection that failed or timed out is dropped; the next call
    /// connects again, so the store recovers by itself when the server comes back.
    final class PGConnection: @unchecked Sendable {
        let url: StoreURL
        let group: any EventLoopGroup
        let logger: Logger
        let name: String
        private var connection: PostgresConnection?
        private static let ids = NIOLockedValueBox(0)
        /// Connecting gives up after this long.
        static let connectTimeout: TimeAmount = .seconds(5)
        /// A statement gives up after this long (the server is also told, `statement_timeout`).
        static let statementTimeout: TimeAmount = .seconds(30)

        init(url: StoreURL, group: any EventLoopGroup, logger: Logger, name: String) {
            self.url = url
            self.group = group
            self.logger = logger
            self.name = name
        }

        var isConnected: Bool { connection.map { !$0.isClosed } ?? false }

        /// The server process serving this connection (0 while not connected): notifications
        /// name the process that sent them. Readable from any thread.
        var backendPID: Int32 { pid.withLockedValue { $0 } }
        private let pid = NIOLockedValueBox<Int32>(0)

        /// Runs `sql` with `binds`; returns its rows. Throws `PGFailure` on any failure.
        @discardableResult
        func query(_ sql: String, _ binds: PostgresBindings = PostgresBindings(), timeout: TimeAmount? = nil)
            throws(PGFailure) -> [PostgresRow]
        {
            let connection = try connected()
            let future = connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            do {
                return try Self.wait(future, timeout: timeout ?? Self.statementTimeout, on: connection.eventLoop).rows
            } catch let error as PSQLError {
                // A server's error leaves the connection usable; anything else (a closed socket,
                // a protocol error) does not.
                if error.code != .server { drop() }
                throw PGFailure(error)
            } catch {
                drop()
                throw PGFailure(error)
            }
        }

        /// Sends every statement at once and waits for all of them: the connection runs them in
        /// order without a wake-up of this thread between them. Returns each one's rows.
        @discardableResult
        func queries(_ statements: [(String, PostgresBindings)]) throws(PGFailure) -> [[PostgresRow]] {
            guard statements.count > 1 else {
                return try statements.map { (sql, binds) throws(PGFailure) in try query(sql, binds) }
            }
            let connection = try connected()
            let futures = statements.map { sql, binds in
                connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            }
            var results: [[PostgresRow]] = []
            var failure: (any Error)?
            for future in futures {
                do {
                    results.append(try Self.wait(future, timeout: Self.statementTimeout, on: connection.eventLoop).rows)
                } catch {
                    if failure == nil { failure = error }
                }
            }
            guard let failure else { return results }
            if let error = failure as? PSQLError, error.code == .server {
                throw PGFailure(error)
            }
            drop()
            throw PGFailure(failure)
        }

        /// The statement's rows, with the connection in a transaction: `BEGIN`, `body`, `COMMIT`
        /// (`ROLLBACK` when `body` throws).
        func transaction<R>(_ body: () throws -> R) throws(PGFailure) -> R {
            try query("BEGIN")
            do {
                let result = try body()
                try query("COMMIT")
                return result
            } catch {
                if isConnected { _ = try? query("ROLLBACK") }
                throw PGFailure(error)
            }
        }

        func close() {
            guard let connection else { return }
            self.connection = nil
            pid.withLockedValue { $0 = 0 }
            _ = try? connection.close().wait()
        }

        /// Drops the connection without a goodbye (its state is unknown).
        func drop() {
            guard let connection else { return }
            self.connection = nil
            pid.withLockedValue { $0 = 0 }
            connection.close().whenComplete { _ in _ = connection }
        }

        private func connected() throws(PGFailure) -> PostgresConnection {
            if let connection, !connection.isClosed { return connection }
            connection = nil
            var configuration = PostgresConnection.Configuration(
                host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
                tls: .disable)
            configuration.options.connectTimeout = Self.connectTimeout
            configuration.options.additionalStartupParameters = [
                ("search_path", url.schema), ("statement_timeout", "\(Self.statementTimeout.nanoseconds / 1_000_000)"),
                ("application_name", "tern \(name)"),
            ]
            let id = Self.ids.withLockedValue {
                $0 += 1
                return $0
            }
            let eventLoop = group.next()
            do {
                let connection = try Self.wait(
                    PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger),
                    timeout: Self.connectTimeout + .seconds(1), on: eventLoop)
                self.connection = connection
                let rows = try Self.wait(
                    connection.query("SELECT pg_backend_pid()", logger: logger), timeout: Self.statementTimeout,
                    on: eventLoop
                ).rows
                let backend = try rows.first?.decode(Int32.self) ?? 0
                pid.withLockedValue { $0 = backend }
                return connection
            } catch {
                drop()
                throw PGFailure(error)
            }
        }

        /// Waits for `future` at most `timeout` (a blocked server must not block a thread for ever).
        static func wait<T: Sendable>(_ future: EventLoopFuture<T>, timeout: TimeAmount, on eventLoop: any EventLoop)
            throws -> T
        {
            let promise = eventLoop.makePromise(of: T.self)
            future.cascade(to: promise)
            let timer = eventLoop.scheduleTask(in: timeout) { promise.fail(PGTimeout()) }
            defer { timer.cancel() }
            return try promise.futureResult.wait()
        }
    }

    struct PGTimeout: Error, CustomStringConvertible {
        var description: String { "the database did not answer in time" }
    }

    /// A failed call to the database, said in one line (server errors with their SQLSTATE).
    public struct PGFailure: Error, CustomStringConvertible {
        public let description: String
        /// The server's SQLSTATE, when the server answered with an error.
        public let sqlState: String?

        init(_ error: any Error) {
            if let error = error as? PSQLError {
                sqlState = error.serverInfo?[.sqlState]
                if let message = error.serverInfo?[.message] {
                    description = "\(message) (\(sqlState ?? "?"))"
                } else if let underlying = error.underlying {
                    description = "\(error.code): \(underlying)"
                } else {
                    description = "\(error.code)"
                }
            } else if let error = error as? PGFailure {
                self = error
                return
            } else {
                sqlState = nil
                description = "\(error)"
            }
        }

        init(message: String) {
            sqlState = nil
            description = message
        }

        /// A lost race the transaction can be retried after: a deadlock, a serialization failure,
        /// a unique constraint another node's write just met.
        var isRetryable: Bool { ["40P01", "40001", "23505"].contains(sqlState ?? "") }
    }
#endif
