import EventStorage
import Logging
import NostrStore

#if Postgres
    import PostgresStore
#endif

extension Serve {
    /// The store the configuration names: PostgreSQL for a `store.url`, else LMDB in the data
    /// directory.
    static func openStore(_ configuration: Configuration, logger: Logger) throws -> any EventStorage {
        guard !configuration.storeURL.isEmpty else {
            // With `store.log = false`, what a log left behind (written with the log on, then a
            // crash) goes into LMDB first: an acknowledged event is never left out.
            let open = configuration.logWrites ? EventStore.init : EventStore.openCaughtUp
            return try open(configuration.dataDirectory, configuration.storeOptions, logger)
        }
        #if Postgres
            return try PostgresStore(
                url: StoreURL(configuration.storeURL), maxScanPerFilter: configuration.maxScanPerFilter, logger: logger)
        #else
            throw ToolError(
                "this tern was built without PostgreSQL support; build it with "
                    + "`swift build -c release --traits Postgres` (see the README)")
        #endif
    }
}

extension Configuration {
    /// On PostgreSQL a reader waits on the database, not the CPU: at least one reader thread per
    /// pooled connection, so that every connection can be busy.
    mutating func fitReadersToStore() {
        #if Postgres
            if !storeURL.isEmpty, let url = try? StoreURL(storeURL) {
                limits.readerThreads = max(limits.readerThreads, url.readConnections)
            }
        #endif
    }

    /// Where the events are, for the log (a URL without its password).
    var storeName: String {
        guard !storeURL.isEmpty else { return dataDirectory }
        #if Postgres
            return (try? StoreURL(storeURL).description) ?? "postgres://…"
        #else
            return "postgres://…"
        #endif
    }
}
