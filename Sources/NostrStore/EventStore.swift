import CLMDB
import Logging
import NostrCore

/// The embedded event store on LMDB. Reads run in short read-only transactions on the caller's
/// thread; all writes go through `EventWriter`, which owns the single write transaction.
public final class EventStore: @unchecked Sendable {
    let env: LMDBEnvironment
    let dbs: Databases
    public let options: StoreOptions
    let logger: Logger

    /// Opens (creating if needed) the store in directory `path`.
    public init(path: String, options: StoreOptions = StoreOptions(), logger: Logger) throws {
        self.options = options
        self.logger = logger
        try Self.makeDirectory(path)
        env = try LMDBEnvironment(
            path: path, mapSize: options.mapSize, maxDatabases: Databases.count, maxReaders: options.maxReaders)
        do {
            let txn = try env.begin(readOnly: false)
            do {
                dbs = try Databases(txn)
                try txn.commit()
            } catch {
                txn.abort()
                throw error
            }
        } catch {
            env.close()
            throw error
        }
    }

    private static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw StoreError.cannotCreateDirectory(path, errno)
        }
    }

    public func close() { env.close() }

    /// Runs `body` inside a read transaction.
    func read<R>(_ body: (LMDBTransaction) throws -> R) throws -> R {
        let txn = try env.begin(readOnly: true)
        defer { txn.abort() }
        return try body(txn)
    }

    public var count: Int {
        (try? read { try $0.count(dbs.events) }) ?? 0
    }

    /// The event with `id`, if stored.
    public func event(id: Bytes32) throws -> StoredEvent? {
        try read { txn in try load(txn, id: id) }
    }

    func load(_ txn: LMDBTransaction, id: Bytes32) throws -> StoredEvent? {
        let key = IndexKeys.id(id)
        return try key.withUnsafeBytes { (k) throws -> StoredEvent? in
            try txn.get(dbs.events, k) { v -> StoredEvent? in
                let bytes = v.bindMemory(to: UInt8.self)
                guard let event = Event.decode(json: bytes) else { return nil }
                return StoredEvent(event: event, json: Array(bytes))
            } ?? nil
        }
    }
}

public enum StoreError: Error, CustomStringConvertible {
    case cannotCreateDirectory(String, Int32)

    public var description: String {
        switch self {
        case .cannotCreateDirectory(let path, let code):
            "cannot create data directory \(path): \(String(cString: strerror(code)))"
        }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
